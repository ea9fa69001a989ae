"""Exceptions the tool raises; the CLI turns each into one line on stderr."""

from __future__ import annotations


class SummarizeError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 1


class UsageError(SummarizeError):
    """Bad usage found before any article is processed (exit status 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """An option or config-file value is invalid."""


class ModelLoadError(UsageError):
    """A model cannot be found, downloaded or loaded; the message says how to supply it."""


class UnsupportedLanguageError(UsageError):
    """A language code is unknown or the chosen model cannot produce it."""


class OutputLockedError(SummarizeError):
    """Another run holds the lock on the output folder."""

    exit_code = 2


class OutputWriteError(SummarizeError):
    """The output folder stopped accepting writes mid-run (disk full, read-only)."""


class ArticleError(SummarizeError):
    """One article (or one file) cannot be read or processed; the run carries on."""


class BatchOutOfMemory(Exception):
    """The device ran out of memory on one batch; the caller splits it and retries."""


def is_library_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a Rust panic from an extension built with pyo3 (tokenizers,
    sentencex): pyo3 raises it as ``pyo3_runtime.PanicException``, a BaseException, which
    ``except Exception`` does not catch. It is one input's failure, not the run's."""
    return type(exc).__name__ == "PanicException" and not isinstance(exc, Exception)


def item_error(exc: BaseException, what: str) -> Exception:
    """``exc`` as one item's error, so that the item fails alone: an Exception as it is, a
    library panic as an :class:`ArticleError` (``what: panic message``). Anything else
    (Ctrl-C, an exit) is raised again."""
    if isinstance(exc, Exception):
        return exc
    if is_library_panic(exc):
        return ArticleError(f"{what}: {exc}")
    raise exc
