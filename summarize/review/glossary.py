"""Glossaries: required translations of terms, read from TSV files; the ``glossary`` check.

The check finds every source term of a glossary in a sentence in one pass over the
sentence, however many terms the glossary holds (:class:`_TermIndex`), with the same rule
for each term as testing it alone: case-insensitive (``str.casefold``); a term with a cased
letter (Latin, Cyrillic, Greek...) matches as a whole word, neither preceded nor followed
by a letter or digit; any other term (Chinese, Japanese, Korean, Thai, digits) matches
anywhere in the text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import regex

from summarize.errors import UsageError
from summarize.inputs.sidefiles import GLOSSARY_MAX_BYTES, read_side_file, side_file_lines
from summarize.review.flags import CASED_WORD, short

#: A maximal run of letters and digits: a whole-word term starts and ends at the edges of one.
_RUN = regex.compile(r"[\p{L}\p{N}]+")
_WORD_CHAR = regex.compile(r"[\p{L}\p{N}]")


@dataclass(frozen=True)
class GlossaryEntry:
    """One glossary line: a source term and the target terms that may render it."""

    source: str
    targets: tuple[str, ...]
    line: int


def is_whole_word_term(term: str) -> bool:
    """Whether a (casefolded) term matches only as a whole word: it has a cased letter."""
    return bool(CASED_WORD.search(term)) and any(c.lower() != c.upper() for c in term)


#: Terms by their first character, then by their second ("" for one-character terms), as
#: term -> (whole_word, entry indices).
_Table = dict[str, dict[str, dict[str, tuple[bool, list[int]]]]]


class _TermIndex:
    """Where the source terms of a glossary occur in a text, found in one pass.

    Three tables, by what a term starts and ends with:

    - a whole-word term that starts and ends with a letter or digit (nearly all of them)
      occurs exactly when it equals the text from the start of one run of letters and digits
      to the end of the same or a later run: from each run start, each following run end is
      tried (one dict lookup) while the text so far begins some term;
    - a whole-word term that starts with a letter or digit and ends with a sign (``U.S.``)
      can only start at a run start: tried there, by its first two characters;
    - any other term (an uncased script's, which matches anywhere, or one starting with a
      sign, such as ``#MeToo``) is tried at each position holding its first character.

    Args:
        terms: Casefolded source terms, in entry order (repeats allowed).
    """

    def __init__(self, terms: Iterable[str]):
        self.spans: dict[str, list[int]] = {}
        self.partial: set[str] = set()  # a spans term up to the end of one of its inner runs
        self.always: list[int] = []  # the empty term, in every text
        self.at_runs: _Table = {}
        self.anywhere: _Table = {}
        for index, term in enumerate(terms):
            whole = is_whole_word_term(term)
            if not term:
                self.always.append(index)
            elif whole and _WORD_CHAR.match(term[0]) and _WORD_CHAR.match(term[-1]):
                self.spans.setdefault(term, []).append(index)
                self.partial.update(term[:m.end()] for m in _RUN.finditer(term)
                                    if m.end() < len(term))
            else:
                table = self.at_runs if whole and _WORD_CHAR.match(term[0]) else self.anywhere
                by_second = table.setdefault(term[0], {}).setdefault(term[1:2], {})
                by_second.setdefault(term, (whole, []))[1].append(index)

    def find(self, text: str) -> set[int]:
        """Indices of the terms that occur in ``text`` (already casefolded)."""
        found = set(self.always)
        if self.spans or self.at_runs:
            runs = [(m.start(), m.end()) for m in _RUN.finditer(text)]
            for a, (start, _) in enumerate(runs):
                for b in range(a, len(runs)):
                    span = text[start:runs[b][1]]
                    hit = self.spans.get(span)
                    if hit:
                        found.update(hit)
                    if span not in self.partial:
                        break  # no term goes on past this run
                if self.at_runs:
                    _try(self.at_runs, text, start, found)
        if self.anywhere:
            for i, char in enumerate(text):
                if char in self.anywhere:
                    _try(self.anywhere, text, i, found)
        return found


def _try(table: _Table, text: str, i: int, found: set[int]) -> None:
    """Add the terms of ``table`` that occur at ``text[i]`` (whole words where they must)."""
    by_second = table.get(text[i])
    if not by_second:
        return
    for key in ("", text[i + 1:i + 2]) if i + 1 < len(text) else ("",):
        for term, (whole, hit) in by_second.get(key, {}).items():
            if text.startswith(term, i) and (not whole or _bounded(text, i, i + len(term))):
                found.update(hit)


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is neither preceded nor followed by a letter or digit."""
    return ((start == 0 or not _WORD_CHAR.match(text, start - 1))
            and (end >= len(text) or not _WORD_CHAR.match(text, end)))


@dataclass(frozen=True)
class Glossary:
    """Required translations of terms, from :func:`load_glossary`."""

    entries: tuple[GlossaryEntry, ...]

    @cached_property
    def _index(self) -> tuple[_TermIndex, list[tuple[str, ...]]]:
        """The term index and each entry's casefolded targets, built on first use."""
        return (_TermIndex(e.source.casefold() for e in self.entries),
                [tuple(t.casefold() for t in e.targets) for e in self.entries])

    def missing(self, source: str, output: str) -> list[GlossaryEntry]:
        """Entries whose source term is in ``source`` but no target term is in ``output``.

        Args:
            source: The source text (one sentence, or a whole text).
            output: Its translation.

        Returns:
            The entries missed, in glossary order. One pass over ``source`` finds every
            term (see the module docstring for the matching rule).
        """
        index, targets = self._index
        present = index.find(source.casefold())
        if not present:
            return []
        out = output.casefold()
        return [self.entries[i] for i in sorted(present)
                if not any(t in out for t in targets[i])]


def _is_comment(line: str) -> bool:
    """A comment: ``#`` then a space, a tab or nothing, or a ``#`` line without a tab."""
    text = line.lstrip()
    if not text.startswith("#"):
        return False
    return len(text) == 1 or text[1] in " \t" or "\t" not in text


def load_glossary(path: Path) -> Glossary:
    """Read a glossary TSV: ``source term<TAB>target term`` per line.

    Blank lines and comments are ignored. A comment is a line whose first non-blank
    character is ``#`` followed by a space, a tab or nothing (``# a note``), or a line
    starting with ``#`` that holds no tab (``#note``). A term may start with ``#``:
    ``#MeToo<TAB>#미투`` is an entry. To comment an entry out, put a space after the ``#``.
    Several acceptable target terms are separated by ``|`` (``Brexit<TAB>브렉시트|영국의 EU
    탈퇴``). A glossary is for one target language. The file is read by
    :func:`summarize.inputs.sidefiles.read_side_file`: a regular UTF-8 file (a byte-order
    mark allowed) of at most 50 MB, lines ending only at ``\\n``.

    Args:
        path: The TSV file (UTF-8).

    Returns:
        The glossary.

    Raises:
        UsageError: The file cannot be read, or a line is not two non-empty fields (the
            message names the file and line).
    """
    path = Path(path)
    text = read_side_file(path, what="glossary", max_bytes=GLOSSARY_MAX_BYTES)
    entries = []
    for line_no, line in side_file_lines(text):
        if not line.strip() or _is_comment(line):
            continue
        fields = line.split("\t")
        targets = tuple(t.strip() for t in fields[1].split("|")) if len(fields) == 2 else ()
        if len(fields) != 2 or not fields[0].strip() or not targets or not all(targets):
            raise UsageError(f"{path}:{line_no}: expected 'source term<TAB>target term', "
                             f"got {short(line)!r}")
        entries.append(GlossaryEntry(fields[0].strip(), targets, line_no))
    return Glossary(tuple(entries))
