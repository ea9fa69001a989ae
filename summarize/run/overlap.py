"""What keeps the model busy: read ahead in worker processes, write behind in a thread.

The local engine's overlapped loop (:class:`summarize.run.local.Engine`) is three stages
joined by bounded queues, so memory holds a few groups at most whatever the input count:

* **reading** — :func:`read_ahead` hands files to a pool of worker processes
  (:func:`read_source`: decoding, HTML extraction with trafilatura, language detection,
  all CPU-bound Python) at most ``window`` files ahead, and yields their articles in input
  order, so ids, ``~2`` suffixes and resume keys are the same as a one-by-one read. A
  ``.jsonl`` file streams in the reading thread (it may hold millions of lines);
* **the model** — the engine's main thread, which runs the groups' batches back to back;
* **writing** — :class:`Writer`, one thread that writes each finished group's pages and
  appends its records (whole lines, then fsync) in order. Its errors are raised in the main
  thread at the next hand-over or at :meth:`Writer.close`.

Nothing here imports torch or a model.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from summarize.inputs import SourceFile, read_file
from summarize.records import Article, InputFailure

log = logging.getLogger(__name__)

#: Seconds between a reader process's checks that the run's process is still there.
ORPHAN_CHECK_S = 0.2
#: Fewer files than this are read in a thread: starting worker processes (about a second
#: for the imports) would cost more than it saves.
POOL_MIN_FILES = 16


def read_workers() -> int:
    """Worker processes for reading by default (``read_workers`` unset): one per usable core,
    16 at most."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 16))


@dataclass
class FileRead:
    """One file's articles and failures, with the reading seconds each took.

    Attributes:
        items: Articles and failures in file order.
        spent: Seconds of reading before each item (as the one-by-one read measures them).
        tail_s: Seconds after the last item (closing, a trailing failure check).
        detected: Per item, the detected language of an article without a ``lang`` (when
            detection was asked for), else None.
    """

    items: list[Article | InputFailure] = field(default_factory=list)
    spent: list[float] = field(default_factory=list)
    tail_s: float = 0.0
    detected: list[Any] = field(default_factory=list)


def read_source(src: SourceFile, max_bytes: int, detect: bool) -> FileRead:
    """Read one file whole (the worker processes' task; module level so spawn can find it).

    Args:
        src: The file.
        max_bytes: Files larger than this are refused (see :func:`summarize.inputs.read_file`).
        detect: Detect the language of articles that do not give one.
    """
    out = FileRead()
    t0 = time.perf_counter()
    for item in read_file(src, max_bytes):
        out.spent.append(time.perf_counter() - t0)
        out.items.append(item)
        t0 = time.perf_counter()
    out.tail_s = time.perf_counter() - t0
    out.detected = [_detect(item) if detect else None for item in out.items]
    return out


def _detect(item: Article | InputFailure) -> Any:
    if not isinstance(item, Article) or item.lang:
        return None
    from summarize.languages.detect import detect_language

    return detect_language(item.text)


#: What :func:`read_ahead` yields: an article or failure, its reading seconds, its detected
#: language (or None), and whether it ends its file.
ReadItem = tuple[Article | InputFailure | None, float, Any]


def read_ahead(files: Iterable[SourceFile], max_bytes: int, *, detect: bool,
               pool: ProcessPoolExecutor | None, window: int,
               on_file: Callable[[float], None]) -> Iterator[ReadItem]:
    """Every article and failure of ``files`` in input order, read up to ``window`` files
    ahead by ``pool``.

    Args:
        files: The files, in run order.
        max_bytes: Files larger than this are refused.
        detect: Detect languages in the workers (for articles without a ``lang``).
        pool: Worker processes; None reads in the calling thread.
        window: Most files submitted and not yet consumed.
        on_file: Called after each file with the seconds not attributed to an item.

    Yields:
        ``(item, read seconds, detected language or None)``.
    """
    pending: deque[tuple[SourceFile, Future[FileRead] | None]] = deque()
    todo = iter(files)
    broken = pool is None

    def fill() -> None:
        while len(pending) < max(1, window):
            src = next(todo, None)
            if src is None:
                return
            streamed = broken or src.path.suffix.lower() == ".jsonl"
            pending.append((src, None if streamed else pool.submit(
                read_source, src, max_bytes, detect)))

    fill()
    while pending:
        src, future = pending.popleft()
        done: FileRead | None = None
        if future is not None:
            try:
                done = future.result()
            except BrokenProcessPool as exc:  # e.g. a script without a __main__ guard
                if not broken:
                    log.warning("reader processes failed (%s); reading in this process", exc)
                broken = True
        if done is None:  # stream it here: a JSONL file, no pool, or a broken one
            t0 = time.perf_counter()
            for item in read_file(src, max_bytes):
                spent = time.perf_counter() - t0
                yield item, spent, None
                t0 = time.perf_counter()
            on_file(time.perf_counter() - t0)
        else:
            for item, spent, found in zip(done.items, done.spent, done.detected, strict=True):
                yield item, spent, found
            on_file(done.tail_s)
        fill()


def start_pool(n_files: int, workers: int | None = None) -> ProcessPoolExecutor | None:
    """Worker processes for reading ``n_files`` files, or None to read in a thread.

    Spawned, not forked: the run's process may hold threads (the writer, the engine's) and
    a device context that a fork would copy half-way.

    Args:
        n_files: Files the run reads.
        workers: ``RunConfig.read_workers``: processes (0: none), None for one per core.
    """
    workers = read_workers() if workers is None else workers
    if workers < 1 or n_files < POOL_MIN_FILES:
        return None
    import multiprocessing

    return ProcessPoolExecutor(max_workers=min(workers, n_files),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(),))


def _worker_init(parent_pid: int) -> None:
    """In each reader process: leave Ctrl-C to the run (a terminal sends it to the whole
    process group), and exit when the run's process is gone (a SIGKILL closes nothing the
    pool's queues would notice, so an orphan would otherwise wait forever)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="summarize-orphan-watch", daemon=True).start()


def files_ahead(pool: ProcessPoolExecutor | None, per_group: int) -> int:
    """Files to keep submitted to ``pool``: ``per_group`` (a group's worth), and at least two
    per worker so none waits; 1 without a pool (the reading thread reads one at a time)."""
    if pool is None:
        return 1
    return max(2 * pool._max_workers, per_group)


class Closed(Exception):
    """The consumer went away; the producer stops."""


class Handoff:
    """A bounded queue between two threads that either side can close.

    The producer's :meth:`put` blocks while the queue is full and raises :class:`Closed` once
    the consumer has closed it; an exception the producer :meth:`fail`\\ s with is raised in
    the consumer by :meth:`get`.
    """

    _END = object()

    def __init__(self, maxsize: int):
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self._closed = threading.Event()

    def put(self, item: Any) -> None:
        while True:
            if self._closed.is_set():
                raise Closed
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """No more items (the consumer's :meth:`get` raises StopIteration after the last)."""
        self.put(self._END)

    def fail(self, exc: BaseException) -> None:
        self.put(_Failure(exc))

    def get(self) -> Any:
        """The next item; raises the producer's exception, StopIteration at the end."""
        item = self._queue.get()
        if item is self._END:
            raise StopIteration
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def close(self) -> None:
        """The consumer is done: a blocked or later :meth:`put` raises :class:`Closed`."""
        self._closed.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


@dataclass
class _Failure:
    exc: BaseException


def produce(target: Callable[[Handoff], None], handoff: Handoff, name: str) -> threading.Thread:
    """Run ``target(handoff)`` in a daemon thread; its exception goes to the consumer."""

    def main() -> None:
        try:
            target(handoff)
            handoff.finish()
        except Closed:
            pass
        except BaseException as exc:  # the consumer raises it
            try:
                handoff.fail(exc)
            except Closed:
                pass

    thread = threading.Thread(target=main, name=name, daemon=True)
    thread.start()
    return thread


class Writer:
    """Runs one step per job in a thread, in order, behind the model: the writer (each
    finished group's pages and records), and the translating stage when it is pipelined.

    Args:
        write: The step: writes one group's records (pages, then whole lines of
            results.jsonl), or translates one summarized group.
        maxsize: Most jobs waiting (the producer blocks beyond it).
        name: The thread's name.
    """

    def __init__(self, write: Callable[[Any], None], maxsize: int = 2,
                 name: str = "summarize-writer"):
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self._error: BaseException | None = None
        self._raised = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            if self._error is not None:
                continue  # after a failure, drain without writing: the run is stopping
            try:
                self._write(job)
            except BaseException as exc:  # raised in the main thread
                self._error = exc

    def check(self) -> None:
        """Raise the writer's error in the calling thread (once), if it had one."""
        if self._error is not None and not self._raised:
            self._raised = True
            raise self._error

    def put(self, job: Any) -> None:
        """Queue one group for writing (blocks while ``maxsize`` groups wait)."""
        self.check()
        self._queue.put(job)

    def close(self, raise_error: bool = True) -> None:
        """Run what is queued, stop the thread, and raise its error if it had one (unless
        ``raise_error`` is False: the caller is already raising something that wins)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        if raise_error:
            self.check()


_STOP = object()

__all__ = [
    "POOL_MIN_FILES",
    "Closed",
    "FileRead",
    "Handoff",
    "Writer",
    "files_ahead",
    "produce",
    "read_ahead",
    "read_source",
    "read_workers",
    "start_pool",
]
