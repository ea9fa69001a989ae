"""How a run stops early and keeps what it finished.

SIGINT (Ctrl-C, which a terminal sends to its whole process group) and SIGTERM (``kill``,
systemd, Kubernetes, batch schedulers) both set the run's stop event: the engines stop after
their current batch, every finished group is written, and stats.json and the report are
written as for any run. A second signal aborts (``KeyboardInterrupt``). An engine that loses
what it cannot run without (Ray's helper actors) raises :class:`EngineStopped`, a clean stop
with a reason.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The signals that stop a run, and what the run says when it gets one.
STOP_SIGNALS = {
    signal.SIGINT: "stopping after the current batch (Ctrl-C again to abort)",
    signal.SIGTERM: "terminating (SIGTERM): stopping after the current batch (send it again "
                    "to abort)",
}


class EngineStopped(Exception):
    """The engine cannot go on (its message says why and how to resume); every record
    finished before is written, and the run ends as an interrupted one."""


class StopSignals:
    """Turns SIGINT and SIGTERM into a clean stop while active (a context manager); the
    handlers they had are back afterwards. Only the main thread can set handlers: from
    another thread this does nothing.

    Args:
        stop: Set by the first signal.
        note: Tells the user (the reporter's ``note``).
    """

    def __init__(self, stop: threading.Event, note: Callable[[str], None]):
        self.stop = stop
        self.note = note
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        self.note(STOP_SIGNALS.get(signum, "stopping after the current batch"))

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()


@contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """Put back the Python handlers of the stop signals after the block, however it ends.

    For libraries that take them over: ``ray.init`` sets its own SIGTERM handler and Ray's
    core installs a C-level one that prints crash-like lines; ``ray.shutdown`` resets
    SIGTERM to the default action under Python's feet.
    """
    main = threading.current_thread() is threading.main_thread()
    saved = {s: signal.getsignal(s) for s in STOP_SIGNALS} if main else {}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            if handler is not None:  # None: set outside Python, nothing to put back
                signal.signal(signum, handler)


__all__ = ["STOP_SIGNALS", "EngineStopped", "StopSignals", "signal_handlers_kept"]
