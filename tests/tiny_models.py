"""The tiny test models: a thin re-export of :mod:`summarize.devtools.tinymodels` (seq2seq)
and :mod:`summarize.devtools.tinychat` (chat models).

``python -m tests.tiny_models DIR`` still builds them (as
``python -m summarize.devtools.tinymodels``).
"""

from __future__ import annotations

from summarize.devtools.tinychat import (  # noqa: F401
    CHAT_ARCHS,
    FAMILIES,
    OWN_TEMPLATES,
    build_chat_model,
)
from summarize.devtools.tinymodels import (  # noqa: F401
    KINDS,
    MULTILINGUAL_LANGUAGES,
    MULTILINGUAL_SENTENCES,
    SENTENCES,
    SIZES,
    build_bart,
    build_kind,
    build_m2m,
    build_marian,
    build_sized_bart,
    build_sized_marian,
    main,
)

if __name__ == "__main__":
    main()
