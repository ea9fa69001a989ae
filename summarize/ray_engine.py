"""The Ray engine: the model work of a run on Ray Data actor pools, the writing on the driver.

``--engine ray`` keeps everything a run writes where the local engine writes it, and moves
only the model work out of the process:

1. the driver reads the inputs, decides each article's language and filters out what is
   already done (resume), exactly as :class:`summarize.engine.Engine` does: nothing
   finished is sent to Ray, and a run with nothing left starts no Ray at all;
2. the pending articles become a Ray Data source (:func:`ray.data.from_items`, one row per
   article);
3. ``map_batches`` runs them through a fixed pool of :class:`Replica` actors
   (:class:`ray.data.ActorPoolStrategy`), ``batch_size`` = ``group_size``: each actor
   batch is one group, pooled and length-sorted inside the replica by
   :class:`summarize.process.GroupProcessor`, with the models loaded once per actor;
4. records stream back (:meth:`ray.data.Dataset.iter_rows`) and the driver writes them,
   whole, to results.jsonl and the Markdown pages as each group arrives; per-replica
   figures go to ``stats.json`` (``replicas``).

Faults: Ray restarts a replica that dies and retries its batch. A batch that already
killed a replica is retried article by article, and an article that kills a replica on
its own is recorded as an error, so a poison article cannot loop or stop the run. The
attempts are counted by a small ledger actor.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import ray
import ray.data
import ray.util.scheduling_strategies

from summarize import errors
from summarize.engine import Engine
from summarize.errors import SummarizeError, UsageError
from summarize.inputs import SourceFile
from summarize.process import GroupProcessor, Interrupted, Pending, failure_record, ok_record
from summarize.records import (
    Article,
    ArticleResult,
    InputFailure,
    ModelInfo,
    RunConfig,
    result_from_json,
    result_to_json,
)
from summarize.resume import article_key, text_digest
from summarize.stats import StatsCollector
from summarize.writers import RecordState, page_path, write_article_page

log = logging.getLogger(__name__)

#: Test hook: a file path. The first replica batch that finds no file there creates it and
#: kills its replica (``os._exit(1)``), once per run; Ray must restart it and retry.
FAULT_ENV = "SUMMARIZE_RAY_FAULT"
#: Test hook: an article id. Every replica that processes this article dies, every time.
POISON_ENV = "SUMMARIZE_RAY_POISON"
#: A batch is retried article by article after it killed this many replicas.
GROUP_DEATHS = 1
#: An article alone that killed this many replicas is recorded as an error.
ARTICLE_DEATHS = 1


@dataclass
class RemoteModels:
    """What the driver knows of the replicas' models: what stats.json records of them.

    Stands in for :class:`summarize.loading.LoadedModels` in the pipeline (``infos``,
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
    """How many replicas run and what each one reserves."""

    replicas: int
    num_gpus: float
    num_cpus: float
    threads: int


def plan_replicas(config: RunConfig, resources: dict[str, float], n_groups: int) -> ReplicaPlan:
    """Size the actor pool from the cluster's resources.

    Args:
        config: ``replicas`` (0: one per GPU, or one per CPU without GPUs) and
            ``gpus_per_replica`` (None: 1 where GPUs exist, else 0).
        resources: :func:`ray.cluster_resources`.
        n_groups: Groups to process; there is no point in more replicas than groups.

    Returns:
        The plan; CPU replicas share the CPUs evenly and use that many threads each.
    """
    total_gpus = float(resources.get("GPU", 0.0))
    total_cpus = max(1.0, float(resources.get("CPU", 1.0)))
    gpus = config.gpus_per_replica
    if gpus is None:
        gpus = 1.0 if total_gpus >= 1 else 0.0
    if gpus > 0:
        replicas = config.replicas or max(1, int(total_gpus // gpus))
        cpus = 1.0
    else:
        replicas = config.replicas or max(1, int(total_cpus))
        cpus = float(max(1, int(total_cpus // replicas)))
    replicas = max(1, min(replicas, n_groups))
    threads = config.threads or int(cpus)
    return ReplicaPlan(replicas=replicas, num_gpus=float(gpus), num_cpus=cpus, threads=threads)


# -- rows: what travels through Ray -------------------------------------------------------------
def pending_to_row(item: Pending) -> dict[str, str]:
    """One pending article as a Ray Data row (``id`` and its JSON)."""
    a = item.article
    return {"id": a.id, "pending": json.dumps({
        "id": a.id, "source": a.source, "text": a.text, "title": a.title, "lang": a.lang,
        "key": item.key, "read_s": item.read_s, "routes": item.routes}, ensure_ascii=False)}


def row_to_pending(data: str) -> Pending:
    """A pending article back from :func:`pending_to_row`'s JSON."""
    d = json.loads(data)
    article = Article(id=d["id"], source=d["source"], text=d["text"], title=d["title"],
                      lang=d["lang"])
    return Pending(article, d["key"], float(d["read_s"]), dict(d["routes"]))


def _batch_key(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode("utf-8", "surrogatepass")).hexdigest()[:24]


class Ledger:
    """Counts how often a batch or an article was started, across replica restarts.

    Runs as a small actor beside the pool (no CPU reserved): a replica that dies loses its
    memory, the ledger does not. It also keeps the records of the articles a retried batch
    already finished, so a later retry of the same batch does not redo them.
    """

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}
        self.done: dict[str, str] = {}

    def begin(self, key: str) -> tuple[int, str | None]:
        """Count a start of ``key``; returns (starts so far, its finished record or None)."""
        self.starts[key] = self.starts.get(key, 0) + 1
        return self.starts[key], self.done.get(key)

    def finish(self, key: str, record: str) -> None:
        self.done[key] = record


class Replica:
    """One model replica: loads the models once, turns batches of articles into records.

    Ray Data constructs it once per actor (again after a restart) and calls it with each
    batch: ``{"id": [...], "pending": [JSON of a Pending, ...]}``. It returns one row per
    article: ``record`` (the record's JSON), ``batch`` (the batch's key), ``n`` (rows in
    the batch) and, on the batch's first row, ``figures`` (JSON of the batch's seconds,
    tokens and the replica's identity; "" on the others) and ``fatal`` (a usage error
    that stops the run, such as a model that cannot load; "" normally).

    Args:
        config: The run's configuration.
        ledger: Handle of the :class:`Ledger` actor.
        threads: CPU threads for the engine (CPU replicas share the cores).
        fault_marker: :data:`FAULT_ENV` test hook.
        poison: :data:`POISON_ENV` test hook.
    """

    def __init__(self, config: RunConfig, ledger: Any, threads: int = 0,
                 fault_marker: str | None = None, poison: str | None = None):
        t0 = time.perf_counter()
        self.fault_marker = fault_marker
        self.poison = poison
        self.ledger = ledger
        ctx = ray.get_runtime_context()
        self.identity = {"actor": ctx.get_actor_id() or "", "node": ctx.get_node_id()[:12],
                         "pid": os.getpid()}
        # Ray runs __init__ again in a restarted actor: the ledger counts the starts
        n_starts, _ = ray.get(ledger.begin.remote("init:" + self.identity["actor"]))
        self.identity["restarts"] = n_starts - 1
        if config.device.startswith("cuda") and ray.get_gpu_ids():
            config = replace(config, device="cuda")  # Ray shows this actor its own GPU(s)
        if threads and config.threads != threads:
            config = replace(config, threads=threads)
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
            from summarize.loading import load_models

            self.models = load_models(config)
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
        t0 = time.perf_counter()
        ids = [str(i) for i in batch["id"]]
        key = _batch_key(ids)
        if self.fatal:
            return self._rows([""] * len(ids), key, {}, fatal=self.fatal)
        group = [row_to_pending(str(p)) for p in batch["pending"]]
        self.collector = StatsCollector()
        assert self.processor is not None
        self.processor.collector = self.collector
        self.work, self.done = {}, {}
        starts, _ = ray.get(self.ledger.begin.remote(key))
        if starts <= GROUP_DEATHS:
            self._maybe_die(ids)
            records = self._process(group)
        else:  # this batch killed a replica before: find the article that does
            records = [self._process_alone(item) for item in group]
        figures = self._figures(len(ids), time.perf_counter() - t0, starts)
        return self._rows([json.dumps(result_to_json(r), ensure_ascii=False) for r in records],
                          key, figures)

    def _process(self, group: list[Pending]) -> list[ArticleResult]:
        try:
            return self.processor.process(group)
        except Exception as exc:  # a bug or a broken model: the group fails, the run goes on
            if self.config.debug:
                raise
            from summarize.process import error_record

            return [error_record(item, exc) for item in group]

    def _process_alone(self, item: Pending) -> ArticleResult:
        key = "article:" + item.article.id + ":" + item.key
        starts, done = ray.get(self.ledger.begin.remote(key))
        if done is not None:
            record = result_from_json(json.loads(done))
            assert record is not None
            return record
        if starts > ARTICLE_DEATHS:
            return failure_record(InputFailure(
                item.article.id, item.article.source,
                f"the Ray replica processing this article died {starts - 1} time(s); "
                "it was left out (run again with --engine local to see the error)"))
        self._maybe_die([item.article.id])
        [record] = self._process([item])
        ray.get(self.ledger.finish.remote(key, json.dumps(result_to_json(record),
                                                          ensure_ascii=False)))
        return record

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

    @staticmethod
    def _rows(records: list[str], key: str, figures: dict[str, Any], fatal: str = ""
              ) -> dict[str, list[Any]]:
        n = len(records)
        return {"record": records, "batch": [key] * n, "n": [n] * n,
                "figures": [json.dumps(figures)] + [""] * (n - 1),
                "fatal": [fatal] + [""] * (n - 1)}


class RayEngine(Engine):
    """The stage loop of :class:`summarize.engine.Engine` with the model work on Ray.

    Constructed and run by the pipeline exactly like the local engine; reading, resume,
    languages, deduplication and writing stay in this process, groups run in replicas.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plan: ReplicaPlan | None = None
        self._replicas: dict[str, dict[str, Any]] = {}
        self._followers: dict[str, list[Pending]] = {}

    # -- the run ---------------------------------------------------------------------------
    def run(self, files: list[SourceFile], existing: dict[str, RecordState],
            fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """Process every article of ``files``; raises Interrupted on Ctrl-C."""
        self.reporter.add_work("read", len(files))
        pending: list[Pending] = []
        failed: list[InputFailure] = list(failures)
        for item, read_s in self._items(files):
            if isinstance(item, InputFailure):
                failed.append(item)
            else:
                article = self._unique(item)
                key = article_key(article, fingerprint)
                if self._is_done(article, key, existing):
                    self.tally.n_ok += 1
                    self.tally.n_resumed += 1
                else:
                    ready = self._with_language(Pending(article, key, read_s))
                    if isinstance(ready, InputFailure):
                        failed.append(ready)
                    else:
                        pending.append(ready)
            if self.stop.is_set():
                raise Interrupted
        if failed:
            self._write([failure_record(f) for f in failed])
        leaders = self._leaders(pending) if self.config.dedupe else pending
        if leaders:
            self._run_on_ray(leaders)

    def _is_done(self, article: Article, key: str, existing: dict[str, RecordState]) -> bool:
        """Resume: the same test as the local engine (same key, ok, page present)."""
        old = existing.get(article.id)
        return bool(not self.config.force and old and old.status == "ok" and old.key == key
                    and page_path(self.out_dir, article.id, ".md").is_file())

    def _leaders(self, pending: list[Pending]) -> list[Pending]:
        """``--dedupe``: the first article of each text goes to Ray, copies wait for it."""
        leaders = []
        for item in pending:
            digest = text_digest(item.article)
            if digest in self._followers:
                self._followers[digest].append(item)
            else:
                self._followers[digest] = []
                leaders.append(item)
        return leaders

    def _connect(self) -> bool:
        """Join the configured cluster or start a local instance; True when this run
        started Ray (and so shuts it down)."""
        if ray.is_initialized():
            return False
        address = self.config.ray_address or os.environ.get("RAY_ADDRESS") or None
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

    def _run_on_ray(self, pending: list[Pending]) -> None:
        t0 = time.perf_counter()
        started = self._connect()
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False  # the tool draws its own
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            # its "progress bars disabled" notice: the tool's own bars are on screen
            logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
            n_groups = -(-len(pending) // self.config.group_size)
            self.plan = plan_replicas(self.config, ray.cluster_resources(), n_groups)
            log.info("ray: %d replica(s), %s GPU and %s CPU each (%.1f s to connect)",
                     self.plan.replicas, self.plan.num_gpus, self.plan.num_cpus,
                     time.perf_counter() - t0)
            self._stream(pending)
        finally:
            if started:
                ray.shutdown()

    def _stream(self, pending: list[Pending]) -> None:
        assert self.plan is not None
        here = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=True)
        ledger = ray.remote(Ledger).options(num_cpus=0, scheduling_strategy=here).remote()
        by_id = {item.article.id: item for item in pending}
        ds = ray.data.from_items([pending_to_row(item) for item in pending])
        gpu_args = {"num_gpus": self.plan.num_gpus} if self.plan.num_gpus else {}
        results = ds.map_batches(
            Replica,
            fn_constructor_kwargs={"config": self.config, "ledger": ledger,
                                   "threads": self.plan.threads,
                                   "fault_marker": os.environ.get(FAULT_ENV) or None,
                                   "poison": os.environ.get(POISON_ENV) or None},
            batch_size=self.config.group_size, batch_format="numpy",
            # two in flight: the next group waits at the replica, the tail stays balanced
            compute=ray.data.ActorPoolStrategy(size=self.plan.replicas,
                                               max_tasks_in_flight_per_actor=2),
            num_cpus=self.plan.num_cpus, **gpu_args)
        waiting: dict[str, list[ArticleResult]] = {}
        rows = iter(results.iter_rows())
        try:
            for row in rows:
                if row["fatal"]:
                    fatal = json.loads(row["fatal"])
                    cls = getattr(errors, fatal["type"], UsageError)
                    if not (isinstance(cls, type) and issubclass(cls, SummarizeError)):
                        cls = UsageError
                    raise cls(fatal["message"])
                if row["figures"]:
                    self._add_figures(json.loads(row["figures"]))
                record = result_from_json(json.loads(row["record"]))
                assert record is not None
                batch = waiting.setdefault(row["batch"], [])
                batch.append(record)
                if len(batch) == int(row["n"]):
                    self._write_group(waiting.pop(row["batch"]), by_id)
                    if self.stop.is_set():
                        raise Interrupted
        except ray.exceptions.RayError as exc:
            if self.config.debug:
                raise
            raise SummarizeError(
                f"the Ray run failed ({type(exc).__name__}: {str(exc).strip().splitlines()[0]}); "
                "every article finished before this is saved: run the same command again "
                "to resume") from None
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # stops feeding the pool when the loop ends early (Ctrl-C, error)
            for records in waiting.values():  # whole records, even of a partial batch
                self._write_group(records, by_id)
            ray.kill(ledger)

    # -- arriving results ------------------------------------------------------------------
    def _add_figures(self, fig: dict[str, Any]) -> None:
        """Merge one batch's figures into the run's stats and its replica's row."""
        c = self.collector
        for stage, seconds in fig["stage_s"].items():
            c.stage_s[stage] += seconds
        for stage, bs in fig["batches"].items():
            mine = c.batches[stage]
            for name in ("n_batches", "input_tokens", "output_tokens", "n_oom_splits",
                         "n_failure_splits", "seconds"):
                setattr(mine, name, getattr(mine, name) + bs.get(name, 0))
            mine.batch_sizes.extend(bs.get("batch_sizes", []))
        self.tally.generate_calls += fig["done"].get("calls", 0)
        for stage in ("summarize", "translate"):
            if fig["work"].get(stage):
                self.reporter.add_work(stage, fig["work"][stage])
            if fig["done"].get(stage):
                self.reporter.advance(stage, fig["done"][stage])
        if "load_s" in fig:
            c.stage_s["load"] += fig["load_s"]
            c.import_s += fig.get("import_s", 0.0)
        if self.models is None and fig["infos"]:
            self.models = RemoteModels(
                infos=[ModelInfo(**info) for info in fig["infos"]], device=fig["device"],
                device_name=fig["device_name"], dtype=fig["dtype"], engine=fig["engine"])
        rep = self._replicas.get(fig["actor"])
        if rep is None:
            rep = self._replicas[fig["actor"]] = {
                "replica": len(self._replicas), "actor": fig["actor"], "node": fig["node"],
                "pids": [], "device": fig["device"], "device_name": fig["device_name"],
                "num_gpus": self.plan.num_gpus if self.plan else 0.0,
                "num_cpus": self.plan.num_cpus if self.plan else 1.0,
                "threads": self.plan.threads if self.plan else 0,
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

    def _write_group(self, records: list[ArticleResult], by_id: dict[str, Pending]) -> None:
        """Write a replica's records, with their ``--dedupe`` copies after their leader."""
        out = list(records)
        for record in records:
            item = by_id.get(record.id)
            if item is None:
                continue
            for copy in self._followers.pop(text_digest(item.article), []):
                out.append(_copy_of(copy, record))
        self._write(out)

    def _write(self, records: list[ArticleResult]) -> None:
        """The local engine's write path: count, page, one whole line per record."""
        if not records:
            return
        for record in records:
            if record.ok:
                self.tally.n_ok += 1
            else:
                self.tally.n_failed += 1
                self.tally.failures.append(InputFailure(record.id, record.source,
                                                        record.error or "failed"))
        t0 = time.perf_counter()
        written = []
        for record in records:
            record = replace(record, run=self.run_id or None,
                             page=page_path(self.out_dir, record.id, ".html")
                             .relative_to(self.out_dir).as_posix())
            written.append(replace(record, page_md=write_article_page(self.out_dir, record)))
        self.results.append(written)
        self.collector.stage_s["write"] += time.perf_counter() - t0


def _copy_of(item: Pending, leader: ArticleResult) -> ArticleResult:
    """A ``--dedupe`` copy: the leader's results under the copy's own id and name."""
    if not leader.ok:
        return failure_record(InputFailure(item.article.id, item.article.source,
                                           leader.error or "failed"))
    copy = ok_record(item, summary=leader.summary, chunks=leader.chunks,
                     translations=leader.translations, alignment=leader.alignment,
                     timings={"read": item.read_s}, routes=leader.routes)
    return replace(copy, review=leader.review, duplicate_of=leader.id)


__all__ = ["FAULT_ENV", "POISON_ENV", "Ledger", "RayEngine", "RemoteModels", "Replica",
           "ReplicaPlan", "plan_replicas"]
