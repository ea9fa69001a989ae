"""Write a run's files safely: results.jsonl, stats.json and the per-article Markdown pages.

Every whole-file write goes to a temporary file in the same folder and is renamed into
place, so a crash leaves either the old file or the new one, never half of one. Records
are appended to results.jsonl one whole line per write; a torn last line left by a crash
is dropped on the next run.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from summarize.errors import UsageError
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
#: Names this tool writes at the top of an output folder.
OWN_NAMES = frozenset({RESULTS, STATS, ARTICLES, MARKER, ".lock", "index.html", "report.css",
                       "eval.json"})
#: Files that do not make a folder someone's (a placeholder that keeps an empty folder in
#: git, file-manager metadata): a folder holding only these counts as empty.
PLACEHOLDERS = frozenset({".gitkeep", ".keep", ".gitignore", ".DS_Store", "Thumbs.db",
                          "desktop.ini"})
__all__ = ["ARTICLES", "MARKER", "OWN_NAMES", "PLACEHOLDERS", "RESULTS", "SCHEMA_VERSION",
           "STATS"]


def claim_out_dir(out_dir: Path, inputs: Iterable[Path]) -> None:
    """Make sure ``out_dir`` is this tool's: new, empty, or marked by an earlier run.

    A folder holding files this tool did not write (a user's own ``index.html``, a web
    site), or one of the input folders, is refused: the run would overwrite them.
    A folder written by an earlier version (only this tool's names, and a results.jsonl
    whose first line is one of its records) is adopted. Also checks that the folder and
    its files can be written, so a read-only or broken folder fails before any model loads.

    Raises:
        UsageError: The folder is not this tool's, or cannot be written.
    """
    shown = str(out_dir)
    if out_dir.is_symlink() and not out_dir.exists():
        raise UsageError(f"--out {shown} is a broken symbolic link")
    refuse_input_as_out(out_dir, inputs)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {shown}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--out {shown}: cannot create the output folder ({exc.strerror or exc})"
        ) from None
    marker = out_dir / MARKER
    if not marker.is_file():
        entries = sorted(p.name for p in out_dir.iterdir() if p.name not in PLACEHOLDERS)
        if entries and not _earlier_output(out_dir, entries):
            foreign = [n for n in entries if n not in OWN_NAMES] or entries
            raise UsageError(
                f"--out {shown} holds files this tool did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); choose a new or empty folder"
            )
    for name, want_dir in ((RESULTS, False), (STATS, False), (ARTICLES, True)):
        path = out_dir / name
        if path.exists() and path.is_dir() != want_dir:
            kind = "a folder" if want_dir else "a file"
            raise UsageError(f"--out {shown}: {path} should be {kind}; move it away")
    try:
        if not marker.is_file():
            atomic_write_text(marker, json.dumps({"tool": "summarize"}) + "\n")
        (out_dir / ARTICLES).mkdir(exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out_dir / ARTICLES, prefix=".probe.",
                                            suffix=".tmp")
        probe.close()
    except OSError as exc:
        raise UsageError(
            f"--out {shown}: cannot write there ({exc.strerror or exc}); choose another --out"
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
    """Whether a folder without the marker was written by an earlier version of the tool."""
    if not set(entries) <= OWN_NAMES or RESULTS not in entries:
        return False
    try:
        with (out_dir / RESULTS).open("rb") as handle:
            first = handle.readline()
    except OSError:
        return False
    return not first or _parse_line(first) is not None


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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    data = text.encode("utf-8")
    _atomic_replace(path, lambda handle: handle.write(data))


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` unless ``path`` already holds exactly it; True if written.

    A resumed run over thousands of articles then rewrites only the pages that changed.
    """
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
                yield record.get(name)


def read_results(out_dir: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """Records of results.jsonl, the last one per id, and the number of bad lines skipped."""
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
                records[record["id"]] = record  # latest version, at the id's first place
    return records, bad


class ResultsLog:
    """Append-only results.jsonl with crash repair.

    Args:
        out_dir: The output folder (must exist).
    """

    def __init__(self, out_dir: Path):
        self.path = out_dir / RESULTS

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
        """Append records, each line in one write call, then flush them to disk."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for record in records:
                data = _line(record).encode("utf-8")
                written = os.write(fd, data)
                while written < len(data):  # a partial write of a huge line; finish it
                    written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


def _line(record: ArticleResult) -> str:
    return json.dumps(result_to_json(record), ensure_ascii=False, separators=(",", ":")) + "\n"


def page_path(out_dir: Path, article_id: str, suffix: str) -> Path:
    """Where an article's page goes: always directly inside ``out_dir/articles``."""
    return out_dir / ARTICLES / f"{page_stem(article_id)}{suffix}"


def write_stats(out_dir: Path, stats: RunStats) -> Path:
    """Write stats.json atomically."""
    path = out_dir / STATS
    atomic_write_text(path, json.dumps(stats_to_json(stats), indent=2, ensure_ascii=False) + "\n")
    return path
