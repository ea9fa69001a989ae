"""Work out what one article's page shows: its texts, each labelled with what it is.

Every text on the page says its language and how it was made: the summary (in the
article's language, or in the pivot language when ``routes.summary`` is ``pivot:en``), each
translation (from which language, by which model, or the same text when no translation was
needed), and each sentence table (source language | target language). Flags and
confidences come from the record's :class:`summarize.records.Review`. Pure functions; no
HTML is built or escaped here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import zip_longest

from summarize.outputs.report.pages import (
    ARTICLE_TIMINGS,
    KIND_LABELS,
    PIVOT,
    Pairs,
    ShownConfidence,
    confidence,
    flag_labels,
    paragraphs,
    summary_language,
    translated_titles,
)
from summarize.records import ArticleResult, ReviewCell

_MODEL = re.compile(r"\((.+)\)\s*$")
_PART_NAMES = {"summary": "summary", "article": "article", "title": "title"}


def _source_language(record: ArticleResult, part: str, lang: str | None) -> str | None:
    return summary_language(record, lang) if part == "summary" else lang


def _is_copy(record: ArticleResult, code: str, part: str) -> bool:
    return record.routes.get(f"{code}.{part}") == "copy"


def routes(record: ArticleResult, lang: str | None) -> list[str]:
    """How each text of the record was made, one line each, in words (records of runs that
    did not record it give none)."""
    lines = []
    how = record.routes.get("summary")
    if how is not None and record.summary is not None:
        match = PIVOT.match(how)
        model = _MODEL.search(how)
        if match:
            by = f" by {model.group(1)}" if model else ""
            lines.append(f"summary ({match.group(1)}): the {lang or 'source'} article "
                         f"translated into {match.group(1)}{by}, then summarized")
        else:
            lines.append(f"summary ({lang or 'source'}): summarized from the article")
    for key, value in record.routes.items():
        code, _, part = key.partition(".")
        if part not in _PART_NAMES:
            continue
        source = _source_language(record, part, lang) or "the source"
        if value == "copy":
            lines.append(f"{code} {part}: the {part} itself (already {source}), not translated")
        else:
            lines.append(f"{code} {part}: translated from {source} by {value}")
    return lines


@dataclass(frozen=True)
class Row:
    """One row of an aligned table: its number, the source and the translation, and the
    translation's review (flags with their reasons, confidence)."""

    num: str
    src: str
    tgt: str
    flags: tuple[tuple[str, str], ...] = ()
    confidence: ShownConfidence | None = None


@dataclass(frozen=True)
class AlignedSection:
    """A part (summary or article) beside its translation into one language.

    Attributes:
        heading: "Summary → ko" (with the source language when it is a pivot's).
        mode: "sentence by sentence" or "paragraph by paragraph".
        code: The target language.
        source: The language of the source column, or None when unknown.
        paragraphs: The rows, paragraph by paragraph.
        n_flagged: Rows with a flag.
        flags: Flags of the translated text as a whole (an empty translation).
    """

    heading: str
    mode: str
    code: str
    source: str | None
    paragraphs: list[list[Row]]
    n_flagged: int = 0
    flags: list[tuple[str, str]] = field(default_factory=list)


def _whole(record: ArticleResult, code: str, part: str) -> ReviewCell | None:
    review = record.review
    return review.whole_translations.get(code, {}).get(part) if review is not None else None


def aligned_section(record: ArticleResult, code: str, part: str, lang: str | None = None
                    ) -> AlignedSection | None:
    """A table pairing a part's source with its translation into ``code``, if there is one.

    Sentence pairs when the run recorded an alignment; for the article, paragraph pairs when
    it recorded only the translated text. A summary without an alignment gets no table: the
    side-by-side summaries at the top of the page already pair it paragraph by paragraph.

    Args:
        record: The article's record.
        code: The target language.
        part: ``summary`` or ``article``.
        lang: The article's language (the record's, else the run's).
    """
    pairs: list[Pairs] = [[(pair[0], pair[1]) for pair in para]
                          for para in record.alignment.get(code, {}).get(part, [])]
    translated = record.translations.get(code, {}).get(part)
    if any(pairs):
        mode = "sentence by sentence"
    elif translated is not None and part == "article":
        mode = "paragraph by paragraph"
        pairs = [
            [(s or "", t or "")]
            for s, t in zip_longest(paragraphs(record.text), paragraphs(translated))
        ]
    else:
        return None
    review = record.review if mode == "sentence by sentence" else None

    def cell(p: int, s: int) -> ReviewCell | None:
        return review.cell(code, part, p, s) if review is not None else None

    rows = [
        [
            Row(f"{p}.{s}" if mode == "sentence by sentence" else f"¶{p}", src, tgt,
                tuple(flag_labels(cell(p - 1, s - 1))),
                confidence(c.confidence if (c := cell(p - 1, s - 1)) else None))
            for s, (src, tgt) in enumerate(para, start=1)
        ]
        for p, para in enumerate(pairs, start=1)
        if para  # an empty paragraph keeps its number: review cells are indexed by it
    ]
    n_flagged = sum(1 for para in rows for row in para if row.flags)
    source = _source_language(record, part, lang)
    heading = f"{'Summary' if part == 'summary' else 'Article'} → {code}"
    if part == "summary" and source and source != lang:
        heading = f"Summary ({source}) → {code}"
    return AlignedSection(heading, mode, code, source, rows, n_flagged,
                          flag_labels(_whole(record, code, part)))


@dataclass(frozen=True)
class SummaryColumn:
    """One column of the side-by-side summaries: a translation of the summary.

    Attributes:
        code: Its language.
        note: What it is: "translation", "translation from en", or "the summary itself"
            when it needed no translation.
        paragraphs: Its text.
        flags: Flags of the text as a whole (an empty translation).
    """

    code: str
    note: str
    paragraphs: list[str]
    flags: list[tuple[str, str]] = field(default_factory=list)


def summary_columns(record: ArticleResult, lang: str | None) -> list[SummaryColumn]:
    """The translations of the summary, each labelled with what it is."""
    summary_lang = summary_language(record, lang)
    pivoted = summary_lang != lang
    columns = []
    for code, parts in record.translations.items():
        if "summary" not in parts:
            continue
        if _is_copy(record, code, "summary"):
            note = "the summary itself, not translated"
        elif pivoted and summary_lang:
            note = f"translation from {summary_lang}"
        else:
            note = "translation"
        columns.append(SummaryColumn(code, note, paragraphs(parts["summary"]),
                                     flag_labels(_whole(record, code, "summary"))))
    return columns


def summary_note(record: ArticleResult, lang: str | None) -> str:
    """What the summary is, beside its language: "original" (in the article's language), or
    how a pivot made it ("summary of the ko article, through en")."""
    summary_lang = summary_language(record, lang)
    if summary_lang == lang or summary_lang is None:
        return "original"
    return f"summary of the {lang or 'source'} article, made through {summary_lang}"


def article_context(
    record: ArticleResult,
    source_lang: str | None,
    prev: ArticleResult | None,
    nxt: ArticleResult | None,
) -> dict:
    """Everything one article page shows, in the order a reviewer reads it.

    First the summary beside its translations, then the article's sentence alignment, then
    the full source text (folded away when the alignment already shows it), then the
    record's details.
    """
    lang = record.lang or source_lang
    codes = list(dict.fromkeys([*record.translations, *record.alignment]))

    def sections(part: str) -> list[AlignedSection]:
        return [s for code in codes
                if (s := aligned_section(record, code, part, lang)) is not None]

    timing_keys = [k for k in ARTICLE_TIMINGS if k in record.timings] + [
        k for k in record.timings if k not in ARTICLE_TIMINGS
    ]
    summaries = summary_columns(record, lang)
    article_sections = sections("article")
    review = record.review
    summary_cell = review.summary if review is not None else None
    return {
        "review": review,
        "review_reasons": [(KIND_LABELS.get(k, k), n) for k, n in review.flag_counts.items()]
        if review is not None else [],
        "summary_flags": flag_labels(summary_cell),
        "summary_confidence": confidence(summary_cell.confidence) if summary_cell else None,
        "record": record,
        "lang": lang,
        "summary_lang": summary_language(record, lang),
        "summary_note": summary_note(record, lang),
        "titles": translated_titles(record),
        "title_flags": [(code, flag_labels(_whole(record, code, "title")))
                        for code in record.translations if _whole(record, code, "title")],
        "has_summary": record.summary is not None or bool(summaries),
        "summary_paragraphs": paragraphs(record.summary),
        "summary_empty": "(empty summary)" if record.summary is not None else "(no summary)",
        "summaries": summaries,
        "summary_sections": sections("summary"),
        "article_sections": article_sections,
        "text_paragraphs": paragraphs(record.text),
        "has_text": bool(record.text),
        "source_open": not article_sections,
        "routes": routes(record, lang),
        "lang_how": record.routes.get("lang"),
        "timings": [(k, record.timings[k]) for k in timing_keys],
        "prev": prev,
        "next": nxt,
    }
