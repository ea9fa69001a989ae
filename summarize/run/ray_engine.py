"""The Ray engine's driver: the model work of a run in two Ray Data stages of model replicas;
reading and writing stay in this process.

``--engine ray`` keeps everything a run writes where the local engine writes it, and moves
only the model work out of the process:

1. the groups form exactly as for the local engine (:func:`summarize.run.groups.
   form_groups`: languages, resume, ``--dedupe``), in a feeding thread: nothing finished is
   sent to Ray, and a run with nothing left starts no Ray at all;
2. the groups enter Ray Data through :class:`GroupSource`, a datasource whose one read
   task takes them from a queue as the driver reads them, one row per group. At most
   :func:`~summarize.run.ray_plan.window` groups are in flight (sent and not yet written),
   so memory stays flat whatever the input count, and reading overlaps the model work;
3. two chained ``map_batches`` stages over actor pools (:class:`ray.data.ActorPoolStrategy`),
   one group per call, run the replicas of :mod:`summarize.run.ray_replicas`; each stage
   has its own replicas (:mod:`summarize.run.ray_plan`), and a plan the machine or cluster
   cannot hold is refused before any replica starts;
4. records stream back (:meth:`ray.data.Dataset.iter_rows`, one row per group) and the
   :class:`~summarize.run.recorder.Recorder` writes each group whole. Groups finish in any
   order, so **results.jsonl is in completion order**, not input order (the report,
   stats.json and resume do not depend on the order); each replica of each stage has its
   row in ``stats.json`` (``replicas``).

Ctrl-C and SIGTERM stop the run cleanly: no more groups are sent, those in flight finish
and are written (Ray's own handlers are put back after ``ray.init``). A helper actor that
dies (the queue) stops it cleanly too, stats and report written. Ray's own lines stay off
the console unless ``--debug`` (:mod:`summarize.run.ray_console`).
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
import ray.data
import ray.util.scheduling_strategies

from summarize import errors
from summarize.errors import SummarizeError, UsageError
from summarize.inputs import SourceFile
from summarize.outputs.writers import RecordState, ResultsLog
from summarize.records import ArticleResult, InputFailure, ModelInfo
from summarize.run.dedupe import DedupeBook
from summarize.run.groups import Admission, Group, form_groups
from summarize.run.hooks import Hooks
from summarize.run.process import failure_record
from summarize.run.progress import LockedReporter, Reporter
from summarize.run.ray_console import RayConsoleFilter
from summarize.run.ray_plan import (
    BOTH,
    IN_FLIGHT_PER_REPLICA,
    PLACEMENT_WAIT_S,
    STAGES,
    ReplicaPlan,
    model_stages,
    plan_replicas,
    replica_bytes,
    replica_config,
    shortfall,
    window,
)
from summarize.run.ray_replicas import REPLICAS, Ledger, record_of
from summarize.run.recorder import Recorder, Tally
from summarize.run.stats import StatsCollector
from summarize.run.stopping import EngineStopped, signal_handlers_kept
from summarize.run.work import Interrupted, Pending
from summarize.settings import RunConfig
from summarize.tasks.batching import BatchStats

log = logging.getLogger(__name__)


@dataclass
class RemoteModels:
    """What the driver knows of the replicas' models: what stats.json records of them (a
    :class:`~summarize.run.stats.RunModels`); the models live in the actors."""

    infos: list[ModelInfo] = field(default_factory=list)
    device: str | None = None
    device_name: str | None = None
    dtype: str | None = None
    engine: str | None = None

    def close(self) -> None:
        """Nothing to free here: the replicas end with the Ray job."""


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


# -- what the replicas report -------------------------------------------------------------------
class ReplicaFigures:
    """Merges the figures each replica call reports into the run's stats (stage seconds,
    batches, load time), its progress, its tally of model calls, ``stats.json``'s rows of
    the replicas and :class:`RemoteModels`.

    Args:
        collector: The run's statistics.
        reporter: Progress sink.
        tally: Counts the model calls.
        plans: Each stage's plan (for the replica rows).
    """

    def __init__(self, collector: StatsCollector, reporter: Reporter, tally: Tally,
                 plans: dict[str, ReplicaPlan]):
        self.collector = collector
        self.reporter = reporter
        self.tally = tally
        self.plans = plans
        self.models: RemoteModels | None = None
        self._infos: dict[str, list[ModelInfo]] = {}
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, fig: dict[str, Any]) -> None:
        """Merge one call's figures."""
        c = self.collector
        stage = fig.get("stage", "")
        for name, seconds in fig["stage_s"].items():
            c.stage_s[name] += seconds
        for name, bs in fig["batches"].items():
            c.batches[name].add(BatchStats(**bs))  # asdict() of the replica's
        self.tally.generate_calls += fig["done"].get("calls", 0)
        for name in STAGES:
            self.reporter.add_work(name, fig["work"].get(name, 0))
            self.reporter.advance(name, fig["done"].get(name, 0))
        if "load_s" in fig:
            c.stage_s["load"] += fig["load_s"]
            c.import_s += fig.get("import_s", 0.0)
        if fig["infos"]:
            self._add_infos(stage, fig)
        self._add_row(stage, fig)
        c.replicas = [dict(r) for r in self._rows.values()]

    def _add_infos(self, stage: str, fig: dict[str, Any]) -> None:
        self._infos[stage] = [ModelInfo(**info) for info in fig["infos"]]
        infos, roles = [], set()
        for name in (*STAGES, BOTH):  # the summarizer first, as the local engine lists them
            for info in self._infos.get(name, []):
                if info.role not in roles:
                    roles.add(info.role)
                    infos.append(info)
        if self.models is None:
            self.models = RemoteModels(device=fig["device"], device_name=fig["device_name"],
                                       dtype=fig["dtype"], engine=fig["engine"])
        self.models.infos = infos

    def _add_row(self, stage: str, fig: dict[str, Any]) -> None:
        plan = self.plans.get(stage)
        rep = self._rows.get((stage, fig["actor"]))
        if rep is None:
            rep = self._rows[(stage, fig["actor"])] = {
                "stage": stage,
                "replica": sum(1 for s, _ in self._rows if s == stage),
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


#: Seconds to wait for the threads Ray Data started for a stream to end before Ray shuts down.
THREADS_END_S = 10.0


def _let_ray_threads_end(before: set[threading.Thread]) -> None:
    """Wait (a bounded time) for the threads started since ``before``: Ray Data's block
    prefetcher and iterator threads. One that calls Ray after ``ray.shutdown`` makes Ray's
    core end the whole process with exit 1 ("The core worker has already been shutdown"),
    before stats.json and the report are written. A stream stopped early (Ctrl-C) leaves
    them running until their iterator is collected."""
    import gc

    gc.collect()  # the prefetcher stops when its iterator is collected
    deadline = time.monotonic() + THREADS_END_S
    for thread in threading.enumerate():
        # a block prefetcher still referenced waits, parked, for blocks that never come
        if thread in before or thread is threading.current_thread() \
                or thread.name == "Prefetcher":
            continue
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


# -- the driver ---------------------------------------------------------------------------------
class RayEngine:
    """Runs the groups of one run on Ray replicas and writes them here.

    Constructed and run by the pipeline like the local engine
    (:class:`summarize.run.local.Engine`), with the same parts: the groups of
    :func:`~summarize.run.groups.form_groups`, the ``--dedupe`` book, the recorder.

    Args:
        config: The validated configuration.
        out_dir: The output folder (locked by the caller).
        results: The results log to append to.
        load: Unused (the replicas load their own models).
        reporter: Progress sink.
        collector: Accumulates stage seconds and batch statistics.
        stop: Set by Ctrl-C or SIGTERM; the run stops after the groups in flight.
        run_id: Written into each record (``run``).
        overlap: Unused (the stages always overlap on Ray).
        hooks: Test hooks (faults injected into the replicas).
    """

    def __init__(self, config: RunConfig, out_dir: Path, results: ResultsLog,
                 load: Callable[[], Any], reporter: Reporter, collector: StatsCollector,
                 stop: threading.Event, run_id: str = "", *, overlap: bool | None = None,
                 hooks: Hooks | None = None):
        self.config = config
        self.out_dir = out_dir
        self.collector = collector
        self.stop = stop
        self.hooks = hooks or Hooks()
        self.reporter = LockedReporter(reporter)  # the feeding thread reports too
        self.dedupe = DedupeBook() if config.dedupe else None
        self.recorder = Recorder(out_dir, results, collector, run_id, self.dedupe)
        self.plans: dict[str, ReplicaPlan] = {}
        self.figures = ReplicaFigures(collector, self.reporter, self.recorder.tally,
                                      self.plans)
        self._side: queue.Queue[Group] = queue.Queue()  # formed by the feeding thread
        self._closing = threading.Event()
        self._feed_error: BaseException | None = None

    @property
    def tally(self) -> Tally:
        """Counts and failures of the records written so far."""
        return self.recorder.tally

    @property
    def models(self) -> RemoteModels | None:
        """The replicas' models as far as they reported them (None before any did)."""
        return self.figures.models

    # -- the run ---------------------------------------------------------------------------
    def run(self, files: list[SourceFile], existing: dict[str, RecordState],
            fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """Process every article of ``files``.

        Raises:
            Interrupted: ``stop`` was set; every group finished before is written.
            EngineStopped: Ray failed or a helper actor died; the same.
            UsageError: The replica plan cannot be met, or a model cannot load.
        """
        self.reporter.add_work("read", len(files))
        admission = Admission(self.config, fingerprint, existing, self.out_dir)
        groups = form_groups(files, self.config, admission, self.collector,
                             failures=failures, dedupe=self.dedupe,
                             stop=lambda: self._closing.is_set() or self.stop.is_set())
        for group in groups:  # Ray starts with the first group to send, if there is one
            self._apply(group)
            if self.stop.is_set():
                raise Interrupted
            if group.pending:
                self._run_on_ray(group.pending, groups)
                if self.stop.is_set():
                    raise Interrupted
                return
        if self.stop.is_set():
            raise Interrupted

    def _apply(self, group: Group) -> None:
        """The driver's share of a formed group: progress, resumed articles, failure
        records, copies of texts already done."""
        self.reporter.advance("read", group.files_read)
        self.recorder.resumed(group.n_resumed)
        self.recorder.write([failure_record(f) for f in group.failed] + group.copies)

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
        debug = self.config.debug
        quiet = {"logging_level": logging.INFO if debug else logging.ERROR,
                 "log_to_driver": debug}
        try:
            with signal_handlers_kept():  # Ray sets its own SIGTERM handlers
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
        most = max(replica_bytes(self.config, stage) for stage in stages)
        plan = plan_replicas(self.config, resources, n_groups, len(stages), most)
        self.plans.clear()
        self.plans.update(dict.fromkeys(stages, plan))

    def _check_plan(self, resources: dict[str, float], started: bool) -> dict[str, float]:
        """Refuse a plan the resources cannot hold (what was asked, what exists); on a
        cluster, wait up to :data:`PLACEMENT_WAIT_S` for it to grow first. Returns the
        resources the plan was checked against."""
        memory_each = {stage: replica_bytes(self.config, stage) for stage in self.plans}
        problem = shortfall(self.plans, resources, memory_each)
        if problem and not started:
            log.warning("ray: %s; waiting up to %.0f s for the cluster to offer it", problem,
                        PLACEMENT_WAIT_S)
            deadline = time.monotonic() + PLACEMENT_WAIT_S
            while problem and time.monotonic() < deadline and not self.stop.is_set():
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                resources = ray.cluster_resources()
                problem = shortfall(self.plans, resources, memory_each)
            if problem and self.stop.is_set():
                return resources  # stopped while waiting: the run ends as interrupted
            if problem:
                problem += f" (the cluster did not offer it within {PLACEMENT_WAIT_S:.0f} s)"
        if problem:
            where = "this machine" if started else "the cluster"
            raise UsageError(f"--engine ray cannot place its replicas on {where}: {problem}")
        return resources

    def _run_on_ray(self, first: list[Pending], groups: Iterator[Group]) -> None:
        t0 = time.perf_counter()
        with ExitStack() as stack:
            if not self.config.debug:  # Ray writes its own lines to descriptors 1 and 2
                stack.enter_context(RayConsoleFilter())
            started = self._connect()
            if started:
                stack.callback(self._shutdown)
            ctx = ray.data.DataContext.get_current()
            saved = (ctx.enable_progress_bars, ctx.target_max_block_size)
            stack.callback(self._restore_context, ctx, saved)
            ctx.enable_progress_bars = False  # the tool draws its own
            ctx.target_max_block_size = 1  # a block per group: groups stream one by one
            level = logging.DEBUG if self.config.debug else logging.CRITICAL
            logging.getLogger("ray.data").setLevel(level)  # its errors reach us raised
            resources = ray.cluster_resources()
            self._plan(resources, None)
            resources = self._check_plan(resources, started)
            if self.stop.is_set():  # stopped while Ray started: no replica is started
                return
            # read as many groups as there could be replicas: a small run starts fewer
            primed = [first]
            most = max(p.replicas for p in self.plans.values())
            exhausted = False
            while len(primed) < most and not exhausted and not self.stop.is_set():
                group = next(groups, None)
                if group is None:
                    exhausted = True
                else:
                    self._apply(group)
                    if group.pending:
                        primed.append(group.pending)
            self._plan(resources, len(primed) if exhausted else None)
            for stage, plan in self.plans.items():
                log.info("ray: %s stage: %d replica(s), %s GPU and %s CPU each", stage,
                         plan.replicas, plan.num_gpus, plan.num_cpus)
            log.info("ray: %.1f s to connect", time.perf_counter() - t0)
            with warnings.catch_warnings():
                # "the operator only received 1 input(s)": our source streams its blocks
                warnings.filterwarnings("ignore", message=".*concurrent actors.*")
                self._stream(primed, iter(()) if exhausted else groups)

    @staticmethod
    def _restore_context(ctx: Any, saved: tuple[Any, Any]) -> None:
        ctx.enable_progress_bars, ctx.target_max_block_size = saved

    @staticmethod
    def _shutdown() -> None:
        with signal_handlers_kept():  # ray.shutdown resets SIGTERM to the default action
            ray.shutdown()

    def _stream(self, primed: list[list[Pending]], groups: Iterator[Group]) -> None:
        here = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=True)
        from ray.util.queue import Queue

        # the ledger only counts attempts: restarted empty, it costs at most one more death
        ledger = ray.remote(Ledger).options(num_cpus=0, scheduling_strategy=here,
                                            max_restarts=-1, max_task_retries=-1).remote()
        rows = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        credits = threading.Semaphore(window(self.plans))
        feeder = threading.Thread(target=self._feed, args=(primed, groups, rows, credits),
                                  name="summarize-ray-feeder", daemon=True)
        results = self._pipeline(ray.data.read_datasource(
            GroupSource(rows), override_num_blocks=1, **_no_cpu(ray.data.read_datasource)),
            ledger)
        feeder.start()
        ours = set(threading.enumerate())
        it: Iterator[Any] | None = iter(results.iter_rows())
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
                    self.figures.add(fig)
                payload = json.loads(row["payload"])
                self._write_group([record_of(r) for r in payload["records"]])
                credits.release()  # after a stop nothing more is sent: the stream ends
            feeder.join()
            if self._feed_error is not None:
                raise self._feed_error
        except ray.exceptions.RayError as exc:
            if self.config.debug:
                raise
            raise EngineStopped(
                f"the Ray run failed ({type(exc).__name__}: "
                f"{(str(exc).strip().splitlines() or [''])[0]}); every article finished "
                "before this is saved: run the same command again to resume") from None
        finally:
            self._closing.set()
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()  # stops the pipeline when the loop ends early (Ctrl-C, error)
                except Exception:  # the pipeline is already broken: nothing to stop
                    pass
            for actor in (ledger, rows.actor):
                try:
                    ray.kill(actor)  # a feeder waiting on the queue gives up at once
                except Exception:  # Ray is already down or the actor dead: nothing to stop
                    pass
            feeder.join(timeout=10)
            self._drain()  # whole records of what the reading finished
            it = results = None  # an exception's traceback would keep them alive
            _let_ray_threads_end(ours)


    def _pipeline(self, ds: ray.data.Dataset, ledger: Any) -> ray.data.Dataset:
        """The model stages over the group rows, each on its own actor pool."""
        stages = list(self.plans)
        for n, stage in enumerate(stages):
            plan = self.plans[stage]
            gpu_args = {"num_gpus": plan.num_gpus} if plan.num_gpus else {}
            ds = ds.map_batches(
                REPLICAS[stage],
                fn_constructor_kwargs={
                    "config": replica_config(self.config, plan), "ledger": ledger,
                    "threads": plan.threads,
                    "first": n == 0, "last": n == len(stages) - 1,
                    "faults": self.hooks.faults},
                batch_size=1, batch_format="numpy",  # one group per call
                compute=ray.data.ActorPoolStrategy(
                    size=plan.replicas, max_tasks_in_flight_per_actor=IN_FLIGHT_PER_REPLICA),
                num_cpus=plan.num_cpus, **gpu_args)
        return ds

    def _feed(self, primed: list[list[Pending]], groups: Iterator[Group], rows: Any,
              credits: threading.Semaphore) -> None:
        """The feeding thread: send each group to Ray when a window slot is free."""
        try:
            for pending in primed:
                if not self._send(pending, rows, credits):
                    return
            for group in groups:
                if group.pending and not self._send(group.pending, rows, credits):
                    return
                group.pending = []
                self._side.put(group)
        except BaseException as exc:  # re-raised by the driver's loop
            self._feed_error = exc
        finally:
            if not self._closing.is_set():
                try:
                    rows.put(None)
                except Exception as exc:  # the queue actor is gone: the stream fails too
                    self._feed_error = self._feed_error or exc

    def _send(self, pending: list[Pending], rows: Any, credits: threading.Semaphore) -> bool:
        """Send one group when a window slot is free; False once the run closes or stops
        (the groups already sent finish and are written)."""
        while not credits.acquire(timeout=0.2):
            if self._closing.is_set() or self.stop.is_set():
                return False
        if self.stop.is_set():
            credits.release()
            return False
        ids = [item.article.id for item in pending]
        rows.put({"key": _group_key(ids), "n": len(pending),
                  "payload": json.dumps({"items": [item.to_json() for item in pending]},
                                        ensure_ascii=False),
                  "figures": "[]", "fatal": ""})
        return True

    def _write_group(self, records: list[ArticleResult]) -> None:
        """Write a group's records (the recorder adds the ``--dedupe`` copies that waited
        for them)."""
        self.recorder.write(records)


__all__ = ["GroupSource", "RayEngine", "RemoteModels", "ReplicaFigures"]
