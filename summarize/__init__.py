"""summarize: summaries and translations of a folder of news articles with Hugging Face models.

Python API: a folder into an output folder, or texts in memory::

    from summarize import RunConfig, run_batch
    result = run_batch(RunConfig(inputs=("inputs",), out_dir="outputs", targets=("ko",)))
    print(result.n_ok, result.stats.articles_per_s)

    import summarize
    models = summarize.load(to="ko")
    print(models.summarize(["The council met on Monday. ..."])[0].text)
"""

from __future__ import annotations

from summarize._version import __version__
from summarize.errors import ModelLoadError, SummarizeError, UsageError  # noqa: E402
from summarize.settings import RayConfig, RoleConfig, RunConfig  # noqa: E402


def load(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Load the models once for in-memory use; see :func:`summarize.api.load`."""
    from summarize.api import load as _load

    return _load(*args, **kwargs)


def run_batch(config: RunConfig, **kwargs):  # type: ignore[no-untyped-def]
    """Run the main job; see :func:`summarize.run.pipeline.run_batch`."""
    from summarize.run.pipeline import run_batch as _run_batch

    return _run_batch(config, **kwargs)


__all__ = [
    "ModelLoadError",
    "RayConfig",
    "RoleConfig",
    "RunConfig",
    "SummarizeError",
    "UsageError",
    "__version__",
    "load",
    "run_batch",
]
