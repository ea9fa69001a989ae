"""The stage loop of one run: read articles in bounded groups, process them, write them.

Articles stream from the inputs one at a time and gather into groups of ``group_size``
(a JSONL file of 100,000 lines is 100,000 articles, not one group). Each group's work is
pooled (all windows, all sentences of all its articles) and batched by tokens; its records
are written whole, in input order, so memory depends on the group size, not on the input
count, and a kill loses at most the groups in flight.

By default the stages overlap (:mod:`summarize.run.overlap`, ``RunConfig.overlap``): worker
processes read and extract the next files while the model works, the groups form in a
reading thread, and a writing thread writes each finished group while the model starts the
next one. On CUDA (not CPU or MPS by default; ``overlap="full"`` forces it) the model work
is two stages as well: the calling thread summarizes group N+1 while a translating thread
translates group N and builds its records (review included), so the device always has a
batch queued from one of them while the other does its CPU work (splitting, tokenizing,
decoding, review). Both models stay loaded; one model runs one call at a time
(:class:`~summarize.run.models.ModelLocks`). Ctrl-C stops both after their current batch.
The groups grow from ``FIRST_GROUP`` articles to ``group_size``, so the device starts
after a few articles are read. ``overlap="off"`` (or ``SUMMARIZE_SYNC=1``, or
``Engine(..., overlap=False)``) runs the stages in turn, one group at a time: the same
records, slower.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from summarize.inputs import SourceFile, read_file
from summarize.outputs.markdown import write_article_page
from summarize.outputs.writers import RecordState, ResultsLog, page_path
from summarize.records import Article, ArticleResult, InputFailure
from summarize.run.groups import Admission
from summarize.run.models import LoadedModels, describe_models
from summarize.run.overlap import (
    Handoff,
    Writer,
    files_ahead,
    produce,
    read_ahead,
    start_pool,
    sync_requested,
)
from summarize.run.process import GroupProcessor, failure_record, ok_record
from summarize.run.resume import text_digest
from summarize.run.stats import StatsCollector
from summarize.run.work import Interrupted, Pending
from summarize.settings import RunConfig

log = logging.getLogger(__name__)

#: Files handed to the reader processes ahead of the run, in groups (``group_size`` files
#: each). With the formed group waiting, the one the model works on and those the writer
#: holds, memory holds about six groups whatever the input count (about eight when the
#: translations run in their own thread: one more waiting for it and the one it works on).
FILES_AHEAD = 1

#: The first group's size; each next group doubles up to ``group_size``, so the model starts
#: after a few articles are read instead of a whole group (the device would wait for it).
FIRST_GROUP = 8


def group_limit(index: int, group_size: int) -> int:
    """The size of group ``index`` (0 first): 8, 16, 32, ... up to ``group_size``."""
    return min(group_size, FIRST_GROUP << min(index, 20))


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, tests and the Python API may pass nothing."""

    def add_work(self, stage: str, n: int) -> None: ...
    def advance(self, stage: str, n: int) -> None: ...
    def note(self, message: str) -> None: ...


class Silent:
    """A reporter that shows nothing but logs notes."""

    def add_work(self, stage: str, n: int) -> None:
        pass

    def advance(self, stage: str, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        log.info(message)


class _Locked:
    """A reporter called from two threads (the model's and the translating one), one call
    at a time."""

    def __init__(self, reporter: Reporter):
        self._reporter = reporter
        self._lock = threading.Lock()

    def add_work(self, stage: str, n: int) -> None:
        with self._lock:
            self._reporter.add_work(stage, n)

    def advance(self, stage: str, n: int) -> None:
        with self._lock:
            self._reporter.advance(stage, n)

    def note(self, message: str) -> None:
        with self._lock:
            self._reporter.note(message)


@dataclass
class Tally:
    """Counts and failures of the run so far."""

    n_ok: int = 0
    n_failed: int = 0
    n_resumed: int = 0
    failures: list[InputFailure] = field(default_factory=list)
    generate_calls: int = 0


@dataclass
class _Group:
    """A group formed by the reading thread: articles to process, failures, resumed count,
    and the input files finished since the previous group (for the progress bar)."""

    pending: list[Pending]
    failed: list[InputFailure]
    n_resumed: int = 0
    files_read: int = 0


class Engine:
    """Runs the groups of one run through the models and into the output folder.

    Args:
        config: The validated configuration.
        out_dir: The output folder (locked by the caller).
        log_: The results log to append to.
        load: Returns the models, loaded on first need (no model loads when every
            article is already done).
        reporter: Progress sink.
        collector: Accumulates stage seconds and batch statistics.
        stop: Set by Ctrl-C; the run stops after the current batch.
        run_id: Written into each record (``run``).
        overlap: False runs the stages in turn; None: as ``config.overlap`` says (see the
            module doc), "off" when it is "auto" and ``SUMMARIZE_SYNC=1``. A subclass that
            replaces :meth:`_flush` runs synchronously; one that replaces :meth:`_records`
            keeps the reading and writing overlap but not the two model stages.
    """

    def __init__(self, config: RunConfig, out_dir: Path, log_: ResultsLog,
                 load: Callable[[], LoadedModels], reporter: Reporter,
                 collector: StatsCollector, stop: threading.Event, run_id: str = "",
                 *, overlap: bool | None = None):
        #: How the stages overlap: ``config.overlap``, "off" with ``overlap=False`` or
        #: ``SUMMARIZE_SYNC=1`` (when the config leaves it at "auto").
        self.mode = ("off" if overlap is False
                     or (overlap is None and config.overlap == "auto" and sync_requested())
                     else config.overlap)
        self.config = config
        self.run_id = run_id
        self.out_dir = out_dir
        self.results = log_
        self.load = load
        self.reporter: Reporter = _Locked(reporter)  # the translating thread reports too
        self.collector = collector
        self.stop = stop
        self.tally = Tally()
        self.models: LoadedModels | None = None
        self.processor: GroupProcessor | None = None
        #: The translating thread's processor (its own stats, merged at the end), if any.
        self.finishing: GroupProcessor | None = None
        self._count_lock = threading.Lock()
        self.admission: Admission | None = None
        self.dedupe: dict[str, ArticleResult] = {}

    # -- reading ---------------------------------------------------------------------------
    def _items(self, files: list[SourceFile]) -> Iterator[tuple[Article | InputFailure, float]]:
        """Every article and failure of the inputs, with its share of reading time."""
        for src in files:
            t0 = time.perf_counter()
            for item in read_file(src, self.config.max_bytes):
                spent = time.perf_counter() - t0
                self.collector.stage_s["read"] += spent
                self.collector.n_read += 1
                yield item, spent
                t0 = time.perf_counter()
            self.collector.stage_s["read"] += time.perf_counter() - t0
            self.reporter.advance("read", 1)

    def run(self, files: list[SourceFile], existing: dict[str, RecordState],
            fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """Process every article of ``files``; raises Interrupted on Ctrl-C.

        Raises:
            Interrupted: ``stop`` was set; every group finished before is written.
            OSError: Writing failed; every group finished before is written.
        """
        if self.mode == "off" or type(self)._flush is not Engine._flush:
            self._run_sync(files, existing, fingerprint, failures)
            return
        self.reporter.add_work("read", len(files))
        pool = start_pool(len(files), self.config.read_workers)
        groups = Handoff(maxsize=1)  # one formed group waits while the model works
        produce(lambda out: self._read_groups(out, files, existing, fingerprint, failures,
                                              pool), groups, "summarize-reader")
        writer = Writer(self._write_job, maxsize=2)
        finisher: Writer | None = None  # the translating thread, once pipelining is on
        aborting = False  # a second Ctrl-C or an exit: it wins over the threads' errors
        try:
            try:
                try:
                    while True:
                        if self.stop.is_set():
                            raise Interrupted
                        try:
                            group = groups.get()
                        except StopIteration:
                            break
                        if group.files_read:
                            self.reporter.advance("read", group.files_read)
                        if finisher is None and self._pipelines(group):
                            finisher = Writer(lambda job: self._finish_job(job, writer),
                                              maxsize=1, name="summarize-translate")
                        if finisher is not None:
                            state = (self.processor.summarize_phase(group.pending)
                                     if group.pending else None)
                            finisher.put((state, group))
                        else:
                            records = self._records(group.pending, group.failed)
                            writer.put((records, group.n_resumed))
                except BaseException as exc:
                    if not isinstance(exc, Exception):
                        aborting = True
                        self.stop.set()  # the translating thread stops after its batch
                    raise
                finally:
                    groups.close()
                    if finisher is not None:
                        # translates what is summarized, unless stopped
                        finisher.close(raise_error=not aborting)
            finally:
                writer.close(raise_error=not aborting)  # what is finished is written
                if self.finishing is not None:
                    self.collector.merge(self.finishing.collector)
                    self.finishing.collector = StatsCollector()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _pipelines(self, group: _Group) -> bool:
        """Whether the translations of each group run in a thread of their own while the
        next group is summarized; when they do, it makes that thread's processor
        (``finishing``). Decided once, at the first group with articles (the models are
        loaded then). Off with ``--dedupe`` (a copy needs the records of every earlier
        group) and for a subclass that builds records its own way."""
        if not group.pending or self.mode not in ("auto", "full") or self.config.dedupe \
                or type(self)._records is not Engine._records:
            return False
        self._ensure_models()
        device = str(self.models.device or "cpu")
        if self.mode == "auto" and device.startswith(("cpu", "mps")):
            return False  # the model owns the CPU cores; MPS runs one thread's work at a time
        self.finishing = GroupProcessor(self.config, self.models, StatsCollector(),
                                        self._advance, self.reporter.add_work)
        return True

    def _finish_job(self, job: tuple[Any, _Group], writer: Writer) -> None:
        """The translating thread's step: finish one summarized group, hand it to the
        writer (in order: this thread is the writer's only producer once it runs)."""
        state, group = job
        if self.stop.is_set():
            raise Interrupted
        records = self.finishing.translate_phase(state) if state is not None else []
        records.extend(failure_record(f) for f in group.failed)
        writer.put((records, group.n_resumed))

    def _read_groups(self, out: Handoff, files: list[SourceFile],
                     existing: dict[str, RecordState], fingerprint: str,
                     failures: Iterable[InputFailure], pool: Any) -> None:
        """The reading thread: form the groups exactly as the synchronous loop does."""
        files_read = 0
        n_groups = 0

        def on_file(tail_s: float) -> None:
            nonlocal files_read
            self.collector.stage_s["read"] += tail_s
            files_read += 1

        group = _Group([], list(failures))
        detect = self.config.source_lang == "auto"
        window = files_ahead(pool, FILES_AHEAD * self.config.group_size)
        for item, read_s, found in read_ahead(files, self.config.max_bytes, detect=detect,
                                               pool=pool, window=window, on_file=on_file):
            self.collector.stage_s["read"] += read_s
            self.collector.n_read += 1
            admitted = self._admit(item, read_s, fingerprint, existing, found)
            if admitted is None:
                group.n_resumed += 1
            elif isinstance(admitted, InputFailure):
                group.failed.append(admitted)
            else:
                group.pending.append(admitted)
            if len(group.pending) + len(group.failed) >= group_limit(n_groups,
                                                                     self.config.group_size):
                group.files_read, files_read = files_read, 0
                out.put(group)
                group = _Group([], [])
                n_groups += 1
        group.files_read = files_read
        out.put(group)

    def _run_sync(self, files: list[SourceFile], existing: dict[str, RecordState],
                  fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """The stages in turn: read a group, process it, write it, read the next."""
        self.reporter.add_work("read", len(files))
        group: list[Pending] = []
        failed: list[InputFailure] = list(failures)
        n_groups = 0
        for item, read_s in self._items(files):
            admitted = self._admit(item, read_s, fingerprint, existing)
            if admitted is None:
                self.tally.n_ok += 1
                self.tally.n_resumed += 1
            elif isinstance(admitted, InputFailure):
                failed.append(admitted)
            else:
                group.append(admitted)
            if len(group) + len(failed) >= group_limit(n_groups, self.config.group_size):
                self._flush(group, failed)
                group, failed = [], []
                n_groups += 1
            if self.stop.is_set():
                raise Interrupted
        self._flush(group, failed)

    def _admit(self, item: Article | InputFailure, read_s: float, fingerprint: str,
               existing: dict[str, RecordState], found: Any = None,
               ) -> Pending | InputFailure | None:
        """What one item read from the inputs becomes (see :class:`~summarize.run.groups.
        Admission`: unique id, resume test, language)."""
        if self.admission is None:
            self.admission = Admission(self.config, fingerprint, existing, self.out_dir)
        return self.admission.admit(item, read_s, found)

    # -- one group -------------------------------------------------------------------------
    def _flush(self, group: list[Pending], failures: list[InputFailure]) -> None:
        """Process one group and write its records (the synchronous loop's step)."""
        self._write(self._records(group, failures))

    def _ensure_models(self) -> None:
        """Load the models (once) and make the group processor."""
        if self.models is None:
            self.models = self.load()
            self.reporter.note(describe_models(self.config, self.models))
            self.collector.stage_s["load"] += self.models.load_s
            self.collector.import_s += self.models.import_s
            self.processor = GroupProcessor(self.config, self.models, self.collector,
                                            self._advance, self.reporter.add_work)

    def _records(self, group: list[Pending], failures: list[InputFailure]
                 ) -> list[ArticleResult]:
        """The records of one group: its articles processed (models loaded on first need),
        then its failures."""
        records: list[ArticleResult] = []
        if group:
            self._ensure_models()
            records.extend(self._process_deduped(group) if self.config.dedupe
                           else self.processor.process(group))
        records.extend(failure_record(f) for f in failures)
        return records

    def _write_job(self, job: tuple[list[ArticleResult], int]) -> None:
        """The writing thread's step: count the group's resumed articles, write its records."""
        records, n_resumed = job
        self.tally.n_ok += n_resumed
        self.tally.n_resumed += n_resumed
        self._write(records)

    def _write(self, records: list[ArticleResult]) -> None:
        """Count the records, write their pages, then append them to results.jsonl whole."""
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

    def _advance(self, stage: str, n: int) -> None:
        """After each batch: progress, and the stop check of Ctrl-C."""
        with self._count_lock:
            self.tally.generate_calls += 1
        self.reporter.advance(stage, n)
        if self.stop.is_set():
            raise Interrupted

    def _process_deduped(self, group: list[Pending]) -> list[ArticleResult]:
        """Process each distinct text once (``--dedupe``); copies keep their own id and name.

        Linear in the group: one digest per article, one dict lookup each.
        """
        leaders: dict[str, Pending] = {}
        for item in group:
            digest = text_digest(item.article)
            if digest not in self.dedupe and digest not in leaders:
                leaders[digest] = item
        processed = self.processor.process(list(leaders.values())) if leaders else []
        by_id = {r.id: r for r in processed}
        fresh = {digest: by_id[item.article.id] for digest, item in leaders.items()}
        records = []
        for item in group:
            digest = text_digest(item.article)
            leader = fresh.get(digest)
            if leader is not None and leader.id == item.article.id:
                records.append(leader)
                if leader.ok:
                    self.dedupe[digest] = leader
                continue
            leader = leader or self.dedupe.get(digest)
            assert leader is not None
            if not leader.ok:
                records.append(failure_record(InputFailure(
                    item.article.id, item.article.source, leader.error or "failed")))
                continue
            copy = ok_record(item, summary=leader.summary, chunks=leader.chunks,
                             translations=leader.translations, alignment=leader.alignment,
                             timings={"read": item.read_s}, routes=leader.routes)
            copy = replace(copy, review=leader.review)
            records.append(replace(copy, duplicate_of=leader.id))
        return records

__all__ = ["Engine", "Interrupted", "Pending", "Reporter", "Silent", "Tally"]
