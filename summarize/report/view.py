"""Read results.jsonl records and the stats.json object into the typed values the report shows.

This is the only module of the report that looks inside a record or the stats object. Both
come from files on disk and are untrusted and loosely typed (an older run, a hand-edited
line, a future schema), so every reader here is tolerant: a value of the wrong type reads
as missing (None, an empty list or dict) and never raises. Everything after this layer
(:mod:`summarize.report.pages` and the templates) sees only the dataclasses below.

Strings stay raw here; the templates escape them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from summarize.naming import page_stem

#: One paragraph of an alignment: its (source sentence, translated sentence) pairs.
Pairs = list[tuple[str, str]]


# --------------------------------------------------------------------------- tolerant readers


def as_str(value: object) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def as_text(value: object) -> str | None:
    """``value`` if it is a string (empty allowed), else None."""
    return value if isinstance(value, str) else None


def as_dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def as_num(value: object) -> float | None:
    """A finite number as float; anything else (None, bool, text, NaN, huge ints) as None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return value if math.isfinite(value) else None


def _pairs(paragraphs: object) -> list[Pairs]:
    """An alignment part as paragraphs of (source, translation) string pairs."""
    out = []
    for para in as_list(paragraphs):
        pairs = []
        for pair in as_list(para):
            if isinstance(pair, (list, tuple)):
                src = pair[0] if len(pair) > 0 else ""
                tgt = pair[1] if len(pair) > 1 else ""
            else:
                src, tgt = pair, ""
            pairs.append((_cell(src), _cell(tgt)))
        if pairs:
            out.append(pairs)
    return out


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Record:
    """One article of results.jsonl as the report reads it.

    Attributes:
        id: The article id (load_results guarantees a string).
        stem: Its page file stem, from :func:`summarize.naming.page_stem`.
        status: "ok", "error", another recorded word, or "unknown" when missing.
        title: Original title, or None.
        lang: The record's own source language, or None.
        text: Source text ("" allowed), or None.
        summary: Summary ("" allowed), or None.
        translations: ``{lang: {part: text}}``; every language key is kept, parts only
            when they are strings. A part is "summary", "article" or "title".
        alignment: ``{lang: {part: paragraphs of (source, translation) pairs}}``.
        timings: Seconds per step in recorded order (None where not a number).
        page: The Markdown page the run wrote, or None.
    """

    id: str
    stem: str
    status: str = "unknown"
    title: str | None = None
    lang: str | None = None
    source: str | None = None
    error: str | None = None
    text: str | None = None
    summary: str | None = None
    chunks: float | None = None
    n_words: float | None = None
    n_chars: float | None = None
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    alignment: dict[str, dict[str, list[Pairs]]] = field(default_factory=dict)
    timings: dict[str, float | None] = field(default_factory=dict)
    page: str | None = None
    finished_at: str | None = None
    schema_version: float | None = None

    @property
    def label(self) -> str:
        """The display title: the title, else the id ("" only for an empty id)."""
        return self.title or self.id

    @property
    def total_s(self) -> float | None:
        return self.timings.get("total")


def read_record(raw: dict) -> Record:
    """Read one results.jsonl record (a dict with a string ``id``) without trusting its types."""
    rid = raw["id"]
    translations = {
        code: {part: text for part, text in as_dict(parts).items() if isinstance(text, str)}
        for code, parts in as_dict(raw.get("translations")).items()
    }
    alignment = {
        code: {part: _pairs(paras) for part, paras in as_dict(parts).items()}
        for code, parts in as_dict(raw.get("alignment")).items()
    }
    timings = {k: as_num(v) for k, v in as_dict(raw.get("timings")).items()}
    return Record(
        id=rid,
        stem=page_stem(rid),
        status=as_str(raw.get("status")) or "unknown",
        title=as_str(raw.get("title")),
        lang=as_str(raw.get("lang")),
        source=as_str(raw.get("source")),
        error=as_str(raw.get("error")),
        text=as_text(raw.get("text")),
        summary=as_text(raw.get("summary")),
        chunks=as_num(raw.get("chunks")),
        n_words=as_num(raw.get("n_words")),
        n_chars=as_num(raw.get("n_chars")),
        translations=translations,
        alignment=alignment,
        timings=timings,
        page=as_str(raw.get("page")),
        finished_at=as_str(raw.get("finished_at")),
        schema_version=as_num(raw.get("schema_version")),
    )


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class Model:
    role: str | None
    model_id: str | None
    path: str | None
    license: str | None
    family: str | None
    revision: str | None
    load_s: float | None


@dataclass(frozen=True)
class Stage:
    seconds: float | None
    n_items: float | None
    n_batches: float | None
    input_tokens: float | None
    output_tokens: float | None
    input_tokens_per_s: float | None
    output_tokens_per_s: float | None


@dataclass(frozen=True)
class Failure:
    id: str | None
    source: str | None
    error: str | None


@dataclass(frozen=True)
class Skip:
    source: str | None
    reason: str | None


@dataclass(frozen=True)
class Stats:
    """The stats.json object as the report reads it.

    Attributes:
        present: Whether stats.json gave a non-empty object at all.
        counts: ``total``, ``ok``, ``failed``, ``skipped``, ``resumed`` where recorded.
        stages: Every recorded stage by name, in file order.
        skipped: The skipped files, or None when stats.json does not record them.
    """

    present: bool = False
    schema_version: float | None = None
    started_at: str | None = None
    finished_at: str | None = None
    wall_s: float | None = None
    device: str | None = None
    device_name: str | None = None
    dtype: str | None = None
    translate: str | None = None
    source_lang: str | None = None
    targets: list[str] = field(default_factory=list)
    counts: dict[str, float | None] = field(default_factory=dict)
    articles_per_s: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_mb: float | None = None
    models: list[Model] = field(default_factory=list)
    stages: dict[str, Stage] = field(default_factory=dict)
    packages: list[tuple[str, str | None]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skip] | None = None


def read_stats(raw: dict) -> Stats:
    """Read the stats.json object without trusting its types."""
    models = [
        Model(
            role=as_str(m.get("role")),
            model_id=as_str(m.get("model_id")),
            path=as_str(m.get("path")),
            license=as_str(m.get("license")),
            family=as_str(m.get("family")),
            revision=as_str(m.get("revision")),
            load_s=as_num(m.get("load_s")),
        )
        for m in as_list(raw.get("models"))
        if isinstance(m, dict)
    ]
    stages = {}
    for name, value in as_dict(raw.get("stages")).items():
        st = as_dict(value)
        stages[name] = Stage(
            seconds=as_num(st.get("seconds")),
            n_items=as_num(st.get("n_items")),
            n_batches=as_num(st.get("n_batches")),
            input_tokens=as_num(st.get("input_tokens")),
            output_tokens=as_num(st.get("output_tokens")),
            input_tokens_per_s=as_num(st.get("input_tokens_per_s")),
            output_tokens_per_s=as_num(st.get("output_tokens_per_s")),
        )
    failures = [
        Failure(as_str(f.get("id")), as_str(f.get("source")), as_str(f.get("error")))
        for f in map(as_dict, as_list(raw.get("failures")))
    ]
    skipped = None
    if "skipped" in raw:
        skipped = [
            Skip(as_str(s.get("source")), as_str(s.get("reason")))
            for s in map(as_dict, as_list(raw.get("skipped")))
        ]
    counts = as_dict(raw.get("articles"))
    return Stats(
        present=bool(raw),
        schema_version=as_num(raw.get("schema_version")),
        started_at=as_str(raw.get("started_at")),
        finished_at=as_str(raw.get("finished_at")),
        wall_s=as_num(raw.get("wall_s")),
        device=as_str(raw.get("device")),
        device_name=as_str(raw.get("device_name")),
        dtype=as_str(raw.get("dtype")),
        translate=as_str(raw.get("translate")),
        source_lang=as_str(raw.get("source_lang")),
        targets=[t for t in as_list(raw.get("targets")) if isinstance(t, str)],
        counts={k: as_num(counts.get(k)) for k in ("total", "ok", "failed", "skipped", "resumed")},
        articles_per_s=as_num(raw.get("articles_per_s")),
        peak_rss_mb=as_num(raw.get("peak_rss_mb")),
        peak_gpu_mb=as_num(raw.get("peak_gpu_mb")),
        models=models,
        stages=stages,
        packages=[(str(k), _shown(v)) for k, v in as_dict(raw.get("packages")).items()],
        failures=failures,
        skipped=skipped,
    )


def _shown(value: object) -> str | None:
    """Any scalar as display text (package versions may be numbers); None when empty."""
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)
