"""Untrusted text on a terminal: escape what would drive it rather than be shown.

File names, article ids and error messages that quote them reach the terminal through the
CLI's messages and, with ``--debug``, through logging; both go through :func:`printable`.
"""

from __future__ import annotations

import logging
import re

__all__ = ["PrintableFormatter", "log_handler", "printable"]

#: C0 and C1 controls (ESC starts terminal sequences), line and paragraph separators, the
#: bidi embeddings, overrides, isolates and marks, and lone surrogates (not encodable).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """Text safe for a terminal: control, escape and bidi characters shown as ``\\xNN``.

    File names and article ids are untrusted: an ``ESC ]0;...`` in a name would otherwise
    retitle the terminal or clear the screen when printed, and a U+202E would show the rest
    of the line reversed.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", str(text))


def _printable_lines(text: str) -> str:
    """A multi-line text (a traceback) with each line made printable."""
    return "\n".join(printable(line) for line in text.split("\n"))


class PrintableFormatter(logging.Formatter):
    """A logging formatter whose output is :func:`printable`: the message on one line,
    a traceback or stack line by line (its line breaks kept)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return printable(super().formatMessage(record))

    def formatException(self, ei: object) -> str:  # noqa: N802 - logging's name
        return _printable_lines(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return _printable_lines(super().formatStack(stack_info))


def log_handler(fmt: str) -> logging.Handler:
    """A stderr handler with :class:`PrintableFormatter` for ``logging.basicConfig``.

    Args:
        fmt: The format string (``"summarize: %(levelname)s: %(message)s"``).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter(fmt))
    return handler
