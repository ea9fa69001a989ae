"""Keeps the log lines of native code off the terminal: Ray's C++ core writes its warnings
and errors straight to file descriptor 2, where no Python logging setting reaches them.

While :class:`NativeLogFilter` is active, descriptor 2 is a pipe and a thread forwards
everything written to it to the real stderr, except lines in the format of Ray's C++ logger
(``[2026-01-05 20:36:03,318 E 4969 4969] core_worker.cc:2465: ...``), which Ray also
writes to the session's log files (``/tmp/ray/session_latest/logs``). Fatal lines
(``F``) still pass: they come before a crash the user must see. The tool's own output
(progress bars, notes, the final table) passes through unchanged and at once; only a line
that starts like a native log line is held until its end (at most :data:`HOLD_S`).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import sys
import threading
import time

#: Ray's C++ log line: ``[date time,ms LEVEL pid tid] file:line: message``.
NATIVE_LINE = re.compile(rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([DIWEF]) \d+ \d+\] ")
#: Levels that still reach the terminal.
KEPT_LEVELS = (b"F",)
#: Seconds a partial line that starts like a native log line is held before it is passed.
HOLD_S = 0.2
#: Longest partial line held (a longer one is passed: it is not a log line being written).
HOLD_BYTES = 65536


class NativeLogFilter:
    """Filters native log lines out of descriptor 2 while active (a context manager;
    :meth:`start` and :meth:`stop` otherwise). Does nothing where descriptor 2 cannot be
    duplicated (no stderr)."""

    def __init__(self) -> None:
        self._saved: int | None = None
        self._read: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.dropped = 0  # native lines kept off the terminal

    def __enter__(self) -> NativeLogFilter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Send descriptor 2 through the filter."""
        if self._thread is not None:
            return
        _flush_python_streams()
        try:
            saved = os.dup(2)
        except OSError:
            return
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._saved, self._read = saved, read
        self._stopping.clear()
        self._thread = threading.Thread(target=self._pump, name="summarize-native-log",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give descriptor 2 back (what was written before is forwarded first)."""
        if self._thread is None or self._saved is None:
            return
        _flush_python_streams()
        os.dup2(self._saved, 2)  # closes our end of the pipe: the pump reads to its end
        self._stopping.set()
        self._thread.join(timeout=5)
        self._thread = None
        for fd in (self._read, self._saved):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._read = self._saved = None

    # -- the pump --------------------------------------------------------------------------
    def _pump(self) -> None:
        assert self._read is not None
        held = b""  # the start of a line that may be a native log line
        held_since = 0.0
        at_line_start = True
        try:
            while True:
                ready, _, _ = select.select([self._read], [], [], 0.05)
                if not ready:
                    if held and (time.monotonic() - held_since > HOLD_S
                                 or self._stopping.is_set()):
                        self._emit(held)
                        held, at_line_start = b"", False
                    if self._stopping.is_set():
                        return
                    continue
                chunk = os.read(self._read, 65536)
                if not chunk:
                    if held:
                        self._emit(held)
                    return
                if not held:
                    held_since = time.monotonic()
                held, at_line_start = self._filter(held + chunk, at_line_start)
        except Exception:  # never leave the process writing into a pipe nobody reads
            if self._saved is not None:
                with contextlib.suppress(OSError):
                    os.dup2(self._saved, 2)

    def _filter(self, data: bytes, at_line_start: bool) -> tuple[bytes, bool]:
        """Forward ``data`` but native log lines; returns what is held (a partial line that
        may be one) and whether the next byte starts a line."""
        out = bytearray()
        while data:
            end = data.find(b"\n")
            if at_line_start and data[:1] == b"[":
                if end < 0:
                    if len(data) > HOLD_BYTES:
                        out += data
                        data, at_line_start = b"", False
                        break
                    self._emit(bytes(out))
                    return data, True
                line, data = data[:end + 1], data[end + 1:]
                match = NATIVE_LINE.match(line)
                if match and match.group(1) not in KEPT_LEVELS:
                    self.dropped += 1
                else:
                    out += line
                continue
            if end < 0:
                out += data
                data, at_line_start = b"", False
                break
            out += data[:end + 1]
            data, at_line_start = data[end + 1:], True
        self._emit(bytes(out))
        return b"", at_line_start

    def _emit(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._saved is not None:
            try:
                view = view[os.write(self._saved, view):]
            except OSError:  # the terminal went away: nothing to show it on
                return


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


__all__ = ["NativeLogFilter"]
