"""The model replicas of ``--engine ray``: Ray actors that load their models once and run
one phase of the group processor on each group they are sent.

Ray Data constructs a replica once per actor (again after Ray restarts a dead one) and calls
it with one row per group (:class:`_Replica` says the columns). The summarize stage
(:class:`SummarizeReplica`) runs
:meth:`summarize.run.process.GroupProcessor.summarize_phase`; the translate stage
(:class:`TranslateReplica`) runs ``translate_phase`` and emits the group's records; a run
with only one stage runs both phases there (:class:`ModelReplica` when one model serves
both roles: loaded once, a single vLLM engine for both).

A replica closes its models when Ray Data lets it go at the end of the run (a vLLM engine
ends its worker processes and frees its memory). A vLLM engine that died inside a live
replica (its engine process killed, a device fault) makes the replica exit, so that Ray
restarts it with a fresh engine, as it restarts a replica that died.

Faults: a group that already killed a replica of a stage is retried there article by
article, and an article that kills a replica on its own is recorded as an error (and skips
the later stage), so a poison article cannot loop or stop the run. The :class:`Ledger`
actor counts the attempts across restarts. Tests inject deaths through a
:class:`~summarize.run.hooks.FaultPlan`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from dataclasses import asdict, replace
from typing import Any

import ray

from summarize.errors import SummarizeError
from summarize.records import ArticleResult, InputFailure, result_from_json, result_to_json
from summarize.run.hooks import FaultPlan
from summarize.run.process import GroupProcessor, error_record, failure_record
from summarize.run.ray_plan import BOTH
from summarize.run.stats import StatsCollector
from summarize.run.work import GroupState, Pending
from summarize.settings import RunConfig

log = logging.getLogger(__name__)

#: A group is retried article by article after it killed this many replicas of a stage.
GROUP_DEATHS = 1
#: An article alone that killed this many replicas is recorded as an error.
ARTICLE_DEATHS = 1


class Ledger:
    """Counts how often a call or an article was started, across replica restarts.

    Runs as a small actor beside the pools (no CPU reserved): a replica that dies loses its
    memory, the ledger does not. It also keeps what an article of a retried group gave, so
    a later retry of the same group does not redo it. Ray restarts it if it dies (its
    counts start again: at worst a poison article kills one more replica).
    """

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}
        self.done: dict[str, str] = {}

    def begin(self, key: str) -> tuple[int, str | None]:
        """Count a start of ``key``; returns (starts so far, its finished output or None)."""
        self.starts[key] = self.starts.get(key, 0) + 1
        return self.starts[key], self.done.get(key)

    def finish(self, key: str, output: str) -> None:
        self.done[key] = output


#: What one call of a stage gives: the state for the next stage (None at the last) and
#: the records finished so far.
_Output = tuple[GroupState | None, list[ArticleResult]]


class _Counts:
    """What a replica's group processor reports of one call: work queued and done, by
    progress stage (its own object, so that the processor holds no reference to the
    replica and the replica is freed, its models closed, as soon as Ray Data drops it)."""

    def __init__(self) -> None:
        self.work: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def reset(self) -> None:
        self.work, self.done = {}, {}

    def on_batch(self, stage: str, n: int) -> None:
        self.done[stage] = self.done.get(stage, 0) + n
        self.done["calls"] = self.done.get("calls", 0) + 1

    def on_work(self, stage: str, n: int) -> None:
        self.work[stage] = self.work.get(stage, 0) + n


class _Replica:
    """One model replica of a stage: loads its models once, runs its phases on groups.

    Ray Data constructs it once per actor (again after a restart) and calls it with rows
    of ``key`` (the group's), ``n`` (its articles), ``payload`` (JSON: ``items``, the
    pending articles, at the first stage; ``state``, a GroupState or null, and
    ``records``, those already finished, after it), ``figures`` (JSON list of each
    stage's figures for the group) and ``fatal`` (a usage error that stops the run, such
    as a model that cannot load; "" normally). It returns the same columns.

    Args:
        config: The run's configuration.
        ledger: Handle of the :class:`Ledger` actor.
        threads: CPU threads for the engine (CPU replicas share the cores).
        first: This stage makes the summaries (``summarize_phase``) from pending articles.
        last: This stage makes the records (``translate_phase``).
        faults: Deaths to inject (tests).
    """

    stage = ""
    roles: tuple[str, ...] = ()

    def __init__(self, config: RunConfig, ledger: Any, threads: int = 0, first: bool = True,
                 last: bool = True, faults: FaultPlan | None = None):
        t0 = time.perf_counter()
        _leave_signals_to_the_driver()
        self.first, self.last = first, last
        faults = faults or FaultPlan()
        self.fault_marker = f"{faults.crash_once}.{self.stage}" if faults.crash_once else None
        self.poison = None
        if faults.poison:
            article, _, stage = faults.poison.partition("@")
            self.poison = article if stage in ("", self.stage) else None
        self.ledger = ledger
        ctx = ray.get_runtime_context()
        self.identity = {"stage": self.stage, "actor": ctx.get_actor_id() or "",
                         "node": ctx.get_node_id()[:12], "pid": os.getpid()}
        # Ray runs __init__ again in a restarted actor: the ledger counts the starts
        n_starts, _ = ray.get(ledger.begin.remote("init:" + self.identity["actor"]))
        self.identity["restarts"] = n_starts - 1
        if config.device.startswith("cuda") and ray.get_gpu_ids():
            config = replace(config, device="cuda")  # Ray shows this actor its own GPU(s)
        if threads and config.backend_options.get("threads") != threads:
            config = replace(config, backend_options={**config.backend_options,
                                                      "threads": threads})
        if threads:
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:
                pass
        self.config = config
        self.fatal = ""
        self.collector = StatsCollector()
        self.counts = _Counts()
        self.models = None
        self.processor: GroupProcessor | None = None
        self.load_s = self.import_s = 0.0
        try:
            from summarize.run.models import load_models

            self.models = load_models(config, roles=self.roles)
        except SummarizeError as exc:  # one line for the user, not a crashed actor
            self.fatal = json.dumps({"type": type(exc).__name__, "message": str(exc)})
        else:
            self.load_s, self.import_s = self.models.load_s, self.models.import_s
            self.processor = GroupProcessor(config, self.models, self.collector,
                                            self.counts.on_batch, self.counts.on_work)
        self.init_s = time.perf_counter() - t0
        self.loads_reported = False

    def close(self) -> None:
        """Close the models (a vLLM engine ends its worker processes); idempotent."""
        models, self.models = getattr(self, "models", None), None
        self.processor = None
        if models is not None:
            try:
                models.close()
            except Exception:  # the process is ending: nothing more to free
                pass

    def __del__(self) -> None:
        # Ray Data drops its replicas when the run's stream ends (``__ray_shutdown__``)
        self.close()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"key": [], "n": [], "payload": [], "figures": [],
                                     "fatal": []}
        for key, n, payload, figures, fatal in zip(
                batch["key"], batch["n"], batch["payload"], batch["figures"], batch["fatal"],
                strict=True):
            payload, figures, fatal = self._row(str(key), str(payload), str(figures),
                                                str(fatal))
            for name, value in (("key", str(key)), ("n", int(n)), ("payload", payload),
                                ("figures", figures), ("fatal", fatal)):
                out[name].append(value)
        return out

    def _row(self, key: str, payload: str, figures: str, fatal: str) -> tuple[str, str, str]:
        if fatal or self.fatal:
            return payload, figures, fatal or self.fatal
        t0 = time.perf_counter()
        data = json.loads(payload)
        passed = list(data.get("records", []))  # finished in an earlier stage
        if self.first:
            work: list[Pending] | GroupState | None = [
                Pending.from_json(i) for i in data["items"]]
        else:
            work = GroupState.from_json(data["state"]) if data.get("state") else None
        items = (work if isinstance(work, list) else work.items) if work is not None else []
        if not items:
            return _payload(None, [], passed), figures, ""
        self.collector = StatsCollector()
        assert self.processor is not None
        self.processor.collector = self.collector
        self.counts.reset()
        starts, _ = ray.get(self.ledger.begin.remote(f"{self.stage}:{key}"))
        ids = [item.article.id for item in items]
        if starts <= GROUP_DEATHS:
            self._maybe_die(ids)
            state, records = self._run(work)
        else:  # this group killed a replica of this stage before: find the article that does
            units: list[Any] = ([[item] for item in items] if isinstance(work, list)
                                else work.split())
            parts = [self._run_alone(unit, key) for unit in units]
            states = [s for s, _ in parts if s is not None]
            state = GroupState.merge(states) if states else None
            records = [r for _, rs in parts for r in rs]
        fig = self._figures(len(items), time.perf_counter() - t0, starts)
        return (_payload(state, records, passed), json.dumps([*json.loads(figures), fig]), "")

    def _run(self, work: list[Pending] | GroupState) -> _Output:
        """This stage's phases on ``work``; a bug or a broken model fails the articles, not
        the run."""
        assert self.processor is not None
        try:
            state = self.processor.summarize_phase(work) if self.first else work
            assert isinstance(state, GroupState)
            if self.last:
                return None, self.processor.translate_phase(state)
            return state, []
        except Exception as exc:
            if engine_died(exc):  # every later call would fail: Ray restarts the replica
                log.error("the %s replica's model engine died (%s); exiting so that Ray "
                          "restarts it", self.stage, exc)
                os._exit(1)
            if self.config.debug:
                raise
            items = work if isinstance(work, list) else work.items
            return None, [error_record(item, exc) for item in items]

    def _run_alone(self, unit: list[Pending] | GroupState, group_key: str) -> _Output:
        item = unit[0] if isinstance(unit, list) else unit.items[0]
        key = f"{self.stage}:article:{item.article.id}:{item.key}:{group_key}"
        starts, done = ray.get(self.ledger.begin.remote(key))
        if done is not None:
            data = json.loads(done)
            state = GroupState.from_json(data["state"]) if data.get("state") else None
            return state, [record_of(r) for r in data["records"]]
        if starts > ARTICLE_DEATHS:
            return None, [failure_record(InputFailure(
                item.article.id, item.article.source,
                f"the Ray replica processing this article ({self.stage} stage) died "
                f"{starts - 1} time(s); it was left out (run again with --engine local to "
                "see the error)"))]
        self._maybe_die([item.article.id])
        state, records = self._run(unit)
        ray.get(self.ledger.finish.remote(key, _payload(state, records, [])))
        return state, records

    def _maybe_die(self, ids: list[str]) -> None:
        """The test hooks: kill this replica the way a crash or the OOM killer would."""
        if self.poison and self.poison in ids:
            os._exit(1)
        if self.fault_marker:
            try:
                fd = os.open(self.fault_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(1)

    def _figures(self, n: int, seconds: float, starts: int) -> dict[str, Any]:
        models = self.models
        figures: dict[str, Any] = {
            **self.identity, "articles": n, "seconds": seconds, "attempt": starts,
            "stage_s": {k: v for k, v in self.collector.stage_s.items() if v},
            "batches": {k: asdict(v) for k, v in self.collector.batches.items()},
            "work": dict(self.counts.work), "done": dict(self.counts.done),
            "device": models.device if models else None,
            "device_name": models.device_name if models else None,
            "dtype": models.dtype if models else None,
            "engine": models.engine if models else None,
            "infos": [asdict(i) for i in models.infos] if models else [],
        }
        if not self.loads_reported:  # once per actor process: a restart reports again
            figures["load_s"], figures["import_s"] = self.load_s, self.import_s
            figures["init_s"] = self.init_s
            self.loads_reported = True
        return figures


class SummarizeReplica(_Replica):
    """A replica of the summarize stage: the summarizer (and, loaded on first use, the
    translators into English of pivoted articles)."""

    stage = "summarize"
    roles = ("summarizer",)


class TranslateReplica(_Replica):
    """A replica of the translate stage: the translators of the targets (and those of
    other pairs, loaded on first use)."""

    stage = "translate"
    roles = ("translators",)


class ModelReplica(_Replica):
    """A replica of the one stage of a run whose summarizer also makes every translation:
    the model loaded once (one vLLM engine serves both roles), both phases on each
    group."""

    stage = BOTH
    roles = ("summarizer", "translators")


REPLICAS = {"summarize": SummarizeReplica, "translate": TranslateReplica, BOTH: ModelReplica}


def engine_died(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) says the model's engine is dead for good (a vLLM
    engine whose process ended): only a fresh replica can go on."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 8:
        if getattr(cur, "engine_dead", False) or type(cur).__name__ == "EngineDeadError":
            return True
        cur, seen = cur.__cause__ or cur.__context__, seen + 1
    return False


def _leave_signals_to_the_driver() -> None:
    """Ctrl-C is the driver's to handle (a terminal sends it to every process of its group):
    a replica finishes its call and the driver stops the run after it."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # only the main thread may set it: leave it to Ray then
        pass


def _payload(state: GroupState | None, records: list[ArticleResult],
             passed: list[dict[str, Any]]) -> str:
    return json.dumps({"state": state.to_json() if state is not None else None,
                       "records": [*passed, *(result_to_json(r) for r in records)]},
                      ensure_ascii=False)


def record_of(data: dict[str, Any]) -> ArticleResult:
    """A record as a replica sent it (JSON of :func:`summarize.records.result_to_json`)."""
    record = result_from_json(data)
    assert record is not None
    return record


__all__ = ["ARTICLE_DEATHS", "GROUP_DEATHS", "REPLICAS", "Ledger", "ModelReplica",
           "SummarizeReplica", "TranslateReplica", "engine_died", "record_of"]
