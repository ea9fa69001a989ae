"""The review of one record as typed data: flags, confidences, cells; one writer and one
tolerant reader (schema 3 names, and schema 2's ``c``/``f`` cells)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from summarize.records.tolerant import (
    as_dict,
    as_int,
    as_list,
    is_number,
)


@dataclass(frozen=True)
class Flag:
    """One reason to look at an output.

    Attributes:
        kind: One of :data:`summarize.review.flags.KINDS` (``cut``, ``numbers``, ...).
        reason: A short human explanation ("number 1,250 missing").
    """

    kind: str
    reason: str


@dataclass(frozen=True)
class Confidence:
    """Token log-probabilities of one output, summarised (natural log, <= 0).

    Attributes:
        mean: Mean log-probability of its tokens (-0.1 is about 90% per token).
        min: Lowest log-probability of one of its tokens.
    """

    mean: float
    min: float


@dataclass(frozen=True)
class ReviewCell:
    """The review of one output: the summary, or one translated sentence.

    Attributes:
        confidence: Its token log-probabilities, or None when the engine gave none.
        flags: Why a reviewer should look at it (none: nothing looked wrong).
    """

    confidence: Confidence | None = None
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Review:
    """Where a reviewer should look in one article, and why (``ArticleResult.review``).

    Made by :func:`summarize.review.review_article`.

    Attributes:
        score: How much the article needs review, higher first (0: no flag, confident).
        flag_counts: The article's flags by kind (KINDS order), only kinds that occurred.
        confidence: Lowest mean and lowest minimum over all its outputs, or None when no
            output has one.
        summary: The summary's review; None when the record has no summary.
        translations: ``{lang: {part: paragraphs of sentence cells}}``, aligned with
            ``ArticleResult.alignment[lang][part]``.
        whole_translations: ``{lang: {part: cell}}``: flags of a translated text as a whole,
            that belong to no sentence (an empty translation, which has no sentences); only
            the texts that have some.
    """

    score: float = 0.0
    flag_counts: dict[str, int] = field(default_factory=dict)
    confidence: Confidence | None = None
    summary: ReviewCell | None = None
    translations: dict[str, dict[str, list[list[ReviewCell]]]] = field(default_factory=dict)
    whole_translations: dict[str, dict[str, ReviewCell]] = field(default_factory=dict)

    def cell(self, lang: str, part: str, paragraph: int, sentence: int) -> ReviewCell | None:
        """The review of one translated sentence (indexes from 0), or None when absent."""
        rows = self.translations.get(lang, {}).get(part, [])
        if 0 <= paragraph < len(rows) and 0 <= sentence < len(rows[paragraph]):
            return rows[paragraph][sentence]
        return None


def _confidence_to_json(confidence: Confidence) -> dict[str, float]:
    return {"mean": confidence.mean, "min": confidence.min}


def _cell_to_json(cell: ReviewCell) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if cell.confidence is not None:
        data["confidence"] = _confidence_to_json(cell.confidence)
    if cell.flags:
        data["flags"] = [{"kind": f.kind, "reason": f.reason} for f in cell.flags]
    return data


def review_to_json(review: Review) -> dict[str, Any]:
    """The JSON object of a review (schema 3); empty parts are left out to stay compact.

    ``score`` and ``flag_counts`` are always written; ``confidence`` when some output has
    one, ``summary`` when the record has a summary, ``translations`` when it has an
    alignment, ``whole_translations`` when a translated text has a flag of its own. A cell
    writes ``confidence`` and ``flags`` only when it has them (``{}`` when neither)::

        {"score": 4.5, "flag_counts": {"cut": 1},
         "confidence": {"mean": -0.41, "min": -3.2},
         "summary": {"confidence": {"mean": -0.35, "min": -2.9},
                     "flags": [{"kind": "cut", "reason": "generation stopped at ..."}]},
         "translations": {"ko": {"article": [[{"confidence": {"mean": -0.2, "min": -1.1}},
                                              {"flags": [{"kind": "numbers", "reason": ...}]}]]}},
         "whole_translations": {"ja": {"summary": {"flags": [{"kind": "empty", ...}]}}}}
    """
    data: dict[str, Any] = {"score": review.score, "flag_counts": dict(review.flag_counts)}
    if review.confidence is not None:
        data["confidence"] = _confidence_to_json(review.confidence)
    if review.summary is not None:
        data["summary"] = _cell_to_json(review.summary)
    if review.translations:
        data["translations"] = {
            lang: {part: [[_cell_to_json(c) for c in row] for row in rows]
                   for part, rows in parts.items()}
            for lang, parts in review.translations.items()
        }
    if review.whole_translations:
        data["whole_translations"] = {
            lang: {part: _cell_to_json(c) for part, c in parts.items()}
            for lang, parts in review.whole_translations.items()
        }
    return data


def _confidence_from_json(value: Any) -> Confidence | None:
    """``{"mean": m, "min": n}`` (schema 3) or ``[m, n]`` (schema 2); None otherwise."""
    if isinstance(value, dict):
        mean, low = value.get("mean"), value.get("min")
    elif isinstance(value, list) and len(value) == 2:
        mean, low = value
    else:
        return None
    if not (is_number(mean) and is_number(low)):
        return None
    return Confidence(float(mean), float(low))


def _flag_from_json(value: Any) -> Flag | None:
    """``{"kind", "reason"}`` (schema 3) or ``[kind, reason]`` (schema 2)."""
    if isinstance(value, dict):
        kind, reason = value.get("kind"), value.get("reason")
    elif isinstance(value, list) and value:
        kind, reason = value[0], value[1] if len(value) > 1 else ""
    else:
        return None
    if not isinstance(kind, str) or not kind:
        return None
    return Flag(kind, reason if isinstance(reason, str) else "")


def _cell_from_json(value: Any) -> ReviewCell:
    data = as_dict(value)
    confidence = _confidence_from_json(data["confidence"] if "confidence" in data
                                       else data.get("c"))
    raw_flags = data["flags"] if "flags" in data else data.get("f")
    flags = tuple(f for item in as_list(raw_flags) if (f := _flag_from_json(item)) is not None)
    return ReviewCell(confidence, flags)


def _counts_from_json(value: Any) -> dict[str, int]:
    return {str(k): n for k, v in as_dict(value).items() if (n := as_int(v)) > 0}


def review_from_json(value: Any) -> Review | None:
    """Read a record's ``review`` back, schema 3 or 2, tolerantly (wrong types read as absent).

    Args:
        value: The ``review`` value of a results.jsonl object.

    Returns:
        The review, or None when there is none (not an object, or an empty one: a record of
        a run made before reviews existed, or a failed article).
    """
    if isinstance(value, Review):
        return value
    if not isinstance(value, dict) or not value:
        return None
    # schema 2 wrote the counts as "flags"; schema 3 keeps "flags" for lists of flags
    counts = value["flag_counts"] if "flag_counts" in value else value.get("flags")
    summary = value.get("summary")
    return Review(
        score=float(value["score"]) if is_number(value.get("score")) else 0.0,
        flag_counts=_counts_from_json(counts),
        confidence=_confidence_from_json(value["confidence"] if "confidence" in value
                                         else value.get("c")),
        summary=_cell_from_json(summary) if isinstance(summary, dict) else None,
        translations={
            str(lang): {str(part): [[_cell_from_json(c) for c in as_list(row)]
                                    for row in as_list(rows)]
                        for part, rows in as_dict(parts).items()}
            for lang, parts in as_dict(value.get("translations")).items()
            if isinstance(parts, dict)
        },
        whole_translations={
            str(lang): {str(part): _cell_from_json(c) for part, c in parts.items()
                        if isinstance(c, dict)}
            for lang, parts in as_dict(value.get("whole_translations")).items()
            if isinstance(parts, dict)
        },
    )
