"""Where a run reports its progress: the :class:`Reporter` protocol the CLI's bars implement,
a silent one for the Python API and tests, and a locked one for several threads."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, tests and the Python API may pass nothing."""

    def add_work(self, stage: str, n: int) -> None:
        """``n`` more items of ``stage`` ("read", "summarize", "translate") are queued."""

    def advance(self, stage: str, n: int) -> None:
        """``n`` items of ``stage`` are done."""

    def note(self, message: str) -> None:
        """A line for the user (how to resume, what the run is doing)."""


class Silent:
    """A reporter that shows nothing but logs notes."""

    def add_work(self, stage: str, n: int) -> None:
        pass

    def advance(self, stage: str, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        log.info(message)


class LockedReporter:
    """A reporter called from several threads (the model's, the translating one, the
    writer, Ray's feeding thread), one call at a time."""

    def __init__(self, reporter: Reporter):
        self._reporter = reporter
        self._lock = threading.Lock()

    def add_work(self, stage: str, n: int) -> None:
        if n:
            with self._lock:
                self._reporter.add_work(stage, n)

    def advance(self, stage: str, n: int) -> None:
        if n:
            with self._lock:
                self._reporter.advance(stage, n)

    def note(self, message: str) -> None:
        with self._lock:
            self._reporter.note(message)


__all__ = ["LockedReporter", "Reporter", "Silent"]
