"""Read results.jsonl records and the stats.json object into the typed values the report shows.

This is the only module of the report that looks inside a record or the stats object. Both
come from files on disk and are untrusted and loosely typed (an older run, a hand-edited
line, a future schema), so every reader here is tolerant: a value of the wrong type reads
as missing (None, an empty list or dict) and never raises. Everything after this layer
(:mod:`summarize.outputs.report.pages` and the templates) sees only the dataclasses below.

Strings stay raw here; the templates escape them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from summarize.outputs.naming import page_stem
from summarize.records import ArticleResult, result_from_json, stats_from_json

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


# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class Cell:
    """The review of one output (a translated sentence or the summary).

    Attributes:
        conf: (mean, min) natural-log token probability, or None when not recorded.
        flags: (kind, reason) pairs.
    """

    conf: tuple[float, float] | None = None
    flags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Review:
    """A record's ``review`` (see :mod:`summarize.review`) as the report reads it.

    Attributes:
        score: The review score (higher first), or None when not recorded.
        flags: Flag counts by kind.
        conf: Lowest (mean, min) over the article's outputs, or None.
        summary: The summary's review, or None.
        translations: ``{lang: {part: paragraphs of sentence cells}}``.
    """

    score: float | None = None
    flags: dict[str, int] = field(default_factory=dict)
    conf: tuple[float, float] | None = None
    summary: Cell | None = None
    translations: dict[str, dict[str, list[list[Cell]]]] = field(default_factory=dict)

    def cell(self, lang: str, part: str, p: int, s: int) -> Cell | None:
        """The cell of sentence ``s`` of paragraph ``p`` (0-based), or None."""
        rows = self.translations.get(lang, {}).get(part, [])
        if p < len(rows) and s < len(rows[p]):
            return rows[p][s]
        return None


def _conf(value: object) -> tuple[float, float] | None:
    items = as_list(value)
    if len(items) != 2:
        return None
    mean, low = as_num(items[0]), as_num(items[1])
    return None if mean is None or low is None else (mean, low)


def _read_cell(value: object) -> Cell:
    raw = as_dict(value)
    flags = []
    for item in as_list(raw.get("f")):
        pair = as_list(item)
        if len(pair) >= 1 and isinstance(pair[0], str):
            flags.append((pair[0], pair[1] if len(pair) > 1 and isinstance(pair[1], str)
                          else ""))
    return Cell(_conf(raw.get("c")), flags)


def read_review(value: object) -> Review | None:
    """A record's review dict, tolerantly; None when there is none (older runs)."""
    raw = as_dict(value)
    if not raw:
        return None
    flags = {str(k): int(n) for k, n in as_dict(raw.get("flags")).items()
             if as_num(n) is not None and float(n).is_integer() and n > 0}
    translations = {
        str(lang): {str(part): [[_read_cell(c) for c in as_list(row)] for row in as_list(rows)]
                    for part, rows in as_dict(parts).items()}
        for lang, parts in as_dict(raw.get("translations")).items()
    }
    summary = raw.get("summary")
    return Review(
        score=as_num(raw.get("score")),
        flags=flags,
        conf=_conf(raw.get("c")),
        summary=_read_cell(summary) if isinstance(summary, dict) else None,
        translations=translations,
    )


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Record:
    """One article of results.jsonl as the report reads it.

    Attributes:
        id: The article id (load_results guarantees a string).
        stem: Its page file stem, from :func:`summarize.outputs.naming.page_stem`.
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
        review: The review signals, or None for records without them (older runs).
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
    run: str | None = None
    schema_version: float | None = None
    review: Review | None = None

    @property
    def label(self) -> str:
        """The display title: the title, else the id ("" only for an empty id)."""
        return self.title or self.id

    @property
    def total_s(self) -> float | None:
        return self.timings.get("total")


def read_record(raw: dict) -> Record:
    """One results.jsonl record, read through the one tolerant loader of the package
    (:func:`summarize.records.result_from_json`) and shaped for the pages."""
    result = result_from_json(raw)
    if result is None:  # load_results only passes objects with a string id
        result = ArticleResult(id=str(raw.get("id", "")), source="", status="unknown")
    alignment = {
        code: {part: _pairs(paras) for part, paras in parts.items()}
        for code, parts in result.alignment.items()
    }
    return Record(
        id=result.id,
        stem=page_stem(result.id),
        status=result.status or "unknown",
        title=result.title or None,
        lang=result.lang or None,
        source=result.source or None,
        error=result.error or None,
        text=result.text if "text" in raw and isinstance(raw.get("text"), str) else None,
        summary=result.summary,
        chunks=float(result.chunks) if "chunks" in raw and as_num(raw.get("chunks")) is not None
        else None,
        n_words=as_num(raw.get("n_words")),
        n_chars=as_num(raw.get("n_chars")),
        translations=result.translations,
        alignment=alignment,
        timings={k: as_num(v) for k, v in as_dict(raw.get("timings")).items()},
        page=result.page or None,
        finished_at=result.finished_at or None,
        run=result.run,
        schema_version=as_num(raw.get("schema_version")),
        review=read_review(raw.get("review")),
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
    engine: str | None = None
    dtype: str | None = None


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
        review_flags: Flag counts by kind (stats.json ``review_flags``), or None when not
            recorded.
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
    runs: list[Any] = field(default_factory=list)
    review_flags: dict[str, int] | None = None


def read_stats(raw: dict) -> Stats:
    """Read the stats.json object through the package's tolerant loader
    (:func:`summarize.records.stats_from_json`); what the file does not record stays None."""
    st = stats_from_json(raw)

    def recorded(key: str, value: Any) -> Any:
        return value if as_num(raw.get(key)) is not None or as_str(raw.get(key)) else None

    models = [
        Model(role=m.role or None, model_id=m.model_id or None, path=m.path or None,
              license=m.license, family=m.family or None, revision=m.revision,
              load_s=m.load_s, engine=m.engine or None, dtype=m.dtype or None)
        for m in st.models
    ]
    stages = {
        name: Stage(seconds=t.seconds if as_num(as_dict(as_dict(raw.get("stages")).get(name))
                                                .get("seconds")) is not None else None,
                    n_items=t.n_items, n_batches=t.n_batches, input_tokens=t.input_tokens,
                    output_tokens=t.output_tokens, input_tokens_per_s=t.input_tokens_per_s,
                    output_tokens_per_s=t.output_tokens_per_s)
        for name, t in st.stages.items()
    }
    counts_raw = as_dict(raw.get("articles"))
    counts = {k: float(getattr(st.articles, k)) if as_num(counts_raw.get(k)) is not None
              else None for k in ("total", "ok", "failed", "skipped", "resumed")}
    return Stats(
        present=bool(raw),
        schema_version=as_num(raw.get("schema_version")),
        started_at=st.started_at or None,
        finished_at=st.finished_at or None,
        wall_s=recorded("wall_s", st.wall_s),
        device=st.device,
        device_name=st.device_name,
        dtype=st.dtype,
        translate=recorded("translate", st.translate),
        source_lang=recorded("source_lang", st.source_lang),
        targets=st.targets,
        counts=counts,
        articles_per_s=st.articles_per_s,
        peak_rss_mb=st.peak_rss_mb,
        peak_gpu_mb=st.peak_gpu_mb,
        models=models,
        stages=stages,
        packages=[(str(k), _shown(v)) for k, v in as_dict(raw.get("packages")).items()],
        failures=[Failure(f.id or None, f.source or None, f.error or None) for f in st.failures],
        skipped=([Skip(k.source or None, k.reason or None) for k in st.skipped]
                 if "skipped" in raw else None),
        runs=list(st.runs),
        review_flags=({str(k): int(n) for k, n in raw["review_flags"].items()
                       if as_num(n) is not None and float(n).is_integer() and n >= 0}
                      if isinstance(raw.get("review_flags"), dict) else None),
    )


def _shown(value: object) -> str | None:
    """Any scalar as display text (package versions may be numbers); None when empty."""
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


# --------------------------------------------------------------------------- eval.json


@dataclass(frozen=True)
class CorpusScores:
    """One corpus line of eval.json: a summary ROUGE or a translation score set."""

    what: str  # "summary" or "<part> -> <lang>"
    n: float | None
    scores: list[tuple[str, float | None]]
    note: str | None = None  # e.g. the BLEU tokenizer


@dataclass(frozen=True)
class EvalView:
    """What the report shows of ``summarize eval``'s eval.json.

    Attributes:
        corpus: Corpus-level lines (summary ROUGE first, then each translation).
        columns: Per-article score columns, as (key, label), e.g. ("rougeLsum", "ROUGE-Lsum").
        per_article: ``{record id: {column key: score}}``.
        n_matched: Articles matched to a reference.
    """

    corpus: list[CorpusScores]
    columns: list[tuple[str, str]]
    per_article: dict[str, dict[str, float | None]]
    n_matched: float | None


def read_eval(raw: dict) -> EvalView | None:
    """Read eval.json without trusting its types; None when there is nothing to show."""
    if not raw:
        return None
    corpus: list[CorpusScores] = []
    summary = as_dict(raw.get("summary"))
    s_scores = as_dict(summary.get("scores"))
    if s_scores:
        corpus.append(CorpusScores("summary", as_num(summary.get("n")), [
            ("ROUGE-1", as_num(s_scores.get("rouge1"))),
            ("ROUGE-2", as_num(s_scores.get("rouge2"))),
            ("ROUGE-Lsum", as_num(s_scores.get("rougeLsum")))]))
    columns: list[tuple[str, str]] = []
    if s_scores:
        columns.append(("rougeLsum", "ROUGE-Lsum"))
    for lang, parts in as_dict(raw.get("translation")).items():
        for part, entry in as_dict(parts).items():
            entry = as_dict(entry)
            t_scores = as_dict(entry.get("scores"))
            if not t_scores:
                continue
            corpus.append(CorpusScores(f"{part} -> {lang}", as_num(entry.get("n")), [
                ("chrF", as_num(t_scores.get("chrf"))),
                ("chrF++", as_num(t_scores.get("chrf_pp"))),
                ("BLEU", as_num(t_scores.get("bleu")))], as_str(entry.get("bleu_tokenizer"))))
            columns.append((f"chrf:{lang}:{part}", f"chrF {part} {lang}"))
    per_article: dict[str, dict[str, float | None]] = {}
    for item in as_list(raw.get("articles")):
        item = as_dict(item)
        rid = as_str(item.get("id"))
        if rid is None:
            continue
        row: dict[str, float | None] = {}
        row["rougeLsum"] = as_num(as_dict(item.get("summary")).get("rougeLsum"))
        for lang, parts in as_dict(item.get("translations")).items():
            for part, scores in as_dict(parts).items():
                row[f"chrf:{lang}:{part}"] = as_num(as_dict(scores).get("chrf"))
        per_article[rid] = row
    if not corpus and not per_article:
        return None
    return EvalView(corpus, columns, per_article, as_num(raw.get("n_matched")))
