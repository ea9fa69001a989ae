"""Flag doubtful summaries and translations for review, from the texts alone (no model).

Each check returns small :class:`Flag` records (``kind`` plus a short human reason); the two
entry points are :func:`check_translation` (one translated sentence) and
:func:`check_summary` (one summary against its article). :func:`check_record` runs both
over a results.jsonl record, :func:`review_score` orders articles by how much needs review.

Kinds:

- ``empty``: the output is empty while the input is not.
- ``cut``: generation stopped at the token limit, so the output is probably cut.
- ``repeat``: the output loops: one token 4+ times or a 2-8 token n-gram 3+ times in a row
  (for Han/kana text, counted per character, the run must cover 8+ characters), a 4-word
  n-gram 3+ times anywhere, or a 40-character stretch (20 for Han/kana) twice. A translation
  whose source repeats itself (by the same tests, a little looser) is not flagged.
- ``copy``: the translation is (nearly) the source, when the languages differ: 80% of the
  source's distinct lowercase words kept as they are and a ``difflib`` ratio >= 0.8 on the
  casefolded letters and digits. Sources with fewer than 3 distinct lowercase words (names,
  numbers, a title in capitals) legitimately stay as they are and are never flagged.
- ``wrong_lang``: only with a ``detect`` callable (text -> language code or None): it names a
  language other than the target on an output of 20+ letters.
- ``length``: output characters / source characters outside the bounds measured for the pair
  (:data:`LENGTH_BOUNDS`), for sources of 20+ characters.
- ``numbers``: a number of the source is missing or changed in the output. Both sides are
  NFKC-normalised (full-width digits and ``％``); ``1,000`` / ``1.000`` / ``1 000``, decimal
  commas, scale words (``million``, ``bn``, ``Millionen``, ``millones``) and Chinese,
  Japanese and Korean units (``3만`` = 30000, ``2천`` = 2000, ``1억 2천만``, ``万``, ``億``,
  ``亿``, ``兆``) are all read as values, units such as ``%`` / ``퍼센트`` are ignored, and
  ``7 pm`` may become 19 (and ``19:30`` 7:30). Numbers a translator converts (miles, mph,
  inches, feet, pounds, °F, ranges of them; decades ``the 1930s`` -> ``30年代``; "100
  percent") need not appear; ``1950-53`` and ``SS19`` may become ``1953`` and ``2019``.
  Precision first: a source integer up to 20 that is missing is
  not flagged unless the output holds a number nothing explains (it may be written in words,
  ``세 명``, ``三人``), and month names and number words of an English source explain
  output numbers (``Sept. 30`` -> ``9월 30일``).
- ``glossary``: a glossary source term occurs in the source (case-insensitive, whole word
  for cased scripts, substring otherwise) and none of its target terms occurs in the output
  (case-insensitive substring, so inflections and Korean particles still match).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from summarize.errors import UnsupportedLanguageError, UsageError
from summarize.languages import normalize_lang

#: Every kind of flag, in the order reports list them.
KINDS = ("empty", "cut", "repeat", "copy", "wrong_lang", "length", "numbers", "glossary")

#: Weight of each kind in :func:`review_score`: how surely it means a bad output.
WEIGHTS = {"empty": 3.0, "cut": 2.0, "repeat": 2.0, "copy": 2.0, "wrong_lang": 2.0,
           "numbers": 1.5, "glossary": 1.0, "length": 1.0}


@dataclass(frozen=True)
class Flag:
    """One reason to look at an output.

    Attributes:
        kind: One of :data:`KINDS`.
        reason: A short human explanation ("number 1,250 missing").
    """

    kind: str
    reason: str


@dataclass(frozen=True)
class Confidence:
    """Token log-probabilities of one output, summarised (natural log, <= 0)."""

    mean: float
    min: float


# --- length bounds ----------------------------------------------------------------------------

#: Output chars / source chars bounds per (source, target), measured with
#: ``python benchmarks/length_ratios.py`` on the 1,997 NTREX-128 news sentences (human
#: translations of WMT19 English news): low = min(0.1th percentile of all sentences, 0.5th
#: of sources under 40 chars), high = max(99.9th of all, 99.5th of short sources), rounded
#: outward to 2 decimals. Reverse pairs use the inverse bounds.
LENGTH_BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("en", "ko"): (0.29, 1.70),
    ("en", "ja"): (0.24, 1.38),
    ("en", "zh"): (0.17, 1.33),
    ("en", "zh-Hant"): (0.13, 1.38),
    ("en", "de"): (0.69, 2.65),
    ("en", "fr"): (0.60, 2.58),
    ("en", "es"): (0.46, 2.38),
}
#: Sources shorter than this many characters are not length-checked: ratios of very short
#: sentences ("Yes.", a name) spread too wide to mean anything.
MIN_LENGTH_CHARS = 20
#: Characters per English character for the generic fallback (NTREX medians: ko 0.53, ja
#: 0.46, zh 0.34-0.35); other languages count as 1.
_DENSITY = {"ko": 0.53, "ja": 0.46, "zh": 0.34, "zh-Hant": 0.35}
#: The fallback bounds around the expected ratio, as wide as the widest measured pair.
_FALLBACK_SPREAD = (0.4, 2.5)


def _canon(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return normalize_lang(code)
    except UnsupportedLanguageError:
        return code.strip().lower()


def _same_language(a: str | None, b: str | None) -> bool:
    ca, cb = _canon(a), _canon(b)
    if ca is None or cb is None:
        return False
    return ca.split("-")[0] == cb.split("-")[0]


def length_bounds(source_lang: str, target_lang: str) -> tuple[float, float]:
    """Normal range of output/source character ratios for a language pair.

    Args:
        source_lang: Source language code.
        target_lang: Target language code.

    Returns:
        (low, high): measured bounds from :data:`LENGTH_BOUNDS` (or their inverse for the
        reverse pair), else the expected density ratio widened by ``(0.4, 2.5)``.
    """
    src, tgt = _canon(source_lang) or "en", _canon(target_lang) or "en"
    if (src, tgt) in LENGTH_BOUNDS:
        return LENGTH_BOUNDS[src, tgt]
    if (tgt, src) in LENGTH_BOUNDS:
        low, high = LENGTH_BOUNDS[tgt, src]
        return 1 / high, 1 / low
    expected = _DENSITY.get(tgt, 1.0) / _DENSITY.get(src, 1.0)
    return expected * _FALLBACK_SPREAD[0], expected * _FALLBACK_SPREAD[1]


# --- tokens and repetition --------------------------------------------------------------------

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = regex.compile(rf"[{_CJK}]|(?V1)[[\p{{L}}\p{{N}}\p{{M}}]--[{_CJK}]]+")
_LETTER = regex.compile(r"\p{L}")
_CJK_CHAR = regex.compile(f"[{_CJK}]")
_CASED_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’-]*")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def _tandem(tokens: list[str], cjk: bool = False) -> str | None:
    """A run of one n-gram repeated back to back, as text, or None.

    Words: one token 4+ times or a 2-8 token n-gram 3+ times in a row. Han/kana characters:
    the run must also cover 8+ characters (ああ、ああ is an interjection, not a loop).
    """
    for n in range(1, 9):
        need = 4 if n == 1 else 3
        if cjk:
            need = max(need, -(-8 // n))
        for i in range(len(tokens) - n * need + 1):
            gram = tokens[i:i + n]
            if all(tokens[i + k * n:i + (k + 1) * n] == gram for k in range(1, need)):
                return " ".join(gram)
    return None


def _is_cjk(tokens: list[str]) -> bool:
    return sum(1 for t in tokens if _CJK_CHAR.fullmatch(t)) > len(tokens) / 2


def _frequent_ngram(tokens: list[str], n: int) -> str | None:
    """An n-gram occurring 3+ times without overlapping, or None."""
    positions: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(tokens) - n + 1):
        kept = positions.setdefault(tuple(tokens[i:i + n]), [])
        if not kept or i - kept[-1] >= n:
            kept.append(i)
            if len(kept) >= 3:
                return " ".join(tokens[i:i + n])
    return None


def _repeated_span(text: str, n_chars: int) -> str | None:
    """A stretch of ``n_chars``+ characters that occurs twice without overlapping, or None."""
    flat = " ".join(text.casefold().split())
    seen: dict[str, int] = {}
    for i in range(len(flat) - n_chars + 1):
        chunk = flat[i:i + n_chars]
        first = seen.setdefault(chunk, i)
        if i - first >= n_chars:
            return chunk
    return None


def _repetition(text: str, *, loose: bool = False) -> str | None:
    """Why ``text`` looks like a generation loop, or None.

    Word text: a 4-word n-gram 3+ times or a 40-character stretch twice. Han/kana text
    (one token per character): a 20-character stretch twice. ``loose`` (used on a source,
    to excuse a translation that repeats what its source repeats) lowers these to 3 words
    and 30 / 15 characters.
    """
    tokens = _tokens(text)
    cjk = _is_cjk(tokens)
    gram = _tandem(tokens, cjk)
    if gram is not None:
        return f"'{_short(gram)}' repeated back to back"
    if not cjk:
        gram = _frequent_ngram(tokens, 3 if loose else 4)
        if gram is not None:
            return f"'{_short(gram)}' occurs 3 or more times"
    span = _repeated_span(text, (15 if cjk else 30) if loose else (20 if cjk else 40))
    if span is not None:
        return f"'{_short(span)}' occurs twice"
    return None


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --- numbers ----------------------------------------------------------------------------------

_NUMBER = regex.compile(r"(?<!\d)(?:\d{1,3}(?: \d{3})+(?![\d.,])|\d+(?:[.,'’]\d+)*)")
_SCALES = [
    (r"mil\s+millones", 1e9), (r"trillions?|trillion|tn", 1e12),
    (r"billions?|bn|milliards?|mrd\.?|milliarden?", 1e9), (r"billones|billón", 1e12),
    (r"millions?|mn|mio\.?|millionen|millones|millón|million", 1e6),
    (r"thousands?|tausend|tsd\.?|mille|mil", 1e3), (r"m", 1e6), (r"k", 1e3),
]
_SCALE = regex.compile(
    r"\A\s?(" + "|".join(p for p, _ in _SCALES) + r")(?![\p{L}])", regex.IGNORECASE)
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000, "십": 10, "백": 100, "천": 1000}
_BIG_UNITS = {"万": 1e4, "萬": 1e4, "만": 1e4, "億": 1e8, "亿": 1e8, "억": 1e8,
              "兆": 1e12, "조": 1e12}
_CJK_UNIT = regex.compile(r"\A\s?([十百千십백천])?([万萬億亿兆만억조])?")
_PM = regex.compile(r"\A(?::\d\d)?\s?(?:p\.?\s?m\b\.?|pm\b)", regex.IGNORECASE)
_HAN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
               "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_HAN_NUMERAL = regex.compile(r"[〇零一二两兩三四五六七八九十百千]+")
_MONTHS = {m: i for i, names in enumerate(
    ["january jan", "february feb", "march mar", "april apr", "may", "june jun",
     "july jul", "august aug", "september sept sep", "october oct", "november nov",
     "december dec"], start=1) for m in names.split()}
_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_WORDS.update({w: i for i, w in enumerate(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
    "twelfth".split()) if i})
_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
               "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12, "half": 0.5,
               "noon": 12, "midnight": 0, "once": 1, "twice": 2, "thousand": 1000,
               "million": 1e6, "billion": 1e9})
_ENGLISH_WORD = regex.compile(r"[a-z]+")
#: Missing source integers up to this value may be written as words in the output.
_SMALL_INT = 20


def _key(value: float) -> float:
    return float(f"{value:.10g}")


@dataclass(frozen=True)
class _Num:
    """A number found in text.

    Attributes:
        text: As written.
        values: The values it may stand for.
        parts: Its digit groups (10.30 -> 10, 30), for a translation that splits them.
        optional: A source number a translator may convert away (miles, °F, the 1930s).
    """

    text: str
    values: frozenset[float]
    parts: tuple[float, ...] = ()
    optional: bool = False


#: Imperial and US units a translation often converts (85 mph -> 136 km/h).
_CONVERTIBLE = regex.compile(
    r"\A\s?-?\s?(?:miles?|mph|inch(?:es)?|foot|feet|ft|yards?|yds?|pounds?|lbs?|ounces?|oz|"
    r"gallons?|acres?|degrees?|°\s?f|ºf|fahrenheit)(?![\p{L}])", regex.IGNORECASE)
_UNIT_WORDS = (r"miles?|mph|inch(?:es)?|foot|feet|ft|yards?|yds?|pounds?|lbs?|ounces?|oz|"
               r"gallons?|acres?|degrees?|°\s?f|ºf|fahrenheit")
#: The first number of a range whose second one has a convertible unit (2 to 4 inches).
_RANGE_TO_UNIT = regex.compile(
    r"\A\s?(?:to|-|–|and|or)\s?\d+(?:[.,]\d+)?\s?-?\s?(?:" + _UNIT_WORDS + r")(?![\p{L}])",
    regex.IGNORECASE)
_PERCENT_100 = regex.compile(r"\A\s?(?:%|per\s?cent|percent)", regex.IGNORECASE)
#: A two-digit year: 1950-53, SS19, FY19, '19.
_SHORT_YEAR_BEFORE = regex.compile(r"(?:\d{4}[-–/]|[A-Za-z]|['’])\Z")
_AFTER_FEET = regex.compile(r"(?<![\p{L}])(?:foot|feet|ft)[- ]?\Z", regex.IGNORECASE)
_DECADE = regex.compile(r"\A['’]?s(?![\p{L}])")
_CLOCK = regex.compile(r"\A:\d\d")
#: Characters after and before a number that the patterns above read (the longest,
#: "to 1,500.5 - miles", and "feet- " with the letter before it, fit well inside).
_LOOK = 80
_LOOK_BEHIND = 12


def _read_digits(token: str) -> tuple[set[float], tuple[float, ...]]:
    """Values a digit string may stand for (``1,000`` -> {1000, 1.0}) and its groups."""
    if " " in token:
        return {float(token.replace(" ", ""))}, tuple(float(g) for g in token.split())
    groups = re.split(r"[.,'’]", token)
    seps = re.findall(r"[.,'’]", token)
    parts = tuple(float(g) for g in groups)
    if not seps:
        return {float(token)}, ()
    tail_ok = all(len(g) == 3 for g in groups[1:])
    if len(seps) == 1:
        if seps[0] in "'’":
            return ({float("".join(groups))} if tail_ok else set()), parts
        decimal = float(f"{groups[0]}.{groups[1]}")
        return ({decimal, float("".join(groups))} if tail_ok else {decimal}), parts
    if len(set(seps)) == 1:  # 1,234,567 or 1.234.567; else a date such as 30.09.2019
        return ({float("".join(groups))} if tail_ok else set()), parts
    *_, last = seps  # 1,234.56 / 1.234,56: the last separator is the decimal point
    head, _, frac = token.rpartition(last)
    head_groups = re.split(r"[.,'’]", head)
    if all(len(g) == 3 for g in head_groups[1:]) and last not in head:
        return {float(f"{''.join(head_groups)}.{frac}")}, parts
    return set(), parts


def _han_value(text: str) -> float | None:
    """Value of a Chinese numeral such as 三, 十二, 二百五十 (None when not one)."""
    total, current = 0, 0
    for ch in text:
        if ch in _HAN_DIGITS:
            current = current * 10 + _HAN_DIGITS[ch] if current else _HAN_DIGITS[ch]
        elif ch in _SMALL_UNITS:
            total += (current or 1) * _SMALL_UNITS[ch]
            current = 0
        else:
            return None
    return float(total + current)


def _cjk_unit(rest: str) -> tuple[int, float, int] | None:
    """(small unit, big unit, length) of the Chinese/Japanese/Korean unit opening ``rest``."""
    unit = _CJK_UNIT.match(rest)
    if not unit or not unit.group(0).strip():
        return None
    return (_SMALL_UNITS.get(unit.group(1) or "", 1), _BIG_UNITS.get(unit.group(2) or "", 1),
            len(unit.group(0)))


def _numbers(text: str, *, english: bool = False) -> tuple[list[_Num], list[float]]:
    """Numbers in ``text`` and the values its words may stand for.

    Returns:
        The numbers written with digits (CJK units and scale words applied; ``3만 5천``
        and ``1억 2천만`` are one number each), and the values of Chinese numerals and, for
        English text, of month names and number words: these explain numbers without
        being required.
    """
    text = unicodedata.normalize("NFKC", text)
    found: list[_Num] = []
    matches = list(_NUMBER.finditer(text))
    i = 0
    while i < len(matches):
        match = matches[i]
        values, parts = _read_digits(match.group())
        # what follows and precedes the number, as far as any pattern below looks (a slice
        # of the whole text per number would make long articles quadratic)
        rest = text[match.end():match.end() + _LOOK]
        before = text[max(0, match.start() - _LOOK_BEHIND):match.start()]
        unit = _cjk_unit(rest)
        if unit is not None:
            # a CJK compound: 37만 5,000 / 1억 4천 2백만 / 3億5000万 (standard section rule)
            total, section, end = 0.0, 0.0, match.end() + unit[2]
            first = {v * unit[0] * unit[1] for v in values}
            j = i
            while True:
                small, big, _ = unit if unit else (1, 1, 0)
                section += max(_read_digits(matches[j].group())[0] or {0.0}) * small
                if big > 1:
                    total += section * big
                    section = 0.0
                nxt = matches[j + 1] if j + 1 < len(matches) else None
                if nxt is None or unit is None or text[end:nxt.start()].strip() \
                        or nxt.start() - end > 1:
                    break
                j += 1
                unit = _cjk_unit(text[nxt.end():nxt.end() + _LOOK])
                end = nxt.end() + (unit[2] if unit else 0)
            total += section
            found.append(_Num(text[match.start():end],
                              frozenset(_key(v) for v in first | values | {total}), parts))
            i = j + 1
            continue
        values = set(values)
        optional = False
        scale = _SCALE.match(rest)
        if scale:
            factor = next(f for p, f in _SCALES
                          if regex.fullmatch(p, scale.group(1), regex.IGNORECASE))
            values |= {v * factor for v in values}
        if _PM.match(rest):
            values |= {v + 12 for v in values if v < 12}
            if parts:  # 5.30pm -> 17 h 30, 午後5時半
                values |= {parts[0], parts[0] + 12}
        if _CLOCK.match(rest):  # 19:30 -> 7:30 pm, 7:30 -> 19:30
            values |= {v - 12 for v in values if 12 < v <= 24} | {v + 12 for v in values
                                                                  if v < 12}
        if (_CONVERTIBLE.match(rest) or _RANGE_TO_UNIT.match(rest)
                or _AFTER_FEET.search(before)):
            optional = True
        if values == {100.0} and _PERCENT_100.match(rest):
            optional = True  # "100 percent certain" is often rendered "absolutely"
        if (len(match.group()) == 2 and values and
                _SHORT_YEAR_BEFORE.search(before)):
            values |= {1900 + v for v in values} | {2000 + v for v in values}
        if _DECADE.match(rest) and values and all(v % 10 == 0 for v in values):
            optional = True  # the 1930s -> 30年代, años 30, 20世纪30年代
            values |= {v % 100 for v in values}
        if not values:  # a date such as 30.09.2019: its groups are the numbers
            found.extend(_Num(str(int(p)), frozenset({p})) for p in parts)
        else:
            found.append(_Num(match.group(), frozenset(_key(v) for v in values), parts,
                              optional))
        i += 1
    words: list[float] = []
    if english:
        for word in _ENGLISH_WORD.findall(text.lower()):
            if word in _MONTHS:
                words.append(float(_MONTHS[word]))
            elif word in _WORDS:
                words.append(float(_WORDS[word]))
    for numeral in _HAN_NUMERAL.findall(text):
        value = _han_value(numeral)
        if value is not None:
            words.append(_key(value))
    return found, words


def _number_flags(source: str, output: str, *, source_lang: str | None,
                  what: str = "output") -> list[Flag]:
    """Numbers of ``source`` missing from or changed in ``output``."""
    english = _same_language(source_lang, "en")
    src, _ = _numbers(source, english=english)
    if not src:
        return []
    out, out_words = _numbers(output)
    _, src_words = _numbers(source, english=english)
    unmatched_out = list(out)
    missing: list[_Num] = []
    for num in src:
        hit = next((o for o in unmatched_out if o.values & num.values), None)
        if hit is not None:
            unmatched_out.remove(hit)
        else:
            missing.append(num)
    # a number read as one value may have been written as its groups (10.30 -> 10:30)
    for num in list(missing):
        if num.parts and len(num.parts) > 1:
            hits = []
            pool = list(unmatched_out)
            for part in num.parts:
                hit = next((o for o in pool if _key(part) in o.values), None)
                if hit is None:
                    break
                hits.append(hit)
                pool.remove(hit)
            else:
                missing.remove(num)
                unmatched_out = pool
    for num in [m for m in missing if m.optional]:
        missing.remove(num)  # converted (85 mph -> 136 km/h): its output number is explained
        if unmatched_out:
            unmatched_out.pop(0)
    if not missing:
        return []
    # output numbers explained by words of the source (months, "three", "first")
    for value in src_words:
        hit = next((o for o in unmatched_out if _key(value) in o.values), None)
        if hit is not None:
            unmatched_out.remove(hit)
    # a missing number may be written in words in the output (세 명, 三人)
    for value in out_words:
        hit = next((m for m in missing if _key(value) in m.values), None)
        if hit is not None:
            missing.remove(hit)
    flags = []
    if unmatched_out and missing:
        shown = ", ".join(n.text for n in missing)
        found = ", ".join(n.text for n in unmatched_out)
        flags.append(Flag("numbers", f"number {shown} changed (the {what} has {found})"))
    else:
        serious = [n for n in missing
                   if not all(v.is_integer() and abs(v) <= _SMALL_INT for v in n.values)]
        if serious:
            flags.append(Flag("numbers", f"number {', '.join(n.text for n in serious)} "
                                         f"missing from the {what}"))
    return flags


# --- glossary ---------------------------------------------------------------------------------


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
            if _CASED_WORD.search(term) and any(c.lower() != c.upper() for c in term):
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
                             f"got {_short(line)!r}")
        entries.append(GlossaryEntry(fields[0].strip(), targets, line_no))
    return Glossary(tuple(entries))


# --- the checks -------------------------------------------------------------------------------


def _is_copy(source: str, output: str) -> bool:
    """The output is (nearly) the source: 80% of its lowercase words kept and 0.8 similar.

    Capitalised words (names, titles) legitimately stay as they are, so only sources with
    3+ distinct lowercase words are judged, and by those words; caseless scripts need 10+
    letters and are judged by similarity alone.
    """
    words = [w for w in _CASED_WORD.findall(source) if w.lower() != w.upper()]
    if words:
        lower = {w for w in words if w[0].islower()}
        if len(lower) < 3:
            return False  # names, numbers, a title in caps: these may stay as they are
        kept = set(_CASED_WORD.findall(output))
        if sum(1 for w in lower if w in kept) < 0.8 * len(lower):
            return False
    elif len(_LETTER.findall(source)) < 10:
        return False
    a = "".join(_tokens(source))
    b = "".join(_tokens(output))
    if not a or not b:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.8


def check_translation(source: str, output: str, *, source_lang: str, target_lang: str,
                      hit_limit: bool = False, glossary: Glossary | None = None,
                      detect: Callable[[str], str | None] | None = None) -> list[Flag]:
    """Flag a doubtful translation of one sentence.

    Args:
        source: The source sentence.
        output: Its translation.
        source_lang: Source language code.
        target_lang: Target language code.
        hit_limit: Generation stopped at the token limit.
        glossary: Terms that must be translated a given way.
        detect: Optional language detector (text -> code or None) for ``wrong_lang``.

    Returns:
        The flags, in :data:`KINDS` order; empty when nothing looks wrong.
    """
    flags: list[Flag] = []
    if not source.strip():
        return flags
    if not output.strip():
        flags.append(Flag("empty", "the translation is empty"))
    if hit_limit:
        flags.append(Flag("cut", "generation stopped at the token limit; probably cut"))
    if flags and flags[0].kind == "empty":
        return flags
    why = _repetition(output)
    if why is not None and _repetition(source, loose=True) is None:
        flags.append(Flag("repeat", why))
    different = not _same_language(source_lang, target_lang)
    if different and _is_copy(source, output):
        flags.append(Flag("copy", "the translation is a copy of the source"))
    if detect is not None and len(_LETTER.findall(output)) >= 20:
        found = detect(output)
        if found and not _same_language(found, target_lang):
            flags.append(Flag("wrong_lang", f"the translation looks like {found}, "
                                            f"not {target_lang}"))
    if len(source.strip()) >= MIN_LENGTH_CHARS:
        low, high = length_bounds(source_lang, target_lang)
        ratio = len(output.strip()) / len(source.strip())
        if ratio < low:
            flags.append(Flag("length", f"translation is {ratio:.2f}x the source's length "
                                        f"(normal {low:.2f}-{high:.2f}); something is missing"))
        elif ratio > high:
            flags.append(Flag("length", f"translation is {ratio:.2f}x the source's length "
                                        f"(normal {low:.2f}-{high:.2f}); something was added"))
    flags.extend(_number_flags(source, output, source_lang=source_lang, what="translation"))
    if glossary is not None:
        for entry in glossary.missing(source, output):
            flags.append(Flag("glossary", f"'{entry.source}' should be translated as "
                                          f"'{' or '.join(entry.targets)}'"))
    return flags


def check_summary(article: str, summary: str, *, lang: str, hit_limit: bool = False,
                  detect: Callable[[str], str | None] | None = None) -> list[Flag]:
    """Flag a doubtful summary of one article.

    Checks ``empty``, ``cut``, ``repeat``, ``wrong_lang`` (with ``detect``), ``length`` (a
    summary longer than an article of 200+ characters) and ``numbers`` (a number of the
    summary found nowhere in the article: a classic unfaithful-summary error).

    Args:
        article: The article text.
        summary: Its summary.
        lang: Language of both.
        hit_limit: Generation stopped at the token limit.
        detect: Optional language detector (text -> code or None).

    Returns:
        The flags, in :data:`KINDS` order.
    """
    flags: list[Flag] = []
    if not article.strip():
        return flags
    if not summary.strip():
        return [Flag("empty", "the summary is empty")] + (
            [Flag("cut", "generation stopped at the token limit")] if hit_limit else [])
    if hit_limit:
        flags.append(Flag("cut", "generation stopped at the token limit; probably cut"))
    why = _repetition(summary)
    if why is not None:
        flags.append(Flag("repeat", why))
    if detect is not None and len(_LETTER.findall(summary)) >= 20:
        found = detect(summary)
        if found and not _same_language(found, lang):
            flags.append(Flag("wrong_lang", f"the summary looks like {found}, not {lang}"))
    if len(article.strip()) >= 200 and len(summary.strip()) > len(article.strip()):
        flags.append(Flag("length", "the summary is longer than the article"))
    # reversed roles: every number of the summary should come from the article
    flags.extend(_summary_numbers(article, summary, lang))
    return flags


def _summary_numbers(article: str, summary: str, lang: str) -> list[Flag]:
    english = _same_language(lang, "en")
    in_summary, _ = _numbers(summary, english=False)
    if not in_summary:
        return []
    in_article, article_words = _numbers(article, english=english)
    known = set().union(*(n.values for n in in_article)) if in_article else set()
    known |= {_key(v) for v in article_words}
    invented = [n for n in in_summary if not n.values & known
                and not (n.parts and all(_key(p) in known for p in n.parts))]
    if not invented:
        return []
    return [Flag("numbers", f"number {', '.join(n.text for n in invented)} is not in the "
                            "article")]


# --- confidence and ordering ------------------------------------------------------------------


def confidence(logprobs: Sequence[float]) -> Confidence:
    """Mean and lowest token log-probability of one output.

    Args:
        logprobs: Natural-log probabilities of the generated tokens.

    Returns:
        The summary.

    Raises:
        ValueError: ``logprobs`` is empty.
    """
    values = [float(v) for v in logprobs]
    if not values:
        raise ValueError("confidence() needs at least one token log-probability")
    return Confidence(mean=math.fsum(values) / len(values), min=min(values))


#: Mean token log-probability above which an output counts as confident (nats).
CONFIDENT_MEAN = -1.0
#: Most that low confidence adds to :func:`review_score`.
MAX_CONFIDENCE_PENALTY = 3.0


def review_score(flags: Iterable[Flag], confidences: Iterable[Confidence] = ()) -> float:
    """How much an article needs review; higher first.

    The score is the sum of :data:`WEIGHTS` of its flags (empty 3; cut, repeat, copy and
    wrong_lang 2; numbers 1.5; glossary and length 1) plus how far the least confident
    output's mean token log-probability falls below -1 nat, capped at 3. An article with no
    flag and confident outputs scores 0.

    Args:
        flags: Every flag of the article (summary and all translated sentences).
        confidences: Confidence of each of its outputs (sentences, summary).

    Returns:
        The score (>= 0).
    """
    score = math.fsum(WEIGHTS.get(f.kind, 1.0) for f in flags)
    means = [c.mean for c in confidences]
    if means:
        score += min(MAX_CONFIDENCE_PENALTY, max(0.0, CONFIDENT_MEAN - min(means)))
    return score


# --- one record -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFlag:
    """A flag with where it was raised in a results.jsonl record.

    Attributes:
        part: ``summary`` (the summary itself) or the translated part (``summary``/``article``).
        lang: Target language of a translation; None for the summary itself.
        paragraph: Paragraph index of the translated sentence (None for the summary).
        sentence: Sentence index within the paragraph (None for the summary).
        source: The source sentence (None for the summary).
        flag: The flag.
    """

    part: str
    lang: str | None
    paragraph: int | None
    sentence: int | None
    source: str | None
    flag: Flag


def check_record(record: Any, *, source_lang: str | None = None,
                 glossaries: dict[str, Glossary] | None = None,
                 detect: Callable[[str], str | None] | None = None) -> list[RecordFlag]:
    """Run every check over one results.jsonl record (summary and aligned sentences).

    Args:
        record: A results.jsonl record (a dict, or the ``ArticleResult`` dataclass).
        source_lang: Language of the article; the record's ``lang`` (else ``en``) when None.
        glossaries: A glossary per target language.
        detect: Optional language detector for ``wrong_lang``.

    Returns:
        The flags with their place; empty for a failed record.
    """
    if not isinstance(record, dict):  # an ArticleResult dataclass
        record = dataclasses.asdict(record)
    if record.get("status") != "ok":
        return []
    lang = source_lang or record.get("lang") or "en"
    found: list[RecordFlag] = []
    summary = record.get("summary")
    if isinstance(summary, str) and record.get("text"):
        for flag in check_summary(record["text"], summary, lang=lang, detect=detect):
            found.append(RecordFlag("summary", None, None, None, None, flag))
    for target, parts in (record.get("alignment") or {}).items():
        glossary = (glossaries or {}).get(target)
        for part, paragraphs in (parts or {}).items():
            for p, paragraph in enumerate(paragraphs or []):
                for s, pair in enumerate(paragraph):
                    src, out = pair[0], pair[1]
                    for flag in check_translation(src, out, source_lang=lang,
                                                  target_lang=target, glossary=glossary,
                                                  detect=detect):
                        found.append(RecordFlag(part, target, p, s, src, flag))
    return found
