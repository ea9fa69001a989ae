"""Keeps Ray's own lines off the console: its C++ core writes warnings and errors straight
to file descriptor 2, and its driver prints the errors the raylet pushes (``(raylet) ...``)
and the workers' output (``(Name pid=N) ...``) to stdout, where no Python logging setting
reaches them.

While :class:`RayConsoleFilter` is active, descriptors 1 and 2 are pipes, and a thread per
descriptor forwards everything written to it to the real one, except Ray's lines: those in
the format of its C++ logger (``[2026-01-05 20:36:03,318 E 4969 4969] core_worker.cc:2465:
...``, which Ray also writes to the session's log files under ``/tmp/ray/session_latest/
logs``) and those with the prefix of forwarded Ray output. Fatal native lines (``F``) still
pass: they come before a crash the user must see. The tool's own output (progress bars,
notes, the final table) passes unchanged and at once; only a line that starts like one of
Ray's is held until its end (at most :data:`HOLD_S`).
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
#: A line Ray's driver forwards: ``(raylet) ...``, ``(Name pid=N, ip=...) ...``, colored.
FORWARDED_LINE = re.compile(
    rb"(?:\x1b\[[\d;]*m)?\((?:raylet|autoscaler|gcs_server|monitor|[^\n]{0,200}?pid=\d+)"
    rb"[^\n)]*\)(?:\x1b\[0m)? ")
#: Native levels that still reach the console.
KEPT_LEVELS = (b"F",)
#: Seconds a partial line that may be one of Ray's is held before it is passed.
HOLD_S = 0.2
#: Longest partial line held (a longer one is passed).
HOLD_BYTES = 65536
#: How one of Ray's lines may start (the rest decides).
_STARTS = (b"[", b"(", b"\x1b")


def is_ray_line(line: bytes) -> bool:
    """Whether a whole line is one of Ray's (native log line below fatal, or forwarded)."""
    native = NATIVE_LINE.match(line)
    if native:
        return native.group(1) not in KEPT_LEVELS
    return bool(FORWARDED_LINE.match(line))


class _Pump:
    """One descriptor sent through a pipe and filtered by a thread."""

    def __init__(self, fd: int):
        self.fd = fd
        self.dropped = 0
        self._stopping = threading.Event()
        self._saved = os.dup(fd)
        read, write = os.pipe()
        os.dup2(write, fd)
        os.close(write)
        self._read: int | None = read
        self._thread = threading.Thread(target=self._run, name=f"summarize-ray-console-{fd}",
                                         daemon=True)
        self._thread.start()

    def stop(self) -> None:
        os.dup2(self._saved, self.fd)  # closes our end of the pipe: the pump reads to its end
        self._stopping.set()
        self._thread.join(timeout=5)
        for fd in (self._read, self._saved):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._read = None

    def _run(self) -> None:
        assert self._read is not None
        held, held_since, at_line_start = b"", 0.0, True
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
                    self._emit(held)
                    return
                if not held:
                    held_since = time.monotonic()
                held, at_line_start = self._filter(held + chunk, at_line_start)
        except Exception:  # never leave the process writing into a pipe nobody reads
            with contextlib.suppress(OSError):
                os.dup2(self._saved, self.fd)

    def _filter(self, data: bytes, at_line_start: bool) -> tuple[bytes, bool]:
        """Forward ``data`` but Ray's lines; returns what is held (a partial line that may
        be one of them) and whether the next byte starts a line."""
        out = bytearray()
        while data:
            end = data.find(b"\n")
            if at_line_start and data[:1] in _STARTS:
                if end < 0:
                    if len(data) > HOLD_BYTES:
                        out += data
                        at_line_start = False
                        break
                    self._emit(bytes(out))
                    return data, True
                line, data = data[:end + 1], data[end + 1:]
                if is_ray_line(line):
                    self.dropped += 1
                else:
                    out += line
                continue
            if end < 0:
                out += data
                at_line_start = False
                break
            out += data[:end + 1]
            data, at_line_start = data[end + 1:], True
        self._emit(bytes(out))
        return b"", at_line_start

    def _emit(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._saved, view):]
            except OSError:  # the console went away: nothing to show it on
                return


class RayConsoleFilter:
    """Filters Ray's lines out of stdout and stderr while active (a context manager).
    Leaves a descriptor alone where it cannot be duplicated (closed)."""

    def __init__(self, fds: tuple[int, ...] = (1, 2)):
        self.fds = fds
        self._pumps: list[_Pump] = []

    @property
    def dropped(self) -> int:
        """Ray's lines kept off the console so far."""
        return sum(p.dropped for p in self._pumps)

    def __enter__(self) -> RayConsoleFilter:
        _flush_python_streams()
        for fd in self.fds:
            try:
                self._pumps.append(_Pump(fd))
            except OSError:
                continue
        return self

    def __exit__(self, *exc: object) -> None:
        _flush_python_streams()
        for pump in self._pumps:
            pump.stop()
        self._pumps.clear()


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


__all__ = ["FORWARDED_LINE", "NATIVE_LINE", "RayConsoleFilter", "is_ray_line"]
