"""Keeps Ray's own lines off the console: its C++ core writes warnings and errors straight
to file descriptor 2, and its driver prints the errors the raylet pushes (``(raylet) ...``)
and the workers' output (``(Name pid=N) ...``) to stdout, where no Python logging setting
reaches them.

While :class:`RayConsoleFilter` is active, descriptors 1 and 2 are pipes (pseudo-terminals
where they were terminals, so progress bars still draw), and a thread per descriptor
forwards everything written to it to the real one, except Ray's lines: those in the format
of its C++ logger (``[2026-01-05 20:36:03,318 E 4969 4969] core_worker.cc:2465: ...``,
which Ray also writes to the session's log files under ``/tmp/ray/session_latest/logs``)
and those with the prefix of forwarded Ray output. Fatal native lines (``F``) still pass:
they come before a crash the user must see. The tool's own output (progress bars,
notes, the final table) passes unchanged and at once; only a line that starts like one of
Ray's is held until its end (at most :data:`HOLD_S`).
"""

from __future__ import annotations

import contextlib
import errno
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
#: Carriage returns and terminal escape sequences (a progress bar's cursor moves).
CONTROLS = re.compile(rb"(?:\r|\x1b\[[\d;?]*[A-Za-z])*")
#: Color sequences (dropped with the forwarded line they color).
COLORS = re.compile(rb"\x1b\[[\d;]*m")


def is_ray_line(line: bytes) -> bool:
    """Whether a whole line is one of Ray's (native log line below fatal, or forwarded)."""
    return _without_ray(line)[1]


def _without_ray(line: bytes) -> tuple[bytes, bool]:
    """What is left of a whole line without Ray's part, and whether there was one: a native
    log line wherever it starts (after a progress bar's text), a forwarded line after the
    cursor moves that start it."""
    native = NATIVE_LINE.search(line)
    if native and native.group(1) not in KEPT_LEVELS:
        return line[:native.start()], True
    controls = CONTROLS.match(line)
    if controls is not None and FORWARDED_LINE.match(line, controls.end()):
        return COLORS.sub(b"", line[:controls.end()]), True  # the cursor moves stay
    return line, False


def _may_become_ray_line(partial: bytes) -> bool:
    """Whether a partial line could still turn out to be one of Ray's."""
    controls = CONTROLS.match(partial)
    visible = partial[controls.end() if controls is not None else 0:]
    return visible[:1] in (b"[", b"(") or (not visible and partial.endswith(b"\x1b"))


class _Pump:
    """One descriptor sent through a pipe (a pseudo-terminal where it was a terminal, so
    progress bars still see one) and filtered by a thread."""

    def __init__(self, fd: int):
        self.fd = fd
        self.dropped = 0
        self._stopping = threading.Event()
        self._saved = os.dup(fd)
        read, write = _terminal_like(self._saved) or os.pipe()
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
        held, held_since = b"", 0.0
        try:
            while True:
                ready, _, _ = select.select([self._read], [], [], 0.05)
                if not ready:
                    if held and (time.monotonic() - held_since > HOLD_S
                                 or self._stopping.is_set()):
                        self._emit(held)
                        held = b""
                    if self._stopping.is_set():
                        return
                    continue
                try:
                    chunk = os.read(self._read, 65536)
                except OSError as exc:  # a pseudo-terminal whose other end closed
                    if exc.errno != errno.EIO:
                        raise
                    chunk = b""
                if not chunk:
                    self._emit(held)
                    return
                if not held:
                    held_since = time.monotonic()
                held = self._filter(held + chunk)
        except Exception:  # never leave the process writing into a pipe nobody reads
            with contextlib.suppress(OSError):
                os.dup2(self._saved, self.fd)

    def _filter(self, data: bytes) -> bytes:
        """Forward ``data`` without Ray's lines; returns the partial last line when it may
        become one of them (held until its end), else forwards it too."""
        out = bytearray()
        while True:
            end = data.find(b"\n")
            if end < 0:
                break
            line, data = data[:end + 1], data[end + 1:]
            kept, dropped = _without_ray(line)
            self.dropped += dropped
            out += kept
        held = b""
        if data and len(data) <= HOLD_BYTES and _may_become_ray_line(data):
            held = data
        else:
            out += data
        self._emit(bytes(out))
        return held

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
        self._dropped_before = 0

    @property
    def dropped(self) -> int:
        """Ray's lines kept off the console so far."""
        return self._dropped_before + sum(p.dropped for p in self._pumps)

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
        self._dropped_before = self.dropped
        self._pumps.clear()


def _terminal_like(fd: int) -> tuple[int, int] | None:
    """A pseudo-terminal (read end, write end) in place of the terminal ``fd``: its window
    size, and no output processing (the bytes reach the real terminal as written). None
    where ``fd`` is no terminal or there are no pseudo-terminals."""
    if not os.isatty(fd):
        return None
    try:
        import fcntl
        import termios

        read, write = os.openpty()
    except (ImportError, OSError):
        return None
    try:
        attrs = termios.tcgetattr(write)
        attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n": the real terminal does that
        termios.tcsetattr(write, termios.TCSANOW, attrs)
        size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(write, termios.TIOCSWINSZ, size)
    except OSError:
        pass
    return read, write


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


__all__ = ["FORWARDED_LINE", "NATIVE_LINE", "RayConsoleFilter", "is_ray_line"]
