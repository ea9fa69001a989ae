"""Build the ``review`` dict of one finished article: where a reviewer should look, and why.

The engine calls :func:`review_article` once per ok record, with the generation's own
evidence (token limits hit, token log-probabilities) beside the record's texts; the checks
themselves are :mod:`summarize.review.signals`'. :func:`count_flags` totals the flags of many
records for stats.json (``review_flags``); :func:`glossaries_from_options` reads the
``--glossary`` files; :func:`reliable_language` is the language detector the ``wrong_lang``
check uses.

The review dict (stored as the record's ``review``; compact, since results.jsonl may hold
100,000 records; numbers rounded to 3 decimals)::

    {
      "score": 4.5,                      # signals.review_score: higher = look first
      "flags": {"cut": 1, "numbers": 2}, # flags of the whole article by kind (KINDS order)
      "c": [-0.41, -3.2],                # lowest mean and lowest minimum token log-prob
                                         #   over all its outputs (absent when unknown)
      "summary": {"c": [-0.35, -2.9],    # the summary: its confidence (absent when unknown)
                  "f": [["cut", "generation stopped at the token limit; probably cut"]]},
      "translations": {                  # aligned with record.alignment[lang][part]:
        "ko": {"article": [              #   paragraphs of sentences
          [{"c": [-0.2, -1.1]}, {"c": [-1.9, -6.0], "f": [["numbers", "number 37 missing
             from the translation"]]}],
          ...
        ]}
      }
    }

Every sentence cell is an object: ``"c"`` ``[mean, min]`` natural-log token probability of
its translation (absent when the engine gave none), ``"f"`` its flags as ``[kind, reason]``
pairs (absent when none); a cell with neither is ``{}``. ``"summary"`` is present only when
the record has a summary, ``"translations"`` only when it has an alignment, ``"c"`` only
when some output has a confidence. An article with no flag and confident outputs scores 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.errors import UsageError
from summarize.records import ArticleResult
from summarize.review.flags import KINDS, Confidence, Flag
from summarize.review.glossary import Glossary, load_glossary
from summarize.review.signals import check_summary, check_translation, review_score

#: (mean, min) token log-probability of one output, or None when unknown.
Score = tuple[float, float] | None
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


def _rounded(score: Any) -> list[float] | None:
    if not isinstance(score, (tuple, list)) or len(score) != 2:
        return None
    mean, low = score
    return [round(float(mean), 3), round(float(low), 3)]


def _cell(score: Any, flags: list[Flag]) -> dict[str, Any]:
    cell: dict[str, Any] = {}
    if (c := _rounded(score)) is not None:
        cell["c"] = c
    if flags:
        cell["f"] = [[f.kind, f.reason] for f in flags]
    return cell


def review_article(record: ArticleResult, evidence: ReviewEvidence,
                   settings: ReviewSettings) -> dict[str, Any]:
    """The ``review`` dict of one ok record (format: see the module docstring).

    Runs :func:`summarize.review.signals.check_summary` on the summary and
    :func:`summarize.review.signals.check_translation` on every aligned sentence pair, with the
    token-limit evidence, the target's glossary and the detector; scores the article with
    :func:`summarize.review.signals.review_score`.

    Args:
        record: The article's record (``status`` ok; its ``alignment`` filled).
        evidence: Token limits hit and confidences from the tasks.
        settings: Glossaries, detector and default source language.

    Returns:
        The review dict; ``{}`` for a record that is not ok.
    """
    if not record.ok:
        return {}
    lang = record.lang or settings.source_lang
    all_flags: list[Flag] = []
    confidences: list[Confidence] = []

    def note(score: Any) -> None:
        if (c := _rounded(score)) is not None:
            confidences.append(Confidence(c[0], c[1]))

    review: dict[str, Any] = {}
    summary_part: dict[str, Any] | None = None
    if record.summary is not None:
        flags = check_summary(record.text, record.summary,
                              lang=evidence.source_langs.get("summary", lang),
                              hit_limit=evidence.summary_hit_limit, detect=settings.detect)
        all_flags += flags
        note(evidence.summary_confidence)
        summary_part = _cell(evidence.summary_confidence, flags)
    translations: dict[str, dict[str, list[list[dict[str, Any]]]]] = {}
    for target, parts in record.alignment.items():
        glossary = settings.glossaries.get(target)
        for part, paragraphs in parts.items():
            part_lang = evidence.source_langs.get(part, lang)
            rows: list[list[dict[str, Any]]] = []
            for p, paragraph in enumerate(paragraphs):
                row = []
                for s, pair in enumerate(paragraph):
                    src = pair[0] if len(pair) > 0 else ""
                    out = pair[1] if len(pair) > 1 else ""
                    hit = bool(_cell_of(evidence.hit_limit, target, part, p, s))
                    score = _cell_of(evidence.confidence, target, part, p, s)
                    flags = check_translation(src, out, source_lang=part_lang,
                                              target_lang=target,
                                              hit_limit=hit, glossary=glossary,
                                              detect=settings.detect)
                    all_flags += flags
                    note(score)
                    row.append(_cell(score, flags))
                rows.append(row)
            translations.setdefault(target, {})[part] = rows
    counts = Counter(f.kind for f in all_flags)
    review["score"] = round(review_score(all_flags, confidences), 3)
    review["flags"] = {k: counts[k] for k in (*KINDS, *sorted(set(counts) - set(KINDS)))
                       if counts[k]}
    if confidences:
        review["c"] = [min(c.mean for c in confidences), min(c.min for c in confidences)]
    if summary_part is not None:
        review["summary"] = summary_part
    if translations:
        review["translations"] = translations
    return review


def count_flags(reviews: Iterable[Mapping[str, Any] | None]) -> dict[str, int]:
    """Flags by kind over many review dicts (stats.json ``review_flags``), KINDS order.

    Args:
        reviews: The ``review`` dicts of the records (empty or None ones are skipped;
            values that are not counts are ignored, so old or hand-edited records are fine).

    Returns:
        ``{kind: count}`` with only the kinds that occurred.
    """
    total: Counter[str] = Counter()
    for review in reviews:
        flags = review.get("flags") if isinstance(review, Mapping) else None
        if not isinstance(flags, Mapping):
            continue
        for kind, n in flags.items():
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                total[str(kind)] += n
    return {k: total[k] for k in (*KINDS, *sorted(set(total) - set(KINDS))) if total[k]}


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
