"""Glossaries: the one-pass term index finds exactly what testing each term alone found;
the TSV reader's comments, line ends and encodings."""

from __future__ import annotations

import codecs
import pickle
import random

import pytest
import regex

from summarize.errors import UsageError
from summarize.review.flags import CASED_WORD
from summarize.review.glossary import Glossary, GlossaryEntry, load_glossary


def missing_one_by_one(entries, source: str, output: str) -> list[GlossaryEntry]:
    """The implementation before the index: each entry tested alone with its own regex."""
    src, out = source.casefold(), output.casefold()
    found = []
    for entry in entries:
        term = entry.source.casefold()
        if CASED_WORD.search(term) and any(c.lower() != c.upper() for c in term):
            pattern = rf"(?<![\p{{L}}\p{{N}}]){regex.escape(term)}(?![\p{{L}}\p{{N}}])"
            present = regex.search(pattern, src) is not None
        else:
            present = term in src
        if present and not any(t.casefold() in out for t in entry.targets):
            found.append(entry)
    return found


#: Pieces terms and sentences are made of: cased and uncased scripts, characters whose
#: casefold changes length (ß, İ, ﬁ), final sigma, combining marks, digits, regex
#: metacharacters, apostrophes, hyphens, signs that start or end terms.
PIECES = [
    "new", "york", "New York", "NEW", "city", "ab", "a", "b", "Straße", "STRASSE", "İstanbul",
    "ﬁnance", "FINANCE", "ΣΟΦΙΑ", "σοφία", "café", "cafe\u0301", "Москва", "МОСКВА", "北京",
    "北京市", "京", "東京", "서울", "서울시", "울", "한국", "ไทย", "2019", "19", "3.5%", "U.S.",
    "u.s", "C++", "c", "#MeToo", "#metoo", "a.b*c", "(x)", "[y]", "$1", "^z", "|", "\\d", "?",
    "rock'n'roll", "K-pop", "k", "pop", "e-mail", "x", " ", "-", "'", "’", "ǅ", "Ǆ", "ǆ",
]
SEPARATORS = [" ", "", ", ", "-", ".", "'", "\u00a0", "\n", "_", "1", "x"]


def _terms(rng: random.Random, n: int) -> list[str]:
    terms = []
    for _ in range(n):
        k = rng.choice([1, 1, 1, 2, 2, 3])
        term = "".join(rng.choice(PIECES) + (rng.choice(SEPARATORS) if i < k - 1 else "")
                       for i in range(k)).strip()
        if term:
            terms.append(rng.choice([term, term.upper(), term.lower(), term.title()]))
    return terms


def _text(rng: random.Random, terms: list[str], n: int) -> str:
    parts = []
    for _ in range(n):
        part = rng.choice(terms) if rng.random() < 0.5 else rng.choice(PIECES)
        parts.append(rng.choice([part, part.upper(), part.lower(), part.swapcase()]))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(6))
def test_index_finds_exactly_what_each_term_alone_finds(seed):
    rng = random.Random(seed)
    terms = _terms(rng, 150)
    entries = tuple(GlossaryEntry(t, tuple(rng.sample(PIECES, 2)), i + 1)
                    for i, t in enumerate(terms))
    glossary = Glossary(entries)
    n_found = 0
    for _ in range(150):
        source = _text(rng, terms, rng.randint(1, 12))
        output = _text(rng, [t for e in entries for t in e.targets], rng.randint(0, 6))
        expected = missing_one_by_one(entries, source, output)
        assert glossary.missing(source, output) == expected, (source, output)
        n_found += len(expected)
    assert n_found > 50  # the generated texts do hold terms


@pytest.mark.parametrize(("term", "source", "present"), [
    ("New York", "I love new york city", True),
    ("New York City", "I love new york city", True),
    ("York", "newyork", False),                 # whole words only for cased scripts
    ("York", "new-york", True),
    ("ab", "xab ab", True),
    ("ab", "xab abx", False),
    ("ab", "ab2", False),                      # a digit joins a word too
    ("北京", "我在北京市", True),                # uncased scripts: anywhere
    ("서울", "서울시청", True),
    ("U.S.", "the u.s. economy", True),
    ("U.S.", "theu.s. economy", False),
    ("#MeToo", "the #metoo movement", True),
    ("#MeToo", "x#metoo", False),              # a letter just before any term joins it
    ("#MeToo", "(#metoo)", True),
    ("C++", "c++11", False),
    ("a.b*c", "see a.b*c now", True),          # regex metacharacters are text
    ("a.b*c", "see axbbc now", False),
    ("Straße", "STRASSE", True),               # casefold: ß is ss
    ("cafe", "cafe\u0301", True),              # a combining mark is no letter or digit
])
def test_matching_rule(term, source, present):
    glossary = Glossary((GlossaryEntry(term, ("zzz",), 1),))
    assert bool(glossary.missing(source, "")) is present
    assert missing_one_by_one(glossary.entries, source, "") == glossary.missing(source, "")
    assert glossary.missing(source, "ZZZ") == []  # the target is there


def test_repeated_terms_and_order_follow_the_glossary():
    entries = (GlossaryEntry("b", ("1",), 1), GlossaryEntry("a", ("2",), 2),
               GlossaryEntry("B", ("3",), 3), GlossaryEntry("a", ("2",), 4))
    glossary = Glossary(entries)
    assert glossary.missing("a b", "") == list(entries)
    assert glossary.missing("a b", "3") == [entries[0], entries[1], entries[3]]


def test_a_used_glossary_pickles_and_compares_by_its_entries():
    glossary = Glossary((GlossaryEntry("Brexit", ("브렉시트",), 1),))
    assert glossary.missing("Brexit talks", "")
    copy = pickle.loads(pickle.dumps(glossary))
    assert copy == glossary and copy.missing("Brexit talks", "") == glossary.missing(
        "Brexit talks", "")


def _glossary(tmp_path, data: bytes) -> Glossary:
    path = tmp_path / "g.tsv"
    path.write_bytes(data)
    return load_glossary(path)


def test_comments_and_terms_starting_with_a_hash(tmp_path):
    text = ("# a comment\n"
            "#comment without a tab\n"
            "   # indented comment\n"
            "#\n"
            "#\tcomment: '#' then a tab\n"
            "# Brexit\tcommented-out entry\n"
            "#MeToo\t#미투\n"
            "##hash\t해시\n"
            "C#\t씨샵\n")
    glossary = _glossary(tmp_path, text.encode())
    assert [(e.source, e.targets, e.line) for e in glossary.entries] == [
        ("#MeToo", ("#미투",), 7), ("##hash", ("해시",), 8), ("C#", ("씨샵",), 9)]


def test_line_ends_bom_and_separators_inside_terms(tmp_path):
    text = "\ufeffBrexit\t브렉시트|영국의 EU 탈퇴\r\nline\u2028sep\tA\u0085B\r\n\nlast\tz"
    glossary = _glossary(tmp_path, text.encode("utf-8"))
    assert [(e.source, e.targets, e.line) for e in glossary.entries] == [
        ("Brexit", ("브렉시트", "영국의 EU 탈퇴"), 1), ("line\u2028sep", ("A\u0085B",), 2),
        ("last", ("z",), 4)]
    assert _glossary(tmp_path, codecs.BOM_UTF8 + b"a\tb\n").entries[0].source == "a"


@pytest.mark.parametrize(("data", "where"), [
    (b"ok\tfine\nno tab here\n", "g.tsv:2: expected"),
    (b"ok\tfine\n\ttarget only\n", "g.tsv:2: expected"),
    (b"a\tb\tc\n", "g.tsv:1: expected"),
    (b"a\tb|\n", "g.tsv:1: expected"),
    (b"ok\tfine\n\xff\tx\n", "g.tsv:2: not UTF-8"),
])
def test_bad_lines_name_file_and_line(tmp_path, data, where):
    with pytest.raises(UsageError, match=where) as info:
        _glossary(tmp_path, data)
    assert "\n" not in str(info.value)
