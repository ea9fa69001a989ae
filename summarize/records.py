"""Plain typed records passed between the stages of a run (stdlib only)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: The stages of a run, in order, as stats.json and the report name them.
STAGES = ("load", "read", "summarize", "translate", "write")


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
class ModelInfo:
    """What stats.json records about one loaded model, per role."""

    role: str
    model_id: str
    path: str
    revision: str | None
    license: str | None
    family: str
    load_s: float
    engine: str = "torch"
    device: str = "cpu"
    device_name: str = ""
    dtype: str = "float32"
    tuning: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, role: str, info: Any, load_s: float, family: str | None = None) -> ModelInfo:
        """From a backend's ``BackendInfo`` (duck-typed: this module imports no engine)."""
        return cls(role=role, model_id=info.model_id, path=info.path, revision=info.revision,
                   license=info.license,
                   family=family or getattr(info, "language_family", None) or info.family,
                   load_s=round(load_s, 3),
                   engine=info.engine, device=info.device, device_name=info.device_name,
                   dtype=info.dtype, tuning=dict(info.tuning))


#: Fields of a results.jsonl record, in the order they are written.
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


# --- the review -------------------------------------------------------------------------------


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
    if not (_is_number(mean) and _is_number(low)):
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
    data = _as_dict(value)
    confidence = _confidence_from_json(data["confidence"] if "confidence" in data
                                       else data.get("c"))
    raw_flags = data["flags"] if "flags" in data else data.get("f")
    flags = tuple(f for item in _as_list(raw_flags) if (f := _flag_from_json(item)) is not None)
    return ReviewCell(confidence, flags)


def _counts_from_json(value: Any) -> dict[str, int]:
    return {str(k): n for k, v in _as_dict(value).items() if (n := _as_int(v)) > 0}


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
        score=float(value["score"]) if _is_number(value.get("score")) else 0.0,
        flag_counts=_counts_from_json(counts),
        confidence=_confidence_from_json(value["confidence"] if "confidence" in value
                                         else value.get("c")),
        summary=_cell_from_json(summary) if isinstance(summary, dict) else None,
        translations={
            str(lang): {str(part): [[_cell_from_json(c) for c in _as_list(row)]
                                    for row in _as_list(rows)]
                        for part, rows in _as_dict(parts).items()}
            for lang, parts in _as_dict(value.get("translations")).items()
            if isinstance(parts, dict)
        },
        whole_translations={
            str(lang): {str(part): _cell_from_json(c) for part, c in parts.items()
                        if isinstance(c, dict)}
            for lang, parts in _as_dict(value.get("whole_translations")).items()
            if isinstance(parts, dict)
        },
    )


# --- results.jsonl ----------------------------------------------------------------------------


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
        source=_as_str(data.get("source")),
        status=_as_str(data.get("status")) or "unknown",
        title=_as_str(data.get("title")),
        lang=_as_opt_str(data.get("lang")),
        error=_as_opt_str(data.get("error")),
        text=_as_str(data.get("text")),
        summary=_as_opt_str(data.get("summary")),
        chunks=_as_int(data.get("chunks")),
        translations={
            str(lang): {str(k): v for k, v in parts.items() if isinstance(v, str)}
            for lang, parts in _as_dict(data.get("translations")).items()
            if isinstance(parts, dict)
        },
        alignment={
            str(lang): {str(k): _paragraphs_from_json(v) for k, v in parts.items()
                        if isinstance(v, list)}
            for lang, parts in _as_dict(data.get("alignment")).items()
            if isinstance(parts, dict)
        },
        review=review_from_json(data.get("review")),
        routes={str(k): v for k, v in _as_dict(data.get("routes")).items() if isinstance(v, str)},
        timings={str(k): float(v) for k, v in _as_dict(data.get("timings")).items()
                 if _is_number(v)},
        n_words=_as_int(data.get("n_words")),
        n_chars=_as_int(data.get("n_chars")),
        key=_as_opt_str(data.get("key")),
        finished_at=_as_str(data.get("finished_at")),
        run=_as_opt_str(data.get("run")),
        duplicate_of=_as_opt_str(data.get("duplicate_of")),
        page=_as_opt_str(data.get("page")),
        page_md=_as_opt_str(data.get("page_md")),
        schema_version=_as_int(data.get("schema_version"), SCHEMA_VERSION),
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
        for pair in _as_list(paragraph):
            if isinstance(pair, list):
                pairs.append([_text_of(pair[0]) if pair else "",
                              _text_of(pair[1]) if len(pair) > 1 else ""])
            else:
                pairs.append([_text_of(pair), ""])
        paragraphs.append(pairs)
    return paragraphs


@dataclass(frozen=True)
class StageTiming:
    """Totals of one stage of a run (stats.json ``stages``); None fields are not written."""

    seconds: float = 0.0
    n_items: int | None = None
    n_batches: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    oom_splits: int | None = None
    input_tokens_per_s: float | None = None
    output_tokens_per_s: float | None = None


@dataclass(frozen=True)
class ArticleCounts:
    """How many articles a run counted."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0


#: An article or file that failed, as the run lists it (stats.json ``failures``): the same
#: record as the engine's :class:`InputFailure`.
Failure = InputFailure


@dataclass(frozen=True)
class RunSummary:
    """One run's figures in the history that stats.json keeps (``runs``)."""

    run: str
    started_at: str = ""
    finished_at: str = ""
    wall_s: float = 0.0
    processed: int = 0
    ok: int = 0
    failed: int = 0
    resumed: int = 0
    articles_per_s: float | None = None
    interrupted: bool = False
    device: str | None = None
    dtype: str | None = None
    models: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunStats:
    """stats.json: what the run that did the work did, where, with which models, how fast.

    A run with nothing to do (every article already done) keeps the figures of the run
    before it and only adds itself to ``runs``, the history of every run on the folder.
    """

    run: str = ""
    started_at: str = ""
    finished_at: str = ""
    wall_s: float = 0.0
    device: str | None = None
    device_name: str | None = None
    dtype: str | None = None
    models: list[ModelInfo] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    translate: str = "summary"
    source_lang: str = "en"
    packages: dict[str, str | None] = field(default_factory=dict)
    stages: dict[str, StageTiming] = field(default_factory=dict)
    articles: ArticleCounts = field(default_factory=ArticleCounts)
    articles_per_s: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_mb: float | None = None
    interrupted: bool = False
    models_loaded: bool = False
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    runs: list[RunSummary] = field(default_factory=list)
    replicas: list[dict[str, Any]] = field(default_factory=list)
    review_flags: dict[str, int] = field(default_factory=dict)
    import_s: float = 0.0
    schema_version: int = SCHEMA_VERSION

    def summary(self) -> RunSummary:
        """This run's entry for the history."""
        a = self.articles
        return RunSummary(
            run=self.run or self.started_at, started_at=self.started_at,
            finished_at=self.finished_at, wall_s=self.wall_s,
            processed=a.ok - a.resumed + a.failed, ok=a.ok, failed=a.failed,
            resumed=a.resumed, articles_per_s=self.articles_per_s,
            interrupted=self.interrupted, device=self.device, dtype=self.dtype,
            models=[m.model_id for m in self.models],
            stage_seconds={k: v.seconds for k, v in self.stages.items()},
        )


def stats_to_json(stats: RunStats) -> dict[str, Any]:
    """The JSON object of stats.json (stage entries without their unset fields)."""
    data = asdict(stats)
    data["stages"] = {
        name: {k: v for k, v in asdict(timing).items() if v is not None}
        for name, timing in stats.stages.items()
    }
    order = ["schema_version", *(f.name for f in fields(RunStats) if f.name != "schema_version")]
    return {name: data[name] for name in order}


def stats_from_json(data: Any) -> RunStats:
    """Read stats.json back, tolerantly (anything unreadable becomes its default)."""
    if not isinstance(data, dict):
        return RunStats()
    stages = {}
    for name, entry in _as_dict(data.get("stages")).items():
        entry = _as_dict(entry)
        stages[str(name)] = StageTiming(**{
            f.name: _num_or_none(entry.get(f.name)) if f.name != "seconds"
            else float(_num_or_none(entry.get("seconds")) or 0.0)
            for f in fields(StageTiming)
        })
    counts = _as_dict(data.get("articles"))
    models = []
    for m in _as_list(data.get("models")):
        if isinstance(m, dict) and isinstance(m.get("model_id"), str):
            models.append(ModelInfo(
                role=_as_str(m.get("role")), model_id=m["model_id"], path=_as_str(m.get("path")),
                revision=_as_opt_str(m.get("revision")), license=_as_opt_str(m.get("license")),
                family=_as_str(m.get("family")), load_s=float(_num_or_none(m.get("load_s")) or 0),
                engine=_as_str(m.get("engine")) or "torch", device=_as_str(m.get("device")),
                device_name=_as_str(m.get("device_name")), dtype=_as_str(m.get("dtype")),
                tuning=_as_dict(m.get("tuning")),
            ))
    return RunStats(
        started_at=_as_str(data.get("started_at")),
        finished_at=_as_str(data.get("finished_at")),
        wall_s=float(_num_or_none(data.get("wall_s")) or 0.0),
        device=_as_opt_str(data.get("device")),
        device_name=_as_opt_str(data.get("device_name")),
        dtype=_as_opt_str(data.get("dtype")),
        models=models,
        targets=[t for t in _as_list(data.get("targets")) if isinstance(t, str)],
        translate=_as_str(data.get("translate")) or "summary",
        source_lang=_as_str(data.get("source_lang")) or "en",
        packages={str(k): _as_opt_str(v) for k, v in _as_dict(data.get("packages")).items()},
        stages=stages,
        articles=ArticleCounts(**{f.name: _as_int(counts.get(f.name))
                                  for f in fields(ArticleCounts)}),
        articles_per_s=_num_or_none(data.get("articles_per_s")),
        peak_rss_mb=_num_or_none(data.get("peak_rss_mb")),
        peak_gpu_mb=_num_or_none(data.get("peak_gpu_mb")),
        interrupted=data.get("interrupted") is True,
        models_loaded=data.get("models_loaded") is True,
        failures=[Failure(_as_str(f.get("id")), _as_str(f.get("source")), _as_str(f.get("error")))
                  for f in _as_list(data.get("failures")) if isinstance(f, dict)],
        skipped=[Skipped(_as_str(f.get("source")), _as_str(f.get("reason")))
                 for f in _as_list(data.get("skipped")) if isinstance(f, dict)],
        config=_as_dict(data.get("config")),
        runs=[_run_summary(r) for r in _as_list(data.get("runs")) if isinstance(r, dict)
              and isinstance(r.get("run"), str)],
        run=_as_str(data.get("run")),
        replicas=[r for r in _as_list(data.get("replicas")) if isinstance(r, dict)],
        review_flags={str(k): n for k, v in _as_dict(data.get("review_flags")).items()
                      if (n := _as_int(v, -1)) >= 0},
        import_s=float(_num_or_none(data.get("import_s")) or 0.0),
        schema_version=_as_int(data.get("schema_version"), SCHEMA_VERSION),
    )


def _run_summary(data: dict[str, Any]) -> RunSummary:
    return RunSummary(
        run=data["run"], started_at=_as_str(data.get("started_at")),
        finished_at=_as_str(data.get("finished_at")),
        wall_s=float(_num_or_none(data.get("wall_s")) or 0.0),
        processed=_as_int(data.get("processed")), ok=_as_int(data.get("ok")),
        failed=_as_int(data.get("failed")), resumed=_as_int(data.get("resumed")),
        articles_per_s=_num_or_none(data.get("articles_per_s")),
        interrupted=data.get("interrupted") is True,
        device=_as_opt_str(data.get("device")), dtype=_as_opt_str(data.get("dtype")),
        models=[m for m in _as_list(data.get("models")) if isinstance(m, str)],
        stage_seconds={str(k): float(v) for k, v in _as_dict(data.get("stage_seconds")).items()
                       if _is_number(v)},
    )


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not NaN, not an int too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _num_or_none(value: Any) -> Any:
    return value if _is_number(value) else None


def _as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _as_opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, int) and _is_number(value):
        return value
    if isinstance(value, float) and _is_number(value) and value.is_integer():
        return int(value)
    return default


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
