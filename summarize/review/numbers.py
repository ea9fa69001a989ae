"""Numbers in text, read as values: the ``numbers`` check of the review.

Both sides are NFKC-normalised; ``1,000`` / ``1.000`` / ``1 000``, decimal commas, scale
words and Chinese, Japanese and Korean units are read as values (see
:mod:`summarize.review.signals` for the rules a reviewer reads).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

from summarize.languages import same_language
from summarize.review.flags import Flag

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
    english = same_language(source_lang, "en")
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
