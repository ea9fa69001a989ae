"""The tiny test models: a thin re-export of :mod:`summarize.devtools.tinymodels`.

``python -m tests.tiny_models DIR`` still builds them (as
``python -m summarize.devtools.tinymodels``).
"""

from __future__ import annotations

from summarize.devtools.tinymodels import (  # noqa: F401
    SENTENCES,
    SIZES,
    build_bart,
    build_marian,
    build_sized_bart,
    build_sized_marian,
    main,
)

if __name__ == "__main__":
    main()
