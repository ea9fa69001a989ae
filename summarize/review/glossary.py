"""Glossaries: required translations of terms, read from TSV files; the ``glossary`` check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import regex

from summarize.errors import UsageError
from summarize.review.flags import CASED_WORD, short


@dataclass(frozen=True)
class GlossaryEntry:
    """One glossary line: a source term and the target terms that may render it."""

    source: str
    targets: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Glossary:
    """Required translations of terms, from :func:`load_glossary`."""

    entries: tuple[GlossaryEntry, ...]

    def missing(self, source: str, output: str) -> list[GlossaryEntry]:
        """Entries whose source term is in ``source`` but no target term is in ``output``."""
        src, out = source.casefold(), output.casefold()
        found = []
        for entry in self.entries:
            term = entry.source.casefold()
            if CASED_WORD.search(term) and any(c.lower() != c.upper() for c in term):
                pattern = rf"(?<![\p{{L}}\p{{N}}]){regex.escape(term)}(?![\p{{L}}\p{{N}}])"
                present = regex.search(pattern, src) is not None
            else:
                present = term in src
            if present and not any(t.casefold() in out for t in entry.targets):
                found.append(entry)
        return found


def load_glossary(path: Path) -> Glossary:
    """Read a glossary TSV: ``source term<TAB>target term`` per line.

    Lines starting with ``#`` and blank lines are ignored. Several acceptable target terms
    are separated by ``|`` (``Brexit<TAB>브렉시트|영국의 EU 탈퇴``). A glossary is for one
    target language.

    Args:
        path: The TSV file (UTF-8).

    Returns:
        The glossary.

    Raises:
        UsageError: The file cannot be read, or a line is not two non-empty fields (the
            message names the file and line).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read glossary {path}: {exc}") from exc
    entries = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        targets = tuple(t.strip() for t in fields[1].split("|")) if len(fields) == 2 else ()
        if len(fields) != 2 or not fields[0].strip() or not targets or not all(targets):
            raise UsageError(f"{path}:{line_no}: expected 'source term<TAB>target term', "
                             f"got {short(line)!r}")
        entries.append(GlossaryEntry(fields[0].strip(), targets, line_no))
    return Glossary(tuple(entries))
