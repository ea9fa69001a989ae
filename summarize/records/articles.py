"""Articles and their records: what a run reads (Article, InputFailure, Skipped) and the
one line of results.jsonl it writes per article (ArticleResult), with one writer and one
tolerant reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from summarize.records.review import Review, review_from_json, review_to_json
from summarize.records.tolerant import (
    as_dict,
    as_int,
    as_list,
    as_opt_str,
    as_str,
    is_number,
)

RESULT_FIELDS = (
    "schema_version", "id", "source", "title", "lang", "status", "error", "text", "summary",
    "chunks", "translations", "alignment", "review", "routes", "timings", "n_words", "n_chars",
    "key", "finished_at", "run", "duplicate_of", "page", "page_md",
)
#: Version of the results.jsonl and stats.json formats. 2 added ``review``, ``routes``,
#: ``run`` and ``page_md`` to records (``page`` is now the HTML page) and ``runs`` to stats;
#: 3 names the review's fields in words (``confidence: {mean, min}``, ``flags: [{kind,
#: reason}]``, ``flag_counts``) where 2 wrote ``c: [mean, min]``, ``f: [[kind, reason]]`` and
#: ``flags`` (the counts). :func:`result_from_json` reads both.
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Article:
    """One input article, decoded and cleaned.

    Attributes:
        id: Stable identifier, unique within a run (record id or path relative to the input).
        source: Path of the file it came from (with ``#N`` line suffix for JSONL records).
        text: Cleaned body text; paragraphs separated by blank lines.
        title: Title, or "" when none was found.
        lang: Source language given by the record, or None.
    """

    id: str
    source: str
    text: str
    title: str = ""
    lang: str | None = None


@dataclass(frozen=True)
class InputFailure:
    """A file or record that could not be turned into an article."""

    id: str
    source: str
    error: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not an article type; counted, not an error."""

    source: str
    reason: str


@dataclass(frozen=True)
class ArticleResult:
    """One line of results.jsonl: an article and everything the run made of it.

    Attributes:
        id: The article id (unique in the output folder).
        source: Where it came from (path, with ``#N`` for JSON records).
        title: Its title, or "".
        lang: Its source language.
        status: ``ok`` or ``error``.
        error: Why it failed (one line), or None.
        text: The article text as read.
        summary: The summary; None when the run made none (or it failed).
        chunks: Windows the article was split into for summarization.
        translations: ``{lang: {"summary": ..., "article": ...}}``.
        alignment: ``{lang: {part: [[[source, translation], ...] per paragraph]}}``.
        review: Where a reviewer should look, and why: confidence and flags per summary and
            translated sentence, and the article's review score; None for failed records
            and records of runs made before reviews existed.
        routes: How each output was made: ``{"lang": how the language was decided
            ("given", "detected", ...), "summary": "direct" | "pivot:en (<model>)",
            "<lang>.<part>": "<translation model>" | "copy"}``.
        timings: Seconds per stage (the article's share of its group), and ``total``.
        n_words: Words in ``text``.
        n_chars: Characters in ``text``.
        key: Resume key (content + settings), None for failures.
        finished_at: When the record was made (UTC, ISO 8601).
        run: Id of the run that made the record (its start time), see stats.json ``runs``.
        duplicate_of: With ``--dedupe``, the id of the article whose results were copied.
        page: The article's HTML page, relative to the output folder.
        page_md: The article's Markdown page, relative to the output folder.
        schema_version: Format version of the record as read (a record is always written
            in the current format, :data:`SCHEMA_VERSION`).
    """

    id: str
    source: str
    status: str
    title: str = ""
    lang: str | None = None
    error: str | None = None
    text: str = ""
    summary: str | None = None
    chunks: int = 0
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    alignment: dict[str, dict[str, list[list[list[str]]]]] = field(default_factory=dict)
    review: Review | None = None
    routes: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    n_words: int = 0
    n_chars: int = 0
    key: str | None = None
    finished_at: str = ""
    run: str | None = None
    duplicate_of: str | None = None
    page: str | None = None
    page_md: str | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def result_to_json(record: ArticleResult) -> dict[str, Any]:
    """The JSON object of a record, keys in :data:`RESULT_FIELDS` order.

    The record is written in the current format (``schema_version`` is
    :data:`SCHEMA_VERSION` whatever version it was read from); the review as
    :func:`review_to_json` writes it. Optional fields (``review``, ``routes``, ``run``,
    ``duplicate_of``, ``page``, ``page_md``) are left out when unset.
    """
    data = {name: getattr(record, name) for name in RESULT_FIELDS}
    data["schema_version"] = SCHEMA_VERSION
    data["review"] = review_to_json(record.review) if record.review is not None else None
    for optional in ("review", "routes", "run", "duplicate_of", "page", "page_md"):
        if data[optional] in (None, {}):
            del data[optional]
    return data


def result_from_json(data: Any) -> ArticleResult | None:
    """Read a results.jsonl object back, tolerantly: wrong types become defaults.

    The one reader of records: the engines (resume, Ray), the report, the Markdown pages and
    the review counts all read through it. Reads schema 3 and the schema 2 review (see
    :func:`review_from_json`); an alignment reads as paragraphs of ``[source, translation]``
    string pairs whatever the file holds.

    Returns:
        The record, or None when ``data`` is not a record of this tool (not an object, or
        no string ``id``).
    """
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    return ArticleResult(
        id=data["id"],
        source=as_str(data.get("source")),
        status=as_str(data.get("status")) or "unknown",
        title=as_str(data.get("title")),
        lang=as_opt_str(data.get("lang")),
        error=as_opt_str(data.get("error")),
        text=as_str(data.get("text")),
        summary=as_opt_str(data.get("summary")),
        chunks=as_int(data.get("chunks")),
        translations={
            str(lang): {str(k): v for k, v in parts.items() if isinstance(v, str)}
            for lang, parts in as_dict(data.get("translations")).items()
            if isinstance(parts, dict)
        },
        alignment={
            str(lang): {str(k): _paragraphs_from_json(v) for k, v in parts.items()
                        if isinstance(v, list)}
            for lang, parts in as_dict(data.get("alignment")).items()
            if isinstance(parts, dict)
        },
        review=review_from_json(data.get("review")),
        routes={str(k): v for k, v in as_dict(data.get("routes")).items() if isinstance(v, str)},
        timings={str(k): float(v) for k, v in as_dict(data.get("timings")).items()
                 if is_number(v)},
        n_words=as_int(data.get("n_words")),
        n_chars=as_int(data.get("n_chars")),
        key=as_opt_str(data.get("key")),
        finished_at=as_str(data.get("finished_at")),
        run=as_opt_str(data.get("run")),
        duplicate_of=as_opt_str(data.get("duplicate_of")),
        page=as_opt_str(data.get("page")),
        page_md=as_opt_str(data.get("page_md")),
        schema_version=as_int(data.get("schema_version"), SCHEMA_VERSION),
    )


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _paragraphs_from_json(value: list[Any]) -> list[list[list[str]]]:
    """An alignment part: paragraphs (kept in place, even empty ones, so that review cells
    stay aligned) of ``[source, translation]`` string pairs; a lone value is a source with
    no translation."""
    paragraphs = []
    for paragraph in value:
        pairs = []
        for pair in as_list(paragraph):
            if isinstance(pair, list):
                pairs.append([_text_of(pair[0]) if pair else "",
                              _text_of(pair[1]) if len(pair) > 1 else ""])
            else:
                pairs.append([_text_of(pair), ""])
        paragraphs.append(pairs)
    return paragraphs
