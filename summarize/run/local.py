"""The local engine: the groups of one run processed in this process, then written.

Articles stream from the inputs one at a time and gather into groups
(:func:`summarize.run.groups.form_groups`: 8, 16, 32 ... up to ``group_size``; a JSONL file
of 100,000 lines is 100,000 articles, not one group). Each group's work is pooled (all
windows, all sentences of all its articles) and batched by tokens; its records are written
whole by the :class:`~summarize.run.recorder.Recorder`, so memory depends on the group size,
not on the input count, and a kill loses at most the groups in flight.

By default the stages overlap (:mod:`summarize.run.overlap`, ``RunConfig.overlap``): worker
processes read and extract the next files while the model works, the groups form in a
reading thread, and a writing thread writes each finished group while the model starts the
next one. On CUDA (not CPU or MPS by default; ``overlap="full"`` forces it) the model work
is two stages as well: the calling thread summarizes group N+1 while a translating thread
translates group N and builds its records (review included), so the device always has a
batch queued from one of them while the other does its CPU work (splitting, tokenizing,
decoding, review). Both models stay loaded; one model runs one call at a time
(:class:`~summarize.run.models.ModelLocks`). Ctrl-C stops both after their current batch.
``overlap="off"`` (or ``Engine(..., overlap=False)``) runs the stages in turn, one group at
a time: the same records, slower; it checks for Ctrl-C after each article read and each
batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from summarize.inputs import SourceFile
from summarize.outputs.writers import RecordState, ResultsLog
from summarize.records import ArticleResult, InputFailure
from summarize.run.dedupe import DedupeBook
from summarize.run.groups import Admission, Group, form_groups
from summarize.run.hooks import Hooks
from summarize.run.models import LoadedModels, describe_engine, describe_models
from summarize.run.overlap import Handoff, Writer, produce, start_pool
from summarize.run.process import GroupProcessor, failure_record
from summarize.run.progress import LockedReporter, Reporter
from summarize.run.recorder import Recorder, Tally
from summarize.run.stats import StatsCollector
from summarize.run.work import GroupState, Interrupted
from summarize.settings import RunConfig

log = logging.getLogger(__name__)


class Engine:
    """Runs the groups of one run through the models and into the output folder.

    Args:
        config: The validated configuration.
        out_dir: The output folder (locked by the caller).
        results: The results log to append to.
        load: Returns the models, loaded on first need (no model loads when every
            article is already done).
        reporter: Progress sink.
        collector: Accumulates stage seconds and batch statistics.
        stop: Set by Ctrl-C or SIGTERM; the run stops after the current batch.
        run_id: Written into each record (``run``).
        overlap: False runs the stages in turn; None: as ``config.overlap`` says (see the
            module doc).
        hooks: Test hooks (none apply to this engine).
    """

    def __init__(self, config: RunConfig, out_dir: Path, results: ResultsLog,
                 load: Callable[[], LoadedModels], reporter: Reporter,
                 collector: StatsCollector, stop: threading.Event, run_id: str = "",
                 *, overlap: bool | None = None, hooks: Hooks | None = None):
        #: How the stages overlap: ``config.overlap``, or "off" with ``overlap=False``.
        self.mode = "off" if overlap is False else config.overlap
        self.config = config
        self.out_dir = out_dir
        self.load = load
        self.reporter = LockedReporter(reporter)  # the translating thread reports too
        self.collector = collector
        self.stop = stop
        self.dedupe = DedupeBook() if config.dedupe else None
        self.recorder = Recorder(out_dir, results, collector, run_id, self.dedupe)
        self.models: LoadedModels | None = None
        self.processor: GroupProcessor | None = None
        #: The translating thread's processor (its own stats, merged at the end), if any.
        self.finishing: GroupProcessor | None = None

    @property
    def tally(self) -> Tally:
        """Counts and failures of the records written so far."""
        return self.recorder.tally

    def run(self, files: list[SourceFile], existing: dict[str, RecordState],
            fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """Process every article of ``files``.

        Raises:
            Interrupted: ``stop`` was set; every group finished before is written.
            OSError: Writing failed; every group finished before is written.
        """
        self.reporter.add_work("read", len(files))
        admission = Admission(self.config, fingerprint, existing, self.out_dir)
        if self.mode == "off":
            self._run_sync(files, admission, failures)
        else:
            self._run_overlapped(files, admission, failures)

    def _groups(self, files: list[SourceFile], admission: Admission,
                failures: Iterable[InputFailure], pool: ProcessPoolExecutor | None = None
                ) -> Iterator[Group]:
        return form_groups(files, self.config, admission, self.collector, failures=failures,
                           dedupe=self.dedupe, pool=pool, stop=self.stop.is_set)

    # -- the stages in turn ----------------------------------------------------------------
    def _run_sync(self, files: list[SourceFile], admission: Admission,
                  failures: Iterable[InputFailure]) -> None:
        """Read a group, process it, write it, read the next."""
        for group in self._groups(files, admission, failures):
            self.reporter.advance("read", group.files_read)
            self._write_job((self._records(group), group.n_resumed))
            if self.stop.is_set():
                raise Interrupted
        if self.stop.is_set():  # the reading stopped early
            raise Interrupted

    # -- the stages overlapped -------------------------------------------------------------
    def _run_overlapped(self, files: list[SourceFile], admission: Admission,
                        failures: Iterable[InputFailure]) -> None:
        """Groups formed in a reading thread (files read by worker processes), written by a
        writing thread, and (when :meth:`_pipelines` says so) translated in a thread of
        their own while the next group is summarized."""
        pool = start_pool(len(files), self.config.read_workers)
        groups = Handoff(maxsize=1)  # one formed group waits while the model works

        def read(out: Handoff) -> None:
            for group in self._groups(files, admission, failures, pool):
                out.put(group)

        produce(read, groups, "summarize-reader")
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
                        self.reporter.advance("read", group.files_read)
                        if finisher is None and self._pipelines(group):
                            finisher = Writer(lambda job: self._finish_job(job, writer),
                                              maxsize=1, name="summarize-translate")
                        if finisher is not None:
                            assert self.processor is not None
                            state = (self.processor.summarize_phase(group.pending)
                                     if group.pending else None)
                            finisher.put((state, group))
                        else:
                            writer.put((self._records(group), group.n_resumed))
                    if self.stop.is_set():  # the reading stopped early
                        raise Interrupted
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

    def _pipelines(self, group: Group) -> bool:
        """Whether the translations of each group run in a thread of their own while the
        next group is summarized; when they do, it makes that thread's processor
        (``finishing``). Decided once, at the first group with articles (the models are
        loaded then)."""
        if not group.pending or self.mode not in ("auto", "full"):
            return False
        self._ensure_models()
        assert self.models is not None
        device = str(self.models.device or "cpu")
        if self.mode == "auto" and device.startswith(("cpu", "mps")):
            return False  # the model owns the CPU cores; MPS runs one thread's work at a time
        self.finishing = GroupProcessor(self.config, self.models, StatsCollector(),
                                        self._advance, self.reporter.add_work)
        return True

    def _finish_job(self, job: tuple[GroupState | None, Group], writer: Writer) -> None:
        """The translating thread's step: finish one summarized group, hand it to the
        writer (in order: this thread is the writer's only producer once it runs)."""
        state, group = job
        if self.stop.is_set():
            raise Interrupted
        assert self.finishing is not None
        records = self.finishing.translate_phase(state) if state is not None else []
        writer.put((records + self._unprocessed(group), group.n_resumed))

    # -- one group -------------------------------------------------------------------------
    def _ensure_models(self) -> None:
        """Load the models (once) and make the group processor."""
        if self.models is None:
            self.models = self.load()
            self.reporter.note(describe_models(self.config, self.models))
            engine = describe_engine(self.config)
            if engine:
                self.reporter.note(engine)
            self.collector.stage_s["load"] += self.models.load_s
            self.collector.import_s += self.models.import_s
            self.processor = GroupProcessor(self.config, self.models, self.collector,
                                            self._advance, self.reporter.add_work)

    def _records(self, group: Group) -> list[ArticleResult]:
        """The records of one group: its articles processed (models loaded on first need),
        then its failures and its copies of texts already done."""
        records: list[ArticleResult] = []
        if group.pending:
            self._ensure_models()
            assert self.processor is not None
            records.extend(self.processor.process(group.pending))
        return records + self._unprocessed(group)

    @staticmethod
    def _unprocessed(group: Group) -> list[ArticleResult]:
        """A group's records that need no model: its failures and its ``--dedupe`` copies."""
        return [failure_record(f) for f in group.failed] + group.copies

    def _write_job(self, job: tuple[list[ArticleResult], int]) -> None:
        """The writing step: count the group's resumed articles, write its records."""
        records, n_resumed = job
        self.recorder.resumed(n_resumed)
        self.recorder.write(records)

    def _advance(self, stage: str, n: int) -> None:
        """After each batch: progress, and the stop check of Ctrl-C."""
        self.recorder.count_call()
        self.reporter.advance(stage, n)
        if self.stop.is_set():
            raise Interrupted


__all__ = ["Engine"]
