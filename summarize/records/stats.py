"""What stats.json holds: the run, its models, stages, counts and history; one writer and one
tolerant reader."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from summarize.records.articles import SCHEMA_VERSION, InputFailure, Skipped
from summarize.records.tolerant import (
    as_dict,
    as_int,
    as_list,
    as_opt_str,
    as_str,
    is_number,
    num_or_none,
)

STAGES = ("load", "read", "summarize", "translate", "write")


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
    #: The engine the run used, and why (``--backend auto`` chose it, or it was asked for).
    backend: str | None = None
    backend_choice: str | None = None
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
    for name, entry in as_dict(data.get("stages")).items():
        entry = as_dict(entry)
        stages[str(name)] = StageTiming(**{
            f.name: num_or_none(entry.get(f.name)) if f.name != "seconds"
            else float(num_or_none(entry.get("seconds")) or 0.0)
            for f in fields(StageTiming)
        })
    counts = as_dict(data.get("articles"))
    models = []
    for m in as_list(data.get("models")):
        if isinstance(m, dict) and isinstance(m.get("model_id"), str):
            models.append(ModelInfo(
                role=as_str(m.get("role")), model_id=m["model_id"], path=as_str(m.get("path")),
                revision=as_opt_str(m.get("revision")), license=as_opt_str(m.get("license")),
                family=as_str(m.get("family")), load_s=float(num_or_none(m.get("load_s")) or 0),
                engine=as_str(m.get("engine")) or "torch", device=as_str(m.get("device")),
                device_name=as_str(m.get("device_name")), dtype=as_str(m.get("dtype")),
                tuning=as_dict(m.get("tuning")),
            ))
    return RunStats(
        started_at=as_str(data.get("started_at")),
        finished_at=as_str(data.get("finished_at")),
        wall_s=float(num_or_none(data.get("wall_s")) or 0.0),
        device=as_opt_str(data.get("device")),
        device_name=as_opt_str(data.get("device_name")),
        dtype=as_opt_str(data.get("dtype")),
        backend=as_opt_str(data.get("backend")),
        backend_choice=as_opt_str(data.get("backend_choice")),
        models=models,
        targets=[t for t in as_list(data.get("targets")) if isinstance(t, str)],
        translate=as_str(data.get("translate")) or "summary",
        source_lang=as_str(data.get("source_lang")) or "en",
        packages={str(k): as_opt_str(v) for k, v in as_dict(data.get("packages")).items()},
        stages=stages,
        articles=ArticleCounts(**{f.name: as_int(counts.get(f.name))
                                  for f in fields(ArticleCounts)}),
        articles_per_s=num_or_none(data.get("articles_per_s")),
        peak_rss_mb=num_or_none(data.get("peak_rss_mb")),
        peak_gpu_mb=num_or_none(data.get("peak_gpu_mb")),
        interrupted=data.get("interrupted") is True,
        models_loaded=data.get("models_loaded") is True,
        failures=[Failure(as_str(f.get("id")), as_str(f.get("source")), as_str(f.get("error")))
                  for f in as_list(data.get("failures")) if isinstance(f, dict)],
        skipped=[Skipped(as_str(f.get("source")), as_str(f.get("reason")))
                 for f in as_list(data.get("skipped")) if isinstance(f, dict)],
        config=as_dict(data.get("config")),
        runs=[_run_summary(r) for r in as_list(data.get("runs")) if isinstance(r, dict)
              and isinstance(r.get("run"), str)],
        run=as_str(data.get("run")),
        replicas=[r for r in as_list(data.get("replicas")) if isinstance(r, dict)],
        review_flags={str(k): n for k, v in as_dict(data.get("review_flags")).items()
                      if (n := as_int(v, -1)) >= 0},
        import_s=float(num_or_none(data.get("import_s")) or 0.0),
        schema_version=as_int(data.get("schema_version"), SCHEMA_VERSION),
    )


def _run_summary(data: dict[str, Any]) -> RunSummary:
    return RunSummary(
        run=data["run"], started_at=as_str(data.get("started_at")),
        finished_at=as_str(data.get("finished_at")),
        wall_s=float(num_or_none(data.get("wall_s")) or 0.0),
        processed=as_int(data.get("processed")), ok=as_int(data.get("ok")),
        failed=as_int(data.get("failed")), resumed=as_int(data.get("resumed")),
        articles_per_s=num_or_none(data.get("articles_per_s")),
        interrupted=data.get("interrupted") is True,
        device=as_opt_str(data.get("device")), dtype=as_opt_str(data.get("dtype")),
        models=[m for m in as_list(data.get("models")) if isinstance(m, str)],
        stage_seconds={str(k): float(v) for k, v in as_dict(data.get("stage_seconds")).items()
                       if is_number(v)},
    )
