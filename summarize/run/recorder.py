"""The writing end of a run, shared by both engines: each group's records become article
pages and whole lines of results.jsonl, and are counted.

:class:`Recorder` writes a group's records (Markdown page first, then the line, so a line
never names a page that is not there), adds the ``--dedupe`` copies that waited for them
(:class:`~summarize.run.dedupe.DedupeBook`), and keeps the run's :class:`Tally`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from summarize.outputs.markdown import write_article_page
from summarize.outputs.writers import ResultsLog, page_path
from summarize.records import ArticleResult, InputFailure
from summarize.run.dedupe import DedupeBook
from summarize.run.stats import StatsCollector


@dataclass
class Tally:
    """Counts and failures of the run so far (records written, not records made)."""

    n_ok: int = 0
    n_failed: int = 0
    n_resumed: int = 0
    failures: list[InputFailure] = field(default_factory=list)
    generate_calls: int = 0


class Recorder:
    """Writes and counts the records of one run.

    Args:
        out_dir: The output folder (locked by the caller).
        results: The results log to append to.
        collector: Takes the seconds spent writing (``write``).
        run_id: Written into each record (``run``).
        dedupe: The run's ``--dedupe`` book, or None.
    """

    def __init__(self, out_dir: Path, results: ResultsLog, collector: StatsCollector,
                 run_id: str = "", dedupe: DedupeBook | None = None):
        self.out_dir = out_dir
        self.results = results
        self.collector = collector
        self.run_id = run_id
        self.dedupe = dedupe
        self.tally = Tally()
        self._lock = threading.Lock()

    def resumed(self, n: int) -> None:
        """Count ``n`` articles whose records the folder already holds."""
        with self._lock:
            self.tally.n_ok += n
            self.tally.n_resumed += n

    def count_call(self) -> None:
        """Count one model call (a batch), from any thread."""
        with self._lock:
            self.tally.generate_calls += 1

    def write(self, records: list[ArticleResult]) -> None:
        """Write the records (and the ``--dedupe`` copies that waited for them): each page,
        then the lines appended whole; counted once written.

        Raises:
            OSError: Writing failed (the records counted so far are those on disk).
        """
        if self.dedupe is not None and records:
            records = records + self.dedupe.finished(records)
        if not records:
            return
        t0 = time.perf_counter()
        written = []
        for record in records:
            record = replace(record, run=self.run_id or None,
                             page=page_path(self.out_dir, record.id, ".html")
                             .relative_to(self.out_dir).as_posix())
            written.append(replace(record, page_md=write_article_page(self.out_dir, record)))
        self.results.append(written)
        self.collector.stage_s["write"] += time.perf_counter() - t0
        with self._lock:
            for record in written:
                if record.ok:
                    self.tally.n_ok += 1
                else:
                    self.tally.n_failed += 1
                    self.tally.failures.append(InputFailure(record.id, record.source,
                                                            record.error or "failed"))


__all__ = ["Recorder", "Tally"]
