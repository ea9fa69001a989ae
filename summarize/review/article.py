"""Review one finished article: where a reviewer should look, and why.

The engine calls :func:`review_article` once per ok record, with the generation's own
evidence (token limits hit, token log-probabilities) beside the record's texts; the checks
themselves are :mod:`summarize.review.signals`'. It returns a
:class:`summarize.records.Review`, stored as the record's ``review`` (its JSON shape is
:func:`summarize.records.review_to_json`'s; confidences rounded to 3 decimals, since
results.jsonl may hold 100,000 records). :func:`count_flags` totals the flags of many
records for stats.json (``review_flags``); :func:`glossaries_from_options` reads the
``--glossary`` files; :func:`reliable_language` is the language detector the ``wrong_lang``
check uses.

The review's cells follow the record: ``summary`` is present only when the record has a
summary, ``translations[lang][part]`` is aligned paragraph by paragraph and sentence by
sentence with ``record.alignment[lang][part]``, and the article's ``confidence`` is the
lowest mean and lowest minimum over all its outputs (None when none has one). An article
with no flag and confident outputs scores 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.errors import UsageError
from summarize.records import (
    ArticleResult,
    Confidence,
    Flag,
    Review,
    ReviewCell,
    review_from_json,
)
from summarize.review.flags import KINDS
from summarize.review.glossary import Glossary, load_glossary
from summarize.review.signals import check_summary, check_translation, is_blank, review_score

#: (mean, min) token log-probability of one output, or None when unknown.
Score = tuple[float, float] | Confidence | None
#: Per paragraph, per sentence (aligned with ``ArticleResult.alignment[lang][part]``).
Grid = Sequence[Sequence[Any]]


@dataclass(frozen=True)
class ReviewEvidence:
    """What the generation knew about one article's outputs, beside the record's texts.

    Attributes:
        summary_hit_limit: The final summary stopped at its token limit.
        summary_confidence: (mean, min) token log-probability of the final summary.
        hit_limit: ``{lang: {part: grid of bool}}``, as ``TranslationResult.hit_limit``.
        confidence: ``{lang: {part: grid of (mean, min) | None}}``, as
            ``TranslationResult.confidence``.
        source_langs: Language of each translated part's source text when it is not the
            article's (a summary made through English: ``{"summary": "en"}``).
    """

    summary_hit_limit: bool = False
    summary_confidence: Score = None
    hit_limit: Mapping[str, Mapping[str, Grid]] = field(default_factory=dict)
    confidence: Mapping[str, Mapping[str, Grid]] = field(default_factory=dict)
    source_langs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewSettings:
    """What the checks need beyond the record, the same for every article of a run.

    Attributes:
        glossaries: A glossary per target language (``--glossary``).
        detect: Language detector for ``wrong_lang`` (text -> code, or None when unsure);
            :func:`reliable_language`, or None to skip the check.
        source_lang: Source language for records that name none.
    """

    glossaries: Mapping[str, Glossary] = field(default_factory=dict)
    detect: Callable[[str], str | None] | None = None
    source_lang: str = "en"


def reliable_language(text: str) -> str | None:
    """The language of ``text`` when the detector is sure of it, else None.

    The ``detect`` callable for :class:`ReviewSettings` (fastText ``lid.176``, see
    :mod:`summarize.languages.detect`; loaded on first use).
    """
    from summarize.languages.detect import detect_language

    found = detect_language(text)
    return found.lang if found.reliable else None


def _cell_of(grid: Mapping[str, Mapping[str, Grid]], lang: str, part: str, p: int,
             s: int) -> Any:
    try:
        return grid[lang][part][p][s]
    except (KeyError, IndexError, TypeError):
        return None


def _rounded(score: Any) -> Confidence | None:
    """A (mean, min) pair from the tasks as a :class:`Confidence` rounded to 3 decimals."""
    if isinstance(score, Confidence):
        score = (score.mean, score.min)
    if not isinstance(score, (tuple, list)) or len(score) != 2:
        return None
    mean, low = score
    return Confidence(round(float(mean), 3), round(float(low), 3))


def _in_kinds_order(counts: Counter[str]) -> dict[str, int]:
    return {k: counts[k] for k in (*KINDS, *sorted(set(counts) - set(KINDS))) if counts[k]}


def review_article(record: ArticleResult, evidence: ReviewEvidence,
                   settings: ReviewSettings) -> Review | None:
    """The review of one ok record.

    Runs :func:`summarize.review.signals.check_summary` on the summary and
    :func:`summarize.review.signals.check_translation` on every aligned sentence pair, with the
    token-limit evidence, the target's glossary and the detector; scores the article with
    :func:`summarize.review.signals.review_score`.

    Args:
        record: The article's record (``status`` ok; its ``alignment`` filled).
        evidence: Token limits hit and confidences from the tasks.
        settings: Glossaries, detector and default source language.

    Returns:
        The review; None for a record that is not ok.
    """
    if not record.ok:
        return None
    lang = record.lang or settings.source_lang
    all_flags: list[Flag] = []
    confidences: list[Confidence] = []

    def cell(score: Any, flags: list[Flag]) -> ReviewCell:
        all_flags.extend(flags)
        confidence = _rounded(score)
        if confidence is not None:
            confidences.append(confidence)
        return ReviewCell(confidence, tuple(flags))

    summary: ReviewCell | None = None
    if record.summary is not None:
        summary = cell(evidence.summary_confidence, check_summary(
            record.text, record.summary, lang=evidence.source_langs.get("summary", lang),
            hit_limit=evidence.summary_hit_limit, detect=settings.detect))
    translations: dict[str, dict[str, list[list[ReviewCell]]]] = {}
    for target, parts in record.alignment.items():
        glossary = settings.glossaries.get(target)
        for part, paragraphs in parts.items():
            part_lang = evidence.source_langs.get(part, lang)
            translations.setdefault(target, {})[part] = [
                [cell(_cell_of(evidence.confidence, target, part, p, s), check_translation(
                    pair[0] if len(pair) > 0 else "", pair[1] if len(pair) > 1 else "",
                    source_lang=part_lang, target_lang=target,
                    hit_limit=bool(_cell_of(evidence.hit_limit, target, part, p, s)),
                    glossary=glossary, detect=settings.detect))
                 for s, pair in enumerate(paragraph)]
                for p, paragraph in enumerate(paragraphs)
            ]
    whole: dict[str, dict[str, ReviewCell]] = {}
    for target, part, reason in _empty_translations(record, translations):
        whole.setdefault(target, {})[part] = cell(None, [Flag("empty", reason)])
    return Review(
        score=round(review_score(all_flags, confidences), 3),
        flag_counts=_in_kinds_order(Counter(f.kind for f in all_flags)),
        confidence=Confidence(min(c.mean for c in confidences),
                              min(c.min for c in confidences)) if confidences else None,
        summary=summary,
        translations=translations,
        whole_translations=whole,
    )


def _empty_translations(record: ArticleResult,
                        cells: Mapping[str, Mapping[str, Grid]]) -> list[tuple[str, str, str]]:
    """(lang, part, reason) of every translated text of an article with content that is empty
    (no letter or digit) and has no sentence already flagged ``empty``.

    A summary that came out empty leaves its translations empty too (with no sentence to
    flag): each is flagged, so that a reader of that language sees it.
    """
    if is_blank(record.text):
        return []
    sources = {"summary": record.summary or "", "article": record.text, "title": record.title}
    found = []
    for target, parts in record.translations.items():
        for part, text in parts.items():
            if not is_blank(text) or (part == "title" and is_blank(record.title)):
                continue
            if any(f.kind == "empty" for row in cells.get(target, {}).get(part, [])
                   for c in row for f in c.flags):
                continue
            why = f"the {target} translation of the {part} is empty"
            if is_blank(sources.get(part, "")):
                why += f" (the {part} itself is empty)"
            found.append((target, part, why))
    return found


def count_flags(reviews: Iterable[Review | Any]) -> dict[str, int]:
    """Flags by kind over many reviews (stats.json ``review_flags``), KINDS order.

    Args:
        reviews: The records' reviews; a value that is not a :class:`Review` (the
            ``review`` value of a results.jsonl object, None) is read with
            :func:`summarize.records.review_from_json`, so records of older schemas count
            and hand-edited values that are not counts are ignored.

    Returns:
        ``{kind: count}`` with only the kinds that occurred.
    """
    total: Counter[str] = Counter()
    for value in reviews:
        review = review_from_json(value)
        if review is not None:
            total.update(review.flag_counts)
    return _in_kinds_order(total)


_LANG_PREFIX = re.compile(r"^([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)=(.+)$")


def glossaries_from_options(values: Sequence[str], targets: Sequence[str]
                            ) -> dict[str, Glossary]:
    """Read the ``--glossary`` options: ``FILE.tsv`` (every target) or ``LANG=FILE.tsv``.

    Call it while validating settings, before any model loads.

    Args:
        values: The option values as given (repeatable).
        targets: The run's target languages, normalised (``ko``, ``zh-Hant``).

    Returns:
        A glossary per target language (a later file for the same language adds its
        entries to the earlier ones).

    Raises:
        UsageError: A file cannot be read or has a bad line (one line naming file and
            line), or ``LANG=`` names a language that is not a target.
    """
    from summarize.languages import normalize_lang

    out: dict[str, Glossary] = {}
    for value in values:
        match = _LANG_PREFIX.match(value)
        langs: Sequence[str] = targets
        path = value
        if match and not Path(value).exists():
            try:
                lang = normalize_lang(match.group(1))
            except Exception as exc:
                raise UsageError(f"--glossary {value}: unknown language "
                                 f"'{match.group(1)}'") from exc
            if lang not in targets:
                raise UsageError(f"--glossary {value}: '{lang}' is not a target language "
                                 f"(targets: {', '.join(targets) or 'none'})")
            langs, path = [lang], match.group(2)
        glossary = load_glossary(Path(path).expanduser())
        for lang in langs:
            old = out.get(lang)
            out[lang] = glossary if old is None else Glossary(old.entries + glossary.entries)
    return out


__all__ = [
    "ReviewEvidence",
    "ReviewSettings",
    "count_flags",
    "glossaries_from_options",
    "reliable_language",
    "review_article",
]
