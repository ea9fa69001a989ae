"""Read the tool's own side files (config, glossaries, references) by one set of rules.

Articles have their own careful reader (:mod:`summarize.inputs.read`); the files that steer a
run are read here, the same way for every one of them:

- regular files only: a FIFO, a device (``/dev/zero``, ``/dev/urandom``), a socket or a
  folder is refused from its ``stat``, never opened for a read that could block or not end;
- a size cap per kind of file, checked before reading and again while reading (a file that
  grows cannot make the tool read without end);
- UTF-8, with or without a byte-order mark; anything else (UTF-16, Latin-1, binary) is
  refused with the line and byte where decoding failed;
- lines end only at ``\\n`` (``\\r\\n`` too): U+2028, U+0085 and the other characters
  :meth:`str.splitlines` breaks at are text inside a line;
- every failure is one :class:`~summarize.errors.UsageError` line naming the file.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from summarize.errors import UsageError

#: Size caps, in bytes, of each kind of side file.
CONFIG_MAX_BYTES = 1_000_000
GLOSSARY_MAX_BYTES = 50_000_000
REFERENCES_MAX_BYTES = 500_000_000

__all__ = [
    "CONFIG_MAX_BYTES",
    "GLOSSARY_MAX_BYTES",
    "REFERENCES_MAX_BYTES",
    "read_side_file",
    "side_file_lines",
]

_KINDS = ((stat.S_ISDIR, "is a folder, not a file"),
          (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
          (stat.S_ISCHR, "is a character device, not a regular file"),
          (stat.S_ISBLK, "is a block device, not a regular file"),
          (stat.S_ISSOCK, "is a socket, not a regular file"))


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode is refused, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, why in _KINDS:
        if test(mode):
            return why
    return "is not a regular file"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1_000_000 else f"{n_bytes:,} bytes"


def _reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def read_side_file(path: Path | str, *, what: str, max_bytes: int) -> str:
    """The text of one side file, read by the rules in the module docstring.

    Args:
        path: The file (a symbolic link to a regular file is followed).
        what: What the file is, for messages (``"glossary"``, ``"config file"``).
        max_bytes: Files larger than this are refused without being read.

    Returns:
        The decoded text, without a leading byte-order mark.

    Raises:
        UsageError: The file is missing, unreadable, not a regular file, larger than
            ``max_bytes`` or not UTF-8; one line naming the file (and, for bad UTF-8, the
            line).
    """
    shown = f"{what} {path}"
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {_reason(exc)}") from None
    why = _not_regular(st.st_mode)
    if why:
        raise UsageError(f"{shown} {why}")
    if st.st_size > max_bytes:
        raise UsageError(f"{shown} is {_size(st.st_size)}, more than the {_size(max_bytes)} a "
                         f"{what} may be")
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not
        # wait for a writer (the fstat below then refuses it). No effect on regular files.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {_reason(exc)}") from None
    try:
        why = _not_regular(os.fstat(fd).st_mode)
        if why:
            raise UsageError(f"{shown} {why}")
        chunks: list[bytes] = []
        n_read = 0
        while n_read <= max_bytes:  # bounded: a file that grows is read to the cap and refused
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - n_read))
            if not chunk:
                break
            chunks.append(chunk)
            n_read += len(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if n_read > max_bytes:
        raise UsageError(f"{shown} is more than the {_size(max_bytes)} a {what} may be")
    return _decode(b"".join(chunks), shown)


def _decode(data: bytes, shown: str) -> str:
    """UTF-8 text, a leading byte-order mark dropped; one line naming where it is not."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UsageError(f"{shown} is UTF-16 text; save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UsageError(f"{shown}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} at "
                         f"byte {column} of the line); save the file as UTF-8") from None


def side_file_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines of a side file's text with their numbers (from 1).

    A line ends only at ``\\n``; a ``\\r`` before it is dropped. Other line breaks Unicode
    knows (U+2028, U+2029, U+0085, form feed, ``\\r`` alone) stay inside the line, so line
    numbers are the ones an editor shows and a term holding one is not cut in two.

    Args:
        text: From :func:`read_side_file`.

    Yields:
        ``(line_number, line)``; a last empty line after a final ``\\n`` is not yielded.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line[:-1] if line.endswith("\r") else line
