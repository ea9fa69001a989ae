"""The Ray engine: the model work of a run in two Ray Data stages of model replicas; reading
and writing stay on the driver.

``--engine ray`` keeps everything a run writes where the local engine writes it, and moves
only the model work out of the process:

1. a feeding thread of the driver reads the inputs, decides each article's language,
   filters out what is already done (resume) and forms the groups exactly as
   :class:`summarize.run.local.Engine` does: nothing finished is sent to Ray, and a run with
   nothing left starts no Ray at all;
2. the groups enter Ray Data through :class:`GroupSource`, a datasource whose one read
   task takes them from a queue as the driver reads them, one row per group. At most
   :func:`window` groups are in flight (sent and not yet written), so memory stays flat
   whatever the input count, and reading overlaps the model work;
3. two chained ``map_batches`` stages over actor pools (:class:`ray.data.ActorPoolStrategy`),
   one group per call (``batch_size=1``: the group is the engine's unit, pooled and
   length-sorted inside the replica as in the local engine). The summarize stage
   (:class:`SummarizeReplica`: the summarizer, and the translators into English that a
   pivoted summary needs, loaded on first use) runs
   :meth:`summarize.run.process.GroupProcessor.summarize_phase`; its rows (the
   :class:`summarize.run.process.GroupState` as JSON) flow into the translate stage
   (:class:`TranslateReplica`: the translators), which runs ``translate_phase`` and emits
   the group's records. A run without summaries (or without translations) has only the
   other stage, which then runs both phases. Each stage has its own replicas
   (``--replicas`` per stage, ``--gpus-per-replica`` each: :func:`plan_replicas`);
4. records stream back (:meth:`ray.data.Dataset.iter_rows`, one row per group) and the
   driver writes each group whole to results.jsonl and the Markdown pages. Groups finish
   in any order, so **results.jsonl is in completion order**, not input order (the report,
   stats.json and resume do not depend on the order); each replica of each stage has its
   row in ``stats.json`` (``replicas``).

Faults: Ray restarts a replica that dies and retries its call. A group that already killed
a replica of a stage is retried there article by article, and an article that kills a
replica on its own is recorded as an error (and skips the later stage), so a poison
article cannot loop or stop the run. A small ledger actor counts the attempts.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import queue
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import ray
import ray.data
import ray.util.scheduling_strategies

from summarize import errors
from summarize.errors import SummarizeError, UsageError
from summarize.inputs import SourceFile
from summarize.outputs.writers import RecordState
from summarize.records import (
    ArticleResult,
    InputFailure,
    ModelInfo,
    result_from_json,
    result_to_json,
)
from summarize.run.local import Engine, group_limit
from summarize.run.process import GroupProcessor, error_record, failure_record, ok_record
from summarize.run.resume import text_digest
from summarize.run.stats import StatsCollector
from summarize.run.work import GroupState, Interrupted, Pending
from summarize.settings import RunConfig
from summarize.tasks.batching import BatchStats

log = logging.getLogger(__name__)

#: The model stages, in pipeline order.
STAGES = ("summarize", "translate")
#: Test hook: a path. In each stage, the first call that finds no ``<path>.<stage>`` file
#: creates it and kills its replica (``os._exit(1)``), once per run; Ray must restart it.
FAULT_ENV = "SUMMARIZE_RAY_FAULT"
#: Test hook: an article id, or ``id@stage``. Every replica (of that stage) that processes
#: this article dies, every time.
POISON_ENV = "SUMMARIZE_RAY_POISON"
#: A group is retried article by article after it killed this many replicas of a stage.
GROUP_DEATHS = 1
#: An article alone that killed this many replicas is recorded as an error.
ARTICLE_DEATHS = 1
#: Calls queued per replica (one runs, one waits: the next group is there when it ends).
IN_FLIGHT_PER_REPLICA = 2


@dataclass
class RemoteModels:
    """What the driver knows of the replicas' models: what stats.json records of them.

    Stands in for :class:`summarize.run.models.LoadedModels` in the pipeline (``infos``,
    ``device``, ``device_name``, ``dtype``, ``close``); the models live in the actors.
    """

    infos: list[ModelInfo] = field(default_factory=list)
    device: str | None = None
    device_name: str | None = None
    dtype: str | None = None
    engine: str | None = None
    load_s: float = 0.0
    import_s: float = 0.0

    def close(self) -> None:
        """Nothing to free here: the replicas end with the Ray job."""


@dataclass(frozen=True)
class ReplicaPlan:
    """How many replicas a stage runs and what each one reserves."""

    replicas: int
    num_gpus: float
    num_cpus: float
    threads: int


def model_stages(config: RunConfig) -> tuple[str, ...]:
    """The stages a run needs: ``summarize`` unless ``--no-summary``, ``translate`` unless
    ``--translate none`` (at least one: it builds the records)."""
    stages = tuple(s for s, on in zip(STAGES, (config.summarize, config.translate != "none"),
                                      strict=True) if on)
    return stages or ("translate",)


def plan_replicas(config: RunConfig, resources: dict[str, float], n_groups: int | None = None,
                  n_stages: int = 1) -> ReplicaPlan:
    """Size each stage's actor pool from the cluster's resources.

    Args:
        config: ``replicas`` per stage (0: one per GPU, or the CPUs split between the
            stages' replicas) and ``gpus_per_replica`` (None: where GPUs exist, each GPU
            holds one replica of every stage, ``1 / n_stages`` each; else 0).
        resources: :func:`ray.cluster_resources`.
        n_groups: Groups to process when known (there is no point in more replicas).
        n_stages: Model stages sharing the resources.

    Returns:
        The plan of one stage (every stage gets the same); CPU replicas share the CPUs
        evenly (fractions where there are fewer CPUs than replicas) and use that many
        threads each (at least one).
    """
    total_gpus = float(resources.get("GPU", 0.0))
    total_cpus = max(1.0, float(resources.get("CPU", 1.0)))
    n_stages = max(1, n_stages)
    gpus = config.ray.gpus_per_replica
    if gpus is None:
        gpus = 1.0 / n_stages if total_gpus >= 1 else 0.0
    if gpus > 0:
        replicas = config.ray.replicas or max(1, int(total_gpus / (gpus * n_stages) + 1e-9))
    else:
        replicas = config.ray.replicas or max(1, int(total_cpus // n_stages))
    if n_groups:
        replicas = max(1, min(replicas, n_groups))
    cpus = total_cpus / (replicas * n_stages)
    cpus = min(1.0, cpus) if gpus > 0 else (float(int(cpus)) if cpus >= 1 else round(cpus, 4))
    threads = config.backend_options.get("threads") or max(1, int(cpus))
    return ReplicaPlan(replicas=replicas, num_gpus=float(gpus), num_cpus=cpus, threads=threads)


def window(plans: dict[str, ReplicaPlan]) -> int:
    """Groups in flight at most: enough to keep every replica's queue full, no more."""
    return max(2, sum(p.replicas for p in plans.values()) * IN_FLIGHT_PER_REPLICA + 1)


def _group_key(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode("utf-8", "surrogatepass")).hexdigest()[:24]


# -- the source: groups from the driver, as it reads them ---------------------------------------
class GroupSource(ray.data.Datasource):
    """A Ray Data source fed by the driver: one read task takes rows from a Ray queue until
    ``None``, one block per group, so groups flow into the stages as they are read.

    Args:
        rows: A :class:`ray.util.queue.Queue` of row dicts (column -> value), then None.
    """

    def __init__(self, rows: Any):
        self.rows = rows

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(self, parallelism: int, *args: Any, **kwargs: Any
                       ) -> list[ray.data.ReadTask]:
        return [ray.data.ReadTask(functools.partial(_read_rows, self.rows), _unknown_meta())]


def _read_rows(rows: Any) -> Iterator[Any]:
    import pyarrow as pa

    while True:
        row = rows.get(block=True)
        if row is None:
            return
        yield pa.table({name: [value] for name, value in row.items()})


def _no_cpu(read: Any) -> dict[str, Any]:
    """The read task reserves no CPU (it waits on the queue): ``num_cpus=0`` where Ray
    takes it (2.5x), ``ray_remote_args`` before."""
    import inspect

    if "num_cpus" in inspect.signature(read).parameters:
        return {"num_cpus": 0}
    return {"ray_remote_args": {"num_cpus": 0}}


def _unknown_meta() -> Any:
    """Block metadata with nothing known (its fields differ between Ray versions)."""
    from ray.data.block import BlockMetadata

    if dataclasses.is_dataclass(BlockMetadata):
        required = {f.name: None for f in dataclasses.fields(BlockMetadata)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        return BlockMetadata(**required)
    return BlockMetadata(num_rows=None, size_bytes=None, schema=None, input_files=None,
                         exec_stats=None)


# -- the replicas -------------------------------------------------------------------------------
class Ledger:
    """Counts how often a call or an article was started, across replica restarts.

    Runs as a small actor beside the pools (no CPU reserved): a replica that dies loses its
    memory, the ledger does not. It also keeps what an article of a retried group gave, so
    a later retry of the same group does not redo it.
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
        fault_marker: :data:`FAULT_ENV` test hook.
        poison: :data:`POISON_ENV` test hook.
    """

    stage = ""
    roles: tuple[str, ...] = ()

    def __init__(self, config: RunConfig, ledger: Any, threads: int = 0, first: bool = True,
                 last: bool = True, fault_marker: str | None = None,
                 poison: str | None = None):
        t0 = time.perf_counter()
        self.first, self.last = first, last
        self.fault_marker = f"{fault_marker}.{self.stage}" if fault_marker else None
        self.poison = None
        if poison:
            article, _, stage = poison.partition("@")
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
                                            self._on_batch, self._on_work)
        self.init_s = time.perf_counter() - t0
        self.loads_reported = False
        self.work: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def _on_batch(self, stage: str, n: int) -> None:
        self.done[stage] = self.done.get(stage, 0) + n
        self.done["calls"] = self.done.get("calls", 0) + 1

    def _on_work(self, stage: str, n: int) -> None:
        self.work[stage] = self.work.get(stage, 0) + n

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
        self.work, self.done = {}, {}
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
            return state, [_record(r) for r in data["records"]]
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
            "work": dict(self.work), "done": dict(self.done),
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


REPLICAS = {"summarize": SummarizeReplica, "translate": TranslateReplica}


def _payload(state: GroupState | None, records: list[ArticleResult],
             passed: list[dict[str, Any]]) -> str:
    return json.dumps({"state": state.to_json() if state is not None else None,
                       "records": [*passed, *(result_to_json(r) for r in records)]},
                      ensure_ascii=False)


def _record(data: dict[str, Any]) -> ArticleResult:
    record = result_from_json(data)
    assert record is not None
    return record


# -- the driver ---------------------------------------------------------------------------------
@dataclass
class _Fed:
    """What the reading formed since the previous group: a group to send (``pending``,
    ``--dedupe`` leaders only), and what the driver handles itself (failures, resumed
    articles, copies of texts already done)."""

    pending: list[Pending] = field(default_factory=list)
    failed: list[InputFailure] = field(default_factory=list)
    n_resumed: int = 0
    copies: list[tuple[Pending, ArticleResult]] = field(default_factory=list)
    counted: int = 0  # articles toward the group size, as the local engine counts them


class RayEngine(Engine):
    """The stage loop of :class:`summarize.run.local.Engine` with the model work on Ray.

    Constructed and run by the pipeline exactly like the local engine; reading, resume,
    languages, deduplication and writing stay in this process, groups run in replicas.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plans: dict[str, ReplicaPlan] = {}
        self._replicas: dict[tuple[str, str], dict[str, Any]] = {}
        self._infos: dict[str, list[ModelInfo]] = {}
        self._lock = threading.Lock()  # --dedupe tables, shared with the feeding thread
        self._followers: dict[str, list[Pending]] = {}  # text digest -> copies waiting
        self._leader_of: dict[str, str] = {}  # leader id in flight -> its text digest
        self._finished_texts: dict[str, ArticleResult] = {}  # digest -> ok leader record
        self._side: queue.Queue[_Fed] = queue.Queue()
        self._closing = threading.Event()
        self._feed_error: BaseException | None = None

    # -- the run ---------------------------------------------------------------------------
    def run(self, files: list[SourceFile], existing: dict[str, RecordState],
            fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """Process every article of ``files``; raises Interrupted on Ctrl-C."""
        self.reporter.add_work("read", len(files))
        groups = self._groups(files, existing, fingerprint, failures)
        for fed in groups:  # Ray starts with the first group to send, if there is one
            self._apply(fed)
            if self.stop.is_set():
                raise Interrupted
            if fed.pending:
                self._run_on_ray(fed.pending, groups)
                return

    def _groups(self, files: list[SourceFile], existing: dict[str, RecordState],
                fingerprint: str, failures: Iterable[InputFailure]) -> Iterator[_Fed]:
        """Read the inputs into groups as the local engine forms them (resumed articles
        left out)."""
        fed = _Fed(failed=list(failures))
        n_groups = 0
        for item, spent in self._items(files):
            ready = self._admit(item, spent, fingerprint, existing)  # as the local engine
            if ready is None:
                fed.n_resumed += 1
            elif isinstance(ready, InputFailure):
                fed.failed.append(ready)
            else:
                fed.counted += 1
                self._route(ready, fed)
            if fed.counted + len(fed.failed) >= group_limit(n_groups, self.config.group_size):
                yield fed
                fed = _Fed()
                n_groups += 1
            if self._closing.is_set() or self.stop.is_set():
                return
        yield fed

    def _route(self, item: Pending, fed: _Fed) -> None:
        """Into the group, or (``--dedupe``) a copy of a text done or in flight."""
        if not self.config.dedupe:
            fed.pending.append(item)
            return
        digest = text_digest(item.article)
        with self._lock:
            leader = self._finished_texts.get(digest)
            if leader is not None:
                fed.copies.append((item, leader))
                return
            if digest in self._followers:
                self._followers[digest].append(item)
                return
            self._followers[digest] = []
            self._leader_of[item.article.id] = digest
        fed.pending.append(item)

    def _apply(self, fed: _Fed) -> None:
        """The driver's share of a formed group: counts, progress, failure records, copies."""
        self.tally.n_ok += fed.n_resumed
        self.tally.n_resumed += fed.n_resumed
        self._write([failure_record(f) for f in fed.failed]
                    + [_copy_of(item, leader) for item, leader in fed.copies])

    def _drain(self) -> None:
        while True:
            try:
                self._apply(self._side.get_nowait())
            except queue.Empty:
                return

    def _connect(self) -> bool:
        """Join the configured cluster or start a local instance; True when this run
        started Ray (and so shuts it down)."""
        if ray.is_initialized():
            return False
        address = self.config.ray.address or os.environ.get("RAY_ADDRESS") or None
        quiet = {"logging_level": logging.WARNING, "log_to_driver": self.config.debug}
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local instance"
            raise UsageError(f"cannot start Ray ({where}): {str(exc).splitlines()[0]}; "
                             "check --ray-address / RAY_ADDRESS (`ray status` shows the "
                             "cluster)") from None
        return True

    def _plan(self, resources: dict[str, float], n_groups: int | None) -> None:
        stages = model_stages(self.config)
        plan = plan_replicas(self.config, resources, n_groups, len(stages))
        self.plans = dict.fromkeys(stages, plan)
        need = plan.num_gpus * plan.replicas * len(stages)
        have = float(resources.get("GPU", 0.0))
        if need > have + 1e-9:
            log.warning("ray: the stages ask for %g GPU(s), the cluster has %g: Ray waits "
                        "for more (lower --replicas or --gpus-per-replica)", need, have)

    def _run_on_ray(self, first: list[Pending], groups: Iterator[_Fed]) -> None:
        t0 = time.perf_counter()
        started = self._connect()
        ctx = ray.data.DataContext.get_current()
        saved = (ctx.enable_progress_bars, ctx.target_max_block_size)
        try:
            ctx.enable_progress_bars = False  # the tool draws its own
            ctx.target_max_block_size = 1  # a block per group: groups stream one by one
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            # its "progress bars disabled" notice: the tool's own bars are on screen
            logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
            resources = ray.cluster_resources()
            self._plan(resources, None)
            # read as many groups as there could be replicas: a small run starts fewer
            primed = [first]
            most = max(p.replicas for p in self.plans.values())
            exhausted = False
            while len(primed) < most and not exhausted:
                fed = next(groups, None)
                if fed is None:
                    exhausted = True
                else:
                    self._apply(fed)
                    if fed.pending:
                        primed.append(fed.pending)
            self._plan(resources, len(primed) if exhausted else None)
            for stage, plan in self.plans.items():
                log.info("ray: %s stage: %d replica(s), %s GPU and %s CPU each", stage,
                         plan.replicas, plan.num_gpus, plan.num_cpus)
            log.info("ray: %.1f s to connect", time.perf_counter() - t0)
            with warnings.catch_warnings():
                # "the operator only received 1 input(s)": our source streams its blocks
                warnings.filterwarnings("ignore", message=".*concurrent actors.*")
                self._stream(primed, iter(()) if exhausted else groups)
        finally:
            ctx.enable_progress_bars, ctx.target_max_block_size = saved
            if started:
                ray.shutdown()

    def _stream(self, primed: list[list[Pending]], groups: Iterator[_Fed]) -> None:
        here = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=True)
        from ray.util.queue import Queue

        ledger = ray.remote(Ledger).options(num_cpus=0, scheduling_strategy=here).remote()
        rows = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        credits = threading.Semaphore(window(self.plans))
        feeder = threading.Thread(target=self._feed, args=(primed, groups, rows, credits),
                                  name="summarize-ray-feeder", daemon=True)
        results = self._pipeline(ray.data.read_datasource(
            GroupSource(rows), override_num_blocks=1, **_no_cpu(ray.data.read_datasource)),
            ledger)
        feeder.start()
        it = iter(results.iter_rows())
        try:
            for row in it:
                self._drain()
                if row["fatal"]:
                    fatal = json.loads(row["fatal"])
                    cls = getattr(errors, fatal["type"], UsageError)
                    if not (isinstance(cls, type) and issubclass(cls, SummarizeError)):
                        cls = UsageError
                    raise cls(fatal["message"])
                for fig in json.loads(row["figures"]):
                    self._add_figures(fig)
                payload = json.loads(row["payload"])
                self._write_group([_record(r) for r in payload["records"]])
                credits.release()
                if self.stop.is_set():
                    raise Interrupted
            feeder.join()
            if self._feed_error is not None:
                raise self._feed_error
        except ray.exceptions.RayError as exc:
            if self.config.debug:
                raise
            raise SummarizeError(
                f"the Ray run failed ({type(exc).__name__}: {str(exc).strip().splitlines()[0]}); "
                "every article finished before this is saved: run the same command again "
                "to resume") from None
        finally:
            self._closing.set()
            close = getattr(it, "close", None)
            if close is not None:
                close()  # stops the pipeline when the loop ends early (Ctrl-C, error)
            feeder.join(timeout=10)
            self._drain()  # whole records of what the reading finished
            for actor in (ledger, rows.actor):
                try:
                    ray.kill(actor)
                except Exception:  # Ray is already down: nothing left to stop
                    pass

    def _pipeline(self, ds: ray.data.Dataset, ledger: Any) -> ray.data.Dataset:
        """The model stages over the group rows, each on its own actor pool."""
        stages = list(self.plans)
        for n, stage in enumerate(stages):
            plan = self.plans[stage]
            gpu_args = {"num_gpus": plan.num_gpus} if plan.num_gpus else {}
            ds = ds.map_batches(
                REPLICAS[stage],
                fn_constructor_kwargs={
                    "config": self.config, "ledger": ledger, "threads": plan.threads,
                    "first": n == 0, "last": n == len(stages) - 1,
                    "fault_marker": os.environ.get(FAULT_ENV) or None,
                    "poison": os.environ.get(POISON_ENV) or None},
                batch_size=1, batch_format="numpy",  # one group per call
                compute=ray.data.ActorPoolStrategy(
                    size=plan.replicas, max_tasks_in_flight_per_actor=IN_FLIGHT_PER_REPLICA),
                num_cpus=plan.num_cpus, **gpu_args)
        return ds

    def _feed(self, primed: list[list[Pending]], groups: Iterator[_Fed], rows: Any,
              credits: threading.Semaphore) -> None:
        """The feeding thread: send each group to Ray when a window slot is free."""
        try:
            for pending in primed:
                if not self._send(pending, rows, credits):
                    return
            for fed in groups:
                if fed.pending and not self._send(fed.pending, rows, credits):
                    return
                fed.pending = []
                self._side.put(fed)
        except BaseException as exc:  # re-raised by the driver's loop
            self._feed_error = exc
        finally:
            if not self._closing.is_set():
                rows.put(None)

    def _send(self, pending: list[Pending], rows: Any, credits: threading.Semaphore) -> bool:
        while not credits.acquire(timeout=0.2):
            if self._closing.is_set():
                return False
        ids = [item.article.id for item in pending]
        rows.put({"key": _group_key(ids), "n": len(pending),
                  "payload": json.dumps({"items": [item.to_json() for item in pending]},
                                        ensure_ascii=False),
                  "figures": "[]", "fatal": ""})
        return True

    # -- arriving results ------------------------------------------------------------------
    def _add_figures(self, fig: dict[str, Any]) -> None:
        """Merge one call's figures into the run's stats and its replica's row."""
        c = self.collector
        stage = fig.get("stage", "")
        for name, seconds in fig["stage_s"].items():
            c.stage_s[name] += seconds
        for name, bs in fig["batches"].items():
            c.batches[name].add(BatchStats(**bs))  # asdict() of the replica's
        self.tally.generate_calls += fig["done"].get("calls", 0)
        for name in STAGES:
            if fig["work"].get(name):
                self.reporter.add_work(name, fig["work"][name])
            if fig["done"].get(name):
                self.reporter.advance(name, fig["done"][name])
        if "load_s" in fig:
            c.stage_s["load"] += fig["load_s"]
            c.import_s += fig.get("import_s", 0.0)
        if fig["infos"]:
            self._infos[stage] = [ModelInfo(**info) for info in fig["infos"]]
            infos, roles = [], set()
            for name in STAGES:  # the summarizer first, as the local engine lists them
                for info in self._infos.get(name, []):
                    if info.role not in roles:
                        roles.add(info.role)
                        infos.append(info)
            if self.models is None:
                self.models = RemoteModels(device=fig["device"], device_name=fig["device_name"],
                                           dtype=fig["dtype"], engine=fig["engine"])
            self.models.infos = infos
        plan = self.plans.get(stage)
        rep = self._replicas.get((stage, fig["actor"]))
        if rep is None:
            rep = self._replicas[(stage, fig["actor"])] = {
                "stage": stage,
                "replica": sum(1 for s, _ in self._replicas if s == stage),
                "actor": fig["actor"], "node": fig["node"],
                "pids": [], "device": fig["device"], "device_name": fig["device_name"],
                "num_gpus": plan.num_gpus if plan else 0.0,
                "num_cpus": plan.num_cpus if plan else 1.0,
                "threads": plan.threads if plan else 0,
                "load_s": 0.0, "batches": 0, "articles": 0, "seconds": 0.0,
                "input_tokens": 0, "output_tokens": 0, "retried_batches": 0, "restarts": 0}
        if fig["pid"] not in rep["pids"]:
            rep["pids"].append(fig["pid"])
        rep["restarts"] = max(rep["restarts"], fig["restarts"])
        rep["load_s"] = round(rep["load_s"] + fig.get("load_s", 0.0), 4)
        rep["batches"] += 1
        rep["articles"] += fig["articles"]
        rep["seconds"] = round(rep["seconds"] + fig["seconds"], 4)
        rep["retried_batches"] += fig["attempt"] > 1
        for bs in fig["batches"].values():
            rep["input_tokens"] += bs.get("input_tokens", 0)
            rep["output_tokens"] += bs.get("output_tokens", 0)
        rep["articles_per_s"] = (round(rep["articles"] / rep["seconds"], 3)
                                 if rep["seconds"] else None)
        c.replicas = [dict(r) for r in self._replicas.values()]

    def _write_group(self, records: list[ArticleResult]) -> None:
        """Write a group's records, with their ``--dedupe`` copies after their leader."""
        out = list(records)
        for record in records:
            with self._lock:
                digest = self._leader_of.pop(record.id, None)
                if digest is None:
                    continue
                followers = self._followers.pop(digest, [])
                if record.ok:
                    self._finished_texts[digest] = record
            out.extend(_copy_of(item, record) for item in followers)
        self._write(out)


def _copy_of(item: Pending, leader: ArticleResult) -> ArticleResult:
    """A ``--dedupe`` copy: the leader's results under the copy's own id and name."""
    if not leader.ok:
        return failure_record(InputFailure(item.article.id, item.article.source,
                                           leader.error or "failed"))
    copy = ok_record(item, summary=leader.summary, chunks=leader.chunks,
                     translations=leader.translations, alignment=leader.alignment,
                     timings={"read": item.read_s}, routes=leader.routes)
    return replace(copy, review=leader.review, duplicate_of=leader.id)


__all__ = ["FAULT_ENV", "POISON_ENV", "STAGES", "GroupSource", "Ledger", "RayEngine",
           "RemoteModels", "ReplicaPlan", "SummarizeReplica", "TranslateReplica",
           "model_stages", "plan_replicas", "window"]
