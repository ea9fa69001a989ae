"""Read a run's files for the report: records and stats through the package's one reader.

Records and the review come from :func:`summarize.records.result_from_json` as they are
(:class:`summarize.records.ArticleResult`, :class:`summarize.records.Review`); stats.json
from :func:`summarize.records.stats_from_json`, plus what only a display needs: whether a
figure was recorded at all (a missing wall time shows as a dash, not as 0 s). eval.json,
``summarize eval``'s file, is read here too. Every reader is tolerant: a value of the wrong
type reads as missing and never raises.

Strings stay raw here; the templates escape them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from summarize.records import (
    ArticleResult,
    Failure,
    ModelInfo,
    RunSummary,
    Skipped,
    StageTiming,
    result_from_json,
    stats_from_json,
)


def as_str(value: object) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


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


def read_record(raw: dict) -> ArticleResult:
    """One results.jsonl object as a record (:func:`summarize.records.result_from_json`).

    ``load_results`` passes only objects with a string id; anything else reads as a record
    with status ``unknown``.
    """
    record = result_from_json(raw)
    if record is None:
        return ArticleResult(id=str(raw.get("id", "")), source="", status="unknown")
    return record


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class Stats:
    """stats.json as the report shows it: the run's figures, None where not recorded.

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
    models: list[ModelInfo] = field(default_factory=list)
    stages: dict[str, StageTiming] = field(default_factory=dict)
    packages: list[tuple[str, str | None]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] | None = None
    runs: list[RunSummary] = field(default_factory=list)
    review_flags: dict[str, int] | None = None


def read_stats(raw: dict) -> Stats:
    """Read the stats.json object through the package's tolerant loader
    (:func:`summarize.records.stats_from_json`); what the file does not record stays None."""
    st = stats_from_json(raw)

    def recorded(key: str, value: Any) -> Any:
        return value if as_num(raw.get(key)) is not None or as_str(raw.get(key)) else None

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
        models=st.models,
        stages=st.stages,
        packages=[(str(k), _shown(v)) for k, v in as_dict(raw.get("packages")).items()],
        failures=st.failures,
        skipped=st.skipped if "skipped" in raw else None,
        runs=st.runs,
        review_flags=st.review_flags if isinstance(raw.get("review_flags"), dict) else None,
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
