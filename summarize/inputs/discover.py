"""Find the article files under the inputs: a sorted, loop-safe walk (names and stat only)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from summarize.errors import UsageError
from summarize.records import InputFailure, Skipped

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm", ".json", ".jsonl"})


@dataclass(frozen=True)
class SourceFile:
    """A file to read.

    Attributes:
        path: Path of the file as found (not resolved, so symlinked folders keep their name).
        rel: POSIX path relative to the input folder it was found under (just the name for a
            file given directly); made unique within one scan.
    """

    path: Path
    rel: str



def find_files(
    inputs: Sequence[Path],
    exclude: Sequence[Path] = (),
    follow_symlinks: bool = False,
) -> tuple[list[SourceFile], list[Skipped], list[InputFailure]]:
    """Find the article files under the given inputs.

    Folders are walked recursively in sorted name order (deterministic). Symlinks to folders
    are followed, but each real folder is visited once, so symlink loops end. Hidden files
    and folders (name starting with ".") inside a folder are ignored without being counted;
    an input named directly is always used. The same file reached twice (overlapping inputs,
    symlinks) is listed once. When two different files end up with the same ``rel`` (same
    relative path under two input folders), the later one's ``rel`` is prefixed with its
    input folder's name (and numbered if that still collides).

    Args:
        inputs: Files and folders, in the order given by the user.
        exclude: Folders never to enter (the run's own output folder, when it lies inside
            an input folder, so a rerun does not read its own pages back as articles).
        follow_symlinks: Follow symbolic links found inside a folder that lead outside
            every input folder (to ``/etc/passwd``, ``/proc/self/...``). Off by default:
            such links are skipped with a reason, since inputs may come from an unpacked
            archive. Links that stay inside an input folder are always followed.

    Returns:
        ``(files, skipped, failures)``: the article files in order; files skipped because
        of their type; folders (or broken links) that could not be read.

    Raises:
        UsageError: If an input path does not exist (checked before anything is walked).
    """
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.exists():
            raise UsageError(f"input not found: {path}")
    walk = _Walk(follow_symlinks=follow_symlinks,
                 roots=[p.resolve() for p in paths if p.is_dir()])
    for folder in exclude:
        try:
            st = Path(folder).stat()
        except OSError:
            continue
        walk.seen_dirs.add((st.st_dev, st.st_ino))
    for path in paths:
        if path.is_dir():
            walk.folder(path)
        else:
            walk.file(path, path.name, root_name=path.parent.resolve().name)
    return walk.files, walk.skipped, walk.failures


@dataclass
class _Walk:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failures: list[InputFailure] = field(default_factory=list)
    seen_files: set[tuple[int, int]] = field(default_factory=set)
    seen_dirs: set[tuple[int, int]] = field(default_factory=set)
    follow_symlinks: bool = False
    roots: list[Path] = field(default_factory=list)

    def _leaves_inputs(self, entry: os.DirEntry[str]) -> bool:
        """A symbolic link whose target lies outside every input folder."""
        if self.follow_symlinks or not entry.is_symlink():
            return False
        try:
            target = Path(entry.path).resolve()
        except (OSError, RuntimeError):
            return False  # a broken or looping link: reported as such further on
        return not any(target == root or root in target.parents for root in self.roots)
    taken_rels: set[str] = field(default_factory=set)

    def folder(self, root: Path) -> None:
        try:
            st = root.stat()
        except OSError as exc:
            self._folder_failure(root, root.name or str(root), exc)
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_dirs:
            return  # already walked as part of an earlier input
        self.seen_dirs.add(key)
        root_name = root.name or root.resolve().name
        # Depth-first over sorted entries with an explicit stack (no recursion limit).
        stack: list[Iterator[tuple[os.DirEntry[str], str]]] = [self._entries(root, "")]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                continue
            entry, rel = item
            if self._leaves_inputs(entry):
                self.skipped.append(Skipped(
                    source=entry.path,
                    reason="symbolic link leading outside the input folder "
                           "(pass --follow-symlinks to read it)"))
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                try:
                    st = entry.stat()
                except OSError as exc:
                    self._folder_failure(Path(entry.path), rel, exc)
                    continue
                key = (st.st_dev, st.st_ino)
                if key in self.seen_dirs:
                    logger.debug("not entering %s again (symlink loop or repeat)", entry.path)
                    continue
                self.seen_dirs.add(key)
                stack.append(self._entries(Path(entry.path), rel + "/"))
            else:
                self.file(Path(entry.path), rel, root_name=root_name)

    def _entries(self, folder: Path, prefix: str) -> Iterator[tuple[os.DirEntry[str], str]]:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            self._folder_failure(folder, prefix.rstrip("/") or folder.name, exc)
            return
        for entry in entries:
            if not entry.name.startswith("."):
                yield entry, prefix + entry.name

    def _folder_failure(self, folder: Path, rel: str, exc: OSError) -> None:
        message = f"cannot read folder: {os_reason(exc)}"
        logger.debug("%s: %s", folder, message)
        self.failures.append(InputFailure(id=rel, source=str(folder), error=message))

    def file(self, path: Path, rel: str, root_name: str) -> None:
        suffix = os.path.splitext(path.name)[1].lower()
        if suffix not in ARTICLE_SUFFIXES:
            reason = f"unsupported file type '{suffix}'" if suffix else "unsupported file type"
            self.skipped.append(Skipped(source=str(path), reason=reason))
            return
        try:
            st = path.stat()
        except OSError as exc:
            if path.is_symlink():
                message = "cannot read file: broken symbolic link"
            else:
                message = f"cannot read file: {os_reason(exc)}"
            self.failures.append(InputFailure(id=rel, source=str(path), error=message))
            return
        if not stat.S_ISREG(st.st_mode):
            self.skipped.append(Skipped(source=str(path), reason="not a regular file"))
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_files:
            return
        self.seen_files.add(key)
        rel = self._unique_rel(rel, root_name)
        self.files.append(SourceFile(path=path, rel=rel))

    def _unique_rel(self, rel: str, root_name: str) -> str:
        candidate = rel
        if candidate in self.taken_rels and root_name:
            candidate = f"{root_name}/{rel}"
        number = 2
        while candidate in self.taken_rels:
            pure = PurePosixPath(rel)
            candidate = str(pure.with_name(f"{pure.stem}~{number}{pure.suffix}"))
            number += 1
        self.taken_rels.add(candidate)
        return candidate


def os_reason(exc: OSError) -> str:
    """The OS error as a short lowercase phrase ("permission denied")."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return one_line(reason[:1].lower() + reason[1:])


def one_line(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."
