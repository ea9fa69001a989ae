"""Write a run's files safely: results.jsonl, stats.json and the per-article Markdown pages.

Every whole-file write goes to a temporary file in the same folder and is renamed into
place, so a crash leaves either the old file or the new one, never half of one. Records
are appended to results.jsonl one whole line per write; a torn last line left by a crash
is dropped on the next run.

Every command that writes into a folder (``batch``, ``report``, ``eval``) goes through one
door, :func:`open_output`: the same ownership check, the same lock, the same one-line
errors; a command that fails before writing anything leaves the folder as it found it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from summarize.errors import OutputLockedError, UsageError
from summarize.outputs.naming import page_stem
from summarize.records import (
    SCHEMA_VERSION,
    ArticleResult,
    RunStats,
    result_to_json,
    stats_to_json,
)

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"
STATS = "stats.json"
ARTICLES = "articles"
#: Written first into every output folder: the folder is this tool's to update.
MARKER = ".summarize-output"
#: The lock file: one command at a time writes into a folder.
LOCK = ".lock"
#: Names this tool writes at the top of an output folder.
OWN_NAMES = frozenset({RESULTS, STATS, ARTICLES, MARKER, LOCK, "index.html", "report.css",
                       "eval.json"})
#: Files that do not make a folder someone's (a placeholder that keeps an empty folder in
#: git, file-manager metadata): a folder holding only these counts as empty.
PLACEHOLDERS = frozenset({".gitkeep", ".keep", ".gitignore", ".DS_Store", "Thumbs.db",
                          "desktop.ini"})
__all__ = ["ARTICLES", "LOCK", "MARKER", "OWN_NAMES", "PLACEHOLDERS", "RESULTS", "SCHEMA_VERSION",
           "STATS", "OutputFolder", "claim_out_dir", "json_text", "open_output", "valid_text"]

#: A lone surrogate: valid in a Python string (and in JSON as ``"\\ud800"``), not in UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


class OutputFolder:
    """An output folder claimed and locked for one command, from :func:`open_output`.

    Use it as a context manager, or call :meth:`close` (in a ``finally``) when done.

    Attributes:
        path: The folder.
    """

    def __init__(self, path: Path, lock: Any, made: frozenset[str],
                 before: dict[str, tuple[int, int] | None], new_dirs: list[Path]):
        self.path = path
        self._lock = lock
        self._made = made  # MARKER, ARTICLES, LOCK: what opening created in the folder
        self._before = before  # the folder's entries before it was opened, with their state
        self._new_dirs = new_dirs  # the folder and any parents opening created, deepest first

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the lock. When the command wrote nothing into the folder (it failed
        before its first record or page), also take away what opening it created: the
        marker, the lock file, the empty ``articles/`` and the folder itself with any
        parents it made, when they are empty. Nothing else is ever removed."""
        if self._lock is None:
            return
        lock, self._lock = self._lock, None
        unused = False
        try:
            unused = self._unused()
            if unused:
                for name in (ARTICLES, MARKER, LOCK):  # the lock file while still held
                    if name in self._made:
                        path = self.path / name
                        path.rmdir() if name == ARTICLES else path.unlink(missing_ok=True)
        except OSError:
            unused = False
        finally:
            lock.release()
        if unused:
            for folder in self._new_dirs:
                try:
                    folder.rmdir()  # only an empty folder: never anything else
                except OSError:
                    break

    def _unused(self) -> bool:
        """Whether the folder holds only what it held, unchanged, and what opening made."""
        now = _entries(self.path)
        if any(name not in self._made and (name not in self._before
                                           or state != self._before[name])
               for name, state in now.items()):
            return False
        return ARTICLES not in self._made or not any((self.path / ARTICLES).iterdir())


def _entries(folder: Path) -> dict[str, tuple[int, int] | None]:
    """The entries of a folder: a file's size and mtime, None for anything else."""
    entries: dict[str, tuple[int, int] | None] = {}
    with os.scandir(folder) as scan:
        for entry in scan:
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                entries[entry.name] = (st.st_size, st.st_mtime_ns)
            else:
                entries[entry.name] = None
    return entries


def open_output(out_dir: Path, inputs: Iterable[Path] = (), *, create: bool,
                option: str | None = "--out") -> OutputFolder:
    """The one door into an output folder, for every command that writes there.

    Checks that the folder is this tool's (:func:`claim_out_dir`), then takes its lock;
    the folder is the command's until :meth:`OutputFolder.close`. A command that writes
    nothing leaves the folder as it found it (see :meth:`OutputFolder.close`).

    Args:
        out_dir: The output folder.
        inputs: The run's input paths: an input folder is refused as the output.
        create: Make the folder when missing (``batch``); otherwise it must hold the
            results.jsonl of an earlier run (``report``, ``eval``).
        option: How the user named the folder in messages (``--out``), or None for an
            argument.

    Returns:
        The claimed, locked folder.

    Raises:
        UsageError: The folder is not this tool's, holds no run (``create=False``) or
            cannot be written; one line.
        OutputLockedError: Another command holds the folder's lock.
    """
    out_dir = Path(out_dir)
    shown = f"{option} {out_dir}" if option else str(out_dir)
    if not create and not (out_dir / RESULTS).is_file():
        if not out_dir.is_dir():
            raise UsageError(f"{shown} is not a folder")
        raise UsageError(f"{shown} has no {RESULTS}: it is not the output folder of a "
                         "summarize run")
    new_dirs = []
    folder = out_dir
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        new_dirs.append(folder)
        folder = folder.parent
    try:
        before = _entries(out_dir) if out_dir.is_dir() else {}
    except OSError:
        before = {}  # claiming says why the folder cannot be used
    claim_out_dir(out_dir, inputs, option=option)
    from filelock import FileLock, Timeout

    lock = FileLock(str(out_dir / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OutputLockedError(
            f"another summarize run is writing to {out_dir}; wait for it to finish"
            + (f" or choose another {option} folder" if option else "")
        ) from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write there ({exc.strerror or exc})") from None
    made = frozenset(n for n in (MARKER, ARTICLES, LOCK) if n not in before)
    return OutputFolder(out_dir, lock, made, before, new_dirs)


def claim_out_dir(out_dir: Path, inputs: Iterable[Path], *, option: str | None = "--out"
                  ) -> None:
    """Make sure ``out_dir`` is this tool's: new, empty, or marked by an earlier run.

    A folder holding files this tool did not write (a user's own ``index.html``, a web
    site), or one of the input folders, is refused: the run would overwrite them.
    A folder written by an earlier version (only this tool's names, and a results.jsonl
    whose first line is one of its records) is adopted. Also checks that the folder and
    its files can be written, so a read-only or broken folder fails before any model loads.
    Commands use it through :func:`open_output`, which also takes the lock.

    Args:
        out_dir: The folder.
        inputs: The run's input paths.
        option: How the user named the folder, for messages (``--out``; None: an argument).

    Raises:
        UsageError: The folder is not this tool's, or cannot be written.
    """
    shown = f"{option} {out_dir}" if option else str(out_dir)
    advice = f"choose another {option}" if option else "choose another folder"
    if out_dir.is_symlink() and not out_dir.exists():
        raise UsageError(f"{shown} is a broken symbolic link")
    refuse_input_as_out(out_dir, inputs)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{shown}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{shown}: cannot create the output folder ({exc.strerror or exc})"
        ) from None
    marker = out_dir / MARKER
    if not marker.is_file():
        try:
            entries = sorted(p.name for p in out_dir.iterdir() if p.name not in PLACEHOLDERS)
        except OSError as exc:
            raise UsageError(f"{shown}: cannot read the folder ({exc.strerror or exc})"
                             ) from None
        if entries and not _earlier_output(out_dir, entries):
            foreign = [n for n in entries if n not in OWN_NAMES] or entries
            raise UsageError(
                f"{shown} holds files this tool did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); "
                + ("choose a new or empty folder" if option else
                   "it is not the output folder of a summarize run")
            )
    for name, want_dir in ((RESULTS, False), (STATS, False), (ARTICLES, True)):
        path = out_dir / name
        if path.exists() and path.is_dir() != want_dir:
            kind = "a folder" if want_dir else "a file"
            raise UsageError(f"{shown}: {path} should be {kind}; move it away")
    try:
        if not marker.is_file():
            atomic_write_text(marker, json.dumps({"tool": "summarize"}) + "\n")
        (out_dir / ARTICLES).mkdir(exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out_dir / ARTICLES, prefix=".probe.",
                                            suffix=".tmp")
        probe.close()
    except OSError as exc:
        raise UsageError(
            f"{shown}: cannot write there ({exc.strerror or exc}); {advice}"
        ) from None


def refuse_input_as_out(out_dir: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output folder that is one of the input folders (checked before reading).

    Raises:
        UsageError: ``out_dir`` is an input folder.
    """
    if not out_dir.exists():
        return
    resolved = out_dir.resolve()
    for path in inputs:
        if path.is_dir() and path.resolve() == resolved:
            raise UsageError(f"--out {out_dir} is also an input folder; choose another --out")


def _earlier_output(out_dir: Path, entries: list[str]) -> bool:
    """Whether a folder without the marker was written by an earlier version of the tool.

    Its names must all be this tool's and its results.jsonl must start with one of the
    tool's records. An empty results.jsonl proves nothing: beside one, only the lock and an
    empty ``articles/`` may be there, so no file of someone else's can be overwritten.
    """
    if not set(entries) <= OWN_NAMES or RESULTS not in entries:
        return False
    try:
        with (out_dir / RESULTS).open("rb") as handle:
            first = handle.readline()
        if first:
            return _parse_line(first) is not None
        return set(entries) <= {RESULTS, LOCK, ARTICLES} and (
            ARTICLES not in entries or not any((out_dir / ARTICLES).iterdir()))
    except OSError:
        return False


@cache
def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it back at once (once per process)
    os.umask(mask)
    return mask


def remove_stale_temp_files(out_dir: Path) -> int:
    """Delete temporary files a killed run left behind (call while holding the lock)."""
    removed = 0
    for folder in (out_dir, out_dir / ARTICLES):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


def _atomic_replace(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file in its folder, fsync it, rename it in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; pages are for reviewers to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def valid_text(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD.

    JSON may spell one (``"\\ud800"``) and Python reads it back, but UTF-8 cannot hold it:
    text read from results.jsonl, eval.json or references goes through this before a page
    or a terminal shows it. Lists, tuples and dicts are copied only where they change.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {valid_text(k): valid_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(valid_text(v) for v in value)
    return value


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)``, writable as UTF-8 whatever the
    strings hold: a lone surrogate is written as its JSON escape (``\\ud800``), so the value
    reads back exactly instead of failing to encode."""
    text = json.dumps(value, ensure_ascii=False, **options)
    if _SURROGATE.search(text):  # only inside strings: JSON syntax is ASCII
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename.

    A lone surrogate, which UTF-8 cannot hold, is written as U+FFFD.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = _SURROGATE.sub("\ufffd", text).encode("utf-8")
    _atomic_replace(path, lambda handle: handle.write(data))


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` unless ``path`` already holds exactly it; True if written.

    A resumed run over thousands of articles then rewrites only the pages that changed.
    """
    text = valid_text(text)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    return True


@dataclass(frozen=True)
class RecordState:
    """What resuming needs of a stored record."""

    status: str | None
    key: str | None


def _parse_line(raw: bytes, strict: bool = True) -> dict[str, Any] | None:
    """A whole results.jsonl line as a record of this tool, or None (torn, or not ours).

    A record of this tool is a JSON object with a string ``id``, an integer
    ``schema_version`` and a ``status`` of ``ok`` or ``error``; with ``strict=False``
    (for readers such as the report) any object with a string ``id`` is taken.
    """
    if not raw.endswith(b"\n"):
        return None  # the torn last line of a crashed run
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        return None
    if strict and not (isinstance(record.get("schema_version"), int)
                       and record.get("status") in ("ok", "error")):
        return None
    return record


def iter_result_fields(out_dir: Path, name: str) -> Iterator[Any]:
    """The value of one field of every record in results.jsonl, streamed (memory stays
    flat however many records the folder holds)."""
    path = out_dir / RESULTS
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for raw in handle:
            record = _parse_line(raw, strict=False)
            if record is not None and record.get("status") == "ok":
                yield valid_text(record.get(name))


def read_results(out_dir: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """Records of results.jsonl, the last one per id, and the number of bad lines skipped.

    For views (the report, eval): a lone surrogate a hand-made line spells in JSON
    (``"\\ud800"``) is read as U+FFFD (:func:`valid_text`), so every page can be written.
    """
    path = out_dir / RESULTS
    records: dict[str, dict[str, Any]] = {}
    bad = 0
    if not path.is_file():
        return records, bad
    with path.open("rb") as handle:
        for raw in handle:
            record = _parse_line(raw, strict=False)
            if record is None:
                bad += 1
            else:
                record = valid_text(record)
                records[record["id"]] = record  # latest version, at the id's first place
    return records, bad


class ResultsLog:
    """Append-only results.jsonl with crash repair.

    Args:
        out_dir: The output folder (must exist).

    Attributes:
        n_written: Records this log appended whole (a record whose write failed half-way is
            not counted, and its torn bytes are taken back when the file allows).
    """

    def __init__(self, out_dir: Path):
        self.path = out_dir / RESULTS
        self.n_written = 0

    def compact(self) -> dict[str, RecordState]:
        """Rewrite the file with one line per id (the latest), dropping torn lines.

        Streams the file twice instead of holding it, so memory grows with the number of
        ids, not with the size of the texts.

        Returns:
            The status and resume key of each id's latest record.
        """
        states: dict[str, RecordState] = {}
        latest: dict[str, int] = {}
        bad = n_lines = 0
        if not self.path.is_file():
            return states
        with self.path.open("rb") as handle:
            for n_lines, raw in enumerate(handle, start=1):
                record = _parse_line(raw)
                if record is None:
                    if raw.endswith(b"\n"):
                        # A whole line that is not a record of this tool: never delete it.
                        preview = raw[:60].decode("utf-8", "replace").strip()
                        raise UsageError(
                            f"{self.path} line {n_lines} is not a record of summarize "
                            f"({preview!r}); move the file away or remove that line, then "
                            "run again"
                        )
                    bad += 1  # the torn last line an interrupted run leaves
                    continue
                latest[record["id"]] = n_lines
                states[record["id"]] = RecordState(record.get("status"), record.get("key"))
        if bad:
            log.warning("%s: dropped the incomplete last line left by an interrupted run",
                        self.path)
        if bad or len(latest) != n_lines:
            keep = set(latest.values())

            def copy_kept(out: IO[bytes]) -> None:
                with self.path.open("rb") as handle:
                    for n, raw in enumerate(handle, start=1):
                        if n in keep:
                            out.write(raw)

            _atomic_replace(self.path, copy_kept)
        return states

    def append(self, records: Iterable[ArticleResult]) -> None:
        """Append records, each line in one write call, then flush them to disk.

        Raises:
            OSError: A write failed (disk full...); the records before it are whole in
                the file and counted in :attr:`n_written`, the one it tore is cut off
                again where the file system allows.
        """
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for record in records:
                data = _line(record).encode("utf-8")
                start = os.fstat(fd).st_size
                try:
                    written = os.write(fd, data)
                    while written < len(data):  # a partial write of a huge line; finish it
                        written += os.write(fd, data[written:])
                except OSError:
                    _truncate(fd, start)
                    raise
                self.n_written += 1
            os.fsync(fd)
        finally:
            os.close(fd)


def _truncate(fd: int, size: int) -> None:
    """Cut a torn line off again (best effort: the next run drops it anyway)."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


def _line(record: ArticleResult) -> str:
    return json_text(result_to_json(record), separators=(",", ":")) + "\n"


def page_path(out_dir: Path, article_id: str, suffix: str) -> Path:
    """Where an article's page goes: always directly inside ``out_dir/articles``."""
    return out_dir / ARTICLES / f"{page_stem(article_id)}{suffix}"


def write_stats(out_dir: Path, stats: RunStats) -> Path:
    """Write stats.json atomically."""
    path = out_dir / STATS
    atomic_write_text(path, json_text(stats_to_json(stats), indent=2) + "\n")
    return path
