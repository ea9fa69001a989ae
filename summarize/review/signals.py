"""Flag doubtful summaries and translations for review, from the texts alone (no model).

Each check returns small :class:`Flag` records (``kind`` plus a short human reason); the two
entry points are :func:`check_translation` (one translated sentence) and
:func:`check_summary` (one summary against its article). :func:`check_record` runs both
over a results.jsonl record, :func:`review_score` orders articles by how much needs review.

Kinds:

- ``empty``: the output has no letter or digit (nothing, spaces, control characters, bare
  punctuation) while its input has some.
- ``refusal``: the output begins as a chat model's refusal ("I'm sorry, but…", "죄송하지만",
  "我无法翻译", see :func:`summarize.text.chatter.find_refusal`) and its source does not.
- ``chatter``: chat leftovers the cleaning could not remove: template tokens, a preamble
  line, filler such as "I hope this helps" (:func:`summarize.text.chatter.find_chatter`),
  when the source has none.
- ``cut``: generation stopped at the token limit, so the output is probably cut.
- ``repeat``: the output loops: one token 4+ times or a 2-8 token n-gram 3+ times in a row
  (for Han/kana text, counted per character, the run must cover 8+ characters), a 4-word
  n-gram 3+ times anywhere, or a 40-character stretch (20 for Han/kana) twice. A translation
  whose source repeats itself (by the same tests, a little looser) is not flagged.
- ``copy``: the translation is (nearly) the source, when the languages differ: 80% of the
  source's distinct lowercase words kept as they are and a ``difflib`` ratio >= 0.8 on the
  casefolded letters and digits. Sources with fewer than 3 distinct lowercase words (names,
  numbers, a title in capitals) legitimately stay as they are and are never flagged.
- ``wrong_lang``: the output is written in another script than its language's: Chinese
  characters (or kana) making up 30%+ of a Korean output's CJK letters, 4 or more (the
  known drift of chat models asked for Korean), Hangul in a Chinese or Japanese output, kana
  in a Chinese one; and, with a ``detect`` callable (text -> language code or None), the
  detector names another language on an output of 20+ letters.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from summarize.errors import UnsupportedLanguageError
from summarize.languages import normalize_lang, same_language
from summarize.review.flags import CASED_WORD as _CASED_WORD
from summarize.review.flags import WEIGHTS, Confidence, Flag
from summarize.review.flags import short as _short
from summarize.review.glossary import Glossary
from summarize.review.numbers import _key, _number_flags, _numbers
from summarize.text.chatter import find_chatter, find_refusal

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
#: What an output with content has: a letter or a digit of any script.
_CONTENT = regex.compile(r"[\p{L}\p{N}]")
_HANGUL = regex.compile(r"\p{Hangul}")
_HAN = regex.compile(r"\p{Han}")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
#: Characters of a foreign CJK script that make an output "written in another language":
#: at least this many, and this share of its CJK letters.
_DRIFT_MIN_CHARS = 4
_DRIFT_SHARE = 0.3


def is_blank(text: str) -> bool:
    """Whether ``text`` has no letter or digit: empty, spaces, control characters or bare
    punctuation. An output like that is ``empty`` whatever its length."""
    return _CONTENT.search(text) is None


def _script_drift(text: str, target_lang: str) -> str | None:
    """The language an output's CJK script says it is in, when that is not the target's.

    Korean is written in Hangul, Japanese in kana and Han, Chinese in Han alone: an output
    for Korean whose Han characters (or kana) are 30%+ of its CJK letters, 4 or more, is
    Chinese (or Japanese); Hangul in Chinese or Japanese, or kana in Chinese, likewise.
    Hanja in Korean news ("文 대통령") stay far under these lines.

    Returns:
        ``zh``, ``ja`` or ``ko``, or None when the script fits (or the target is not CJK).
    """
    target = _canon(target_lang)
    if target not in ("ko", "ja", "zh", "zh-Hant"):
        return None
    hangul, han, kana = (len(p.findall(text)) for p in (_HANGUL, _HAN, _KANA))
    total = hangul + han + kana

    def drifts(foreign: int) -> bool:
        return foreign >= _DRIFT_MIN_CHARS and foreign >= _DRIFT_SHARE * total

    if target == "ko" and drifts(han + kana):
        return "ja" if kana >= _DRIFT_MIN_CHARS else "zh"
    if target != "ko" and drifts(hangul):
        return "ko"
    if target in ("zh", "zh-Hant") and drifts(kana):
        return "ja"
    return None


def _wrong_language(output: str, target_lang: str,
                    detect: Callable[[str], str | None] | None) -> str | None:
    """The language ``output`` is in when it is not ``target_lang``, or None."""
    found = _script_drift(output, target_lang)
    if found is None and detect is not None and len(_LETTER.findall(output)) >= 20:
        found = detect(output)
    return found if found and not same_language(found, target_lang) else None


def _chat_flags(source: str, output: str, what: str) -> list[Flag]:
    """``refusal`` and ``chatter`` flags of an output whose source has neither."""
    flags = []
    why = find_refusal(output)
    if why is not None and find_refusal(source) is None:
        flags.append(Flag("refusal", f"the {what} {why}"))
    why = find_chatter(output)
    if why is not None and find_chatter(source) is None:
        flags.append(Flag("chatter", why))
    return flags


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
    if is_blank(source):
        return flags
    empty = is_blank(output)
    if empty:
        flags.append(Flag("empty", "the translation is empty"))
    else:
        flags.extend(_chat_flags(source, output, "translation"))
    if hit_limit:
        flags.append(Flag("cut", "generation stopped at the token limit; probably cut"))
    if empty:
        return flags
    why = _repetition(output)
    if why is not None and _repetition(source, loose=True) is None:
        flags.append(Flag("repeat", why))
    different = not same_language(source_lang, target_lang)
    if different and _is_copy(source, output):
        flags.append(Flag("copy", "the translation is a copy of the source"))
    found = _wrong_language(output, target_lang, detect)
    if found is not None:
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

    Checks ``empty``, ``refusal``, ``chatter``, ``cut``, ``repeat``, ``wrong_lang``,
    ``length`` (a summary longer than an article of 200+ characters) and ``numbers`` (a
    number of the summary found nowhere in the article: a classic unfaithful-summary error).

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
    if is_blank(article):
        return flags
    if is_blank(summary):
        return [Flag("empty", "the summary is empty")] + (
            [Flag("cut", "generation stopped at the token limit")] if hit_limit else [])
    flags.extend(_chat_flags(article, summary, "summary"))
    if hit_limit:
        flags.append(Flag("cut", "generation stopped at the token limit; probably cut"))
    why = _repetition(summary)
    if why is not None:
        flags.append(Flag("repeat", why))
    found = _wrong_language(summary, lang, detect)
    if found is not None:
        flags.append(Flag("wrong_lang", f"the summary looks like {found}, not {lang}"))
    if len(article.strip()) >= 200 and len(summary.strip()) > len(article.strip()):
        flags.append(Flag("length", "the summary is longer than the article"))
    # reversed roles: every number of the summary should come from the article
    flags.extend(_summary_numbers(article, summary, lang))
    return flags


def _summary_numbers(article: str, summary: str, lang: str) -> list[Flag]:
    english = same_language(lang, "en")
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

    The score is the sum of :data:`WEIGHTS` of its flags (empty and refusal 3; cut, repeat,
    copy and wrong_lang 2; numbers and chatter 1.5; glossary and length 1) plus how far the
    least confident output's mean token log-probability falls below -1 nat, capped at 3. An
    article with no flag and confident outputs scores 0.

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
