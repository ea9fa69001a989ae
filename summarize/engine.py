"""The stage loop of one run: read articles in bounded groups, summarize, translate, write.

Articles stream from the inputs one at a time and gather into groups of ``group_size``
(a JSONL file of 100,000 lines is 100,000 articles, not one group). Each group's work is
pooled (all windows, all sentences of all its articles) and batched by tokens; its records
are built and written before the next group starts, so memory depends on the group size,
not on the input count, and a kill loses at most the group in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from summarize.errors import SummarizeError, UsageError
from summarize.inputs import SourceFile, read_file
from summarize.loading import LoadedModels
from summarize.records import SCHEMA_VERSION, Article, ArticleResult, InputFailure, RunConfig
from summarize.resume import article_key, text_digest
from summarize.stats import StatsCollector, now
from summarize.writers import RecordState, ResultsLog, page_path, write_article_page

log = logging.getLogger(__name__)

PARTS = {"summary": ("summary",), "article": ("article",), "both": ("summary", "article"),
         "none": ()}


class Interrupted(Exception):
    """Ctrl-C was pressed; the run stops after the current batch."""


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
        log.warning(message)


@dataclass
class Pending:
    """An article waiting in the current group, with its resume key and read time."""

    article: Article
    key: str
    read_s: float


@dataclass
class Tally:
    """Counts and failures of the run so far."""

    n_ok: int = 0
    n_failed: int = 0
    n_resumed: int = 0
    failures: list[InputFailure] = field(default_factory=list)
    generate_calls: int = 0


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
    """

    def __init__(self, config: RunConfig, out_dir: Path, log_: ResultsLog,
                 load: Callable[[], LoadedModels], reporter: Reporter,
                 collector: StatsCollector, stop: threading.Event):
        self.config = config
        self.out_dir = out_dir
        self.results = log_
        self.load = load
        self.reporter = reporter
        self.collector = collector
        self.stop = stop
        self.tally = Tally()
        self.models: LoadedModels | None = None
        self.seen_ids: set[str] = set()
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
        """Process every article of ``files``; raises Interrupted on Ctrl-C."""
        self.reporter.add_work("read", len(files))
        group: list[Pending] = []
        failed: list[InputFailure] = list(failures)
        for item, read_s in self._items(files):
            if isinstance(item, InputFailure):
                failed.append(item)
            else:
                article = self._unique(item)
                key = article_key(article, fingerprint)
                old = existing.get(article.id)
                if (not self.config.force and old and old.status == "ok" and old.key == key
                        and page_path(self.out_dir, article.id, ".md").is_file()):
                    self.tally.n_ok += 1
                    self.tally.n_resumed += 1
                else:
                    group.append(Pending(article, key, read_s))
            if len(group) + len(failed) >= self.config.group_size:
                self._flush(group, failed)
                group, failed = [], []
            if self.stop.is_set():
                raise Interrupted
        self._flush(group, failed)

    def _unique(self, article: Article) -> Article:
        """Give a repeated id (same record id twice, or two inputs) a distinct suffix."""
        if article.id not in self.seen_ids:
            self.seen_ids.add(article.id)
            return article
        n = 2
        while f"{article.id}~{n}" in self.seen_ids:
            n += 1
        new_id = f"{article.id}~{n}"
        self.seen_ids.add(new_id)
        return replace(article, id=new_id)

    # -- one group -------------------------------------------------------------------------
    def _flush(self, group: list[Pending], failures: list[InputFailure]) -> None:
        records: list[ArticleResult] = []
        if group and self.models is None:
            self.models = self.load()
            self.collector.stage_s["load"] += self.models.load_s
            self.collector.import_s += self.models.import_s
        if group:
            records.extend(self._process_deduped(group) if self.config.dedupe
                           else self._process(group))
        records.extend(self._failure_record(f) for f in failures)
        if not records:
            return
        t0 = time.perf_counter()
        written = [replace(r, page=write_article_page(self.out_dir, r)) for r in records]
        self.results.append(written)
        self.collector.stage_s["write"] += time.perf_counter() - t0

    def _on_batch(self, stage: str) -> Callable[[int], None]:
        def advance(n: int) -> None:
            self.tally.generate_calls += 1
            self.reporter.advance(stage, n)
            if self.stop.is_set():
                raise Interrupted

        return advance

    def _on_work(self, stage: str) -> Callable[[int], None]:
        return lambda n: self.reporter.add_work(stage, n)

    def _process_deduped(self, group: list[Pending]) -> list[ArticleResult]:
        """Process each distinct text once (``--dedupe``); copies keep their own id and name.

        Linear in the group: one digest per article, one dict lookup each.
        """
        leaders: dict[str, Pending] = {}
        for item in group:
            digest = text_digest(item.article)
            if digest not in self.dedupe and digest not in leaders:
                leaders[digest] = item
        processed = self._process(list(leaders.values())) if leaders else []
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
                records.append(self._failure_record(InputFailure(
                    item.article.id, item.article.source, leader.error or "failed")))
                continue
            copy = self._ok_record(item, summary=leader.summary, chunks=leader.chunks,
                                   translations=leader.translations,
                                   alignment=leader.alignment, timings={"read": item.read_s})
            records.append(replace(copy, duplicate_of=leader.id))
        return records

    def _process(self, group: list[Pending]) -> list[ArticleResult]:
        """Summarize and translate a group, pooled; an article that fails, fails alone."""
        assert self.models is not None
        config = self.config
        n = len(group)
        texts = [p.article.text for p in group]
        langs = [p.article.lang for p in group]
        errors: list[Exception | None] = [None] * n
        summaries: list[str | None] = [None] * n
        chunks = [0] * n
        share: dict[str, list[float]] = {}
        if self.models.summarizer is not None:
            stats = self.collector.batches["summarize"]
            before = stats.seconds
            results = self.models.summarizer.summarize_many(
                texts, stats, self._on_batch("summarize"), self._on_work("summarize"))
            spent = stats.seconds - before
            self.collector.stage_s["summarize"] += spent
            for i, res in enumerate(results):
                summaries[i], chunks[i] = res.text, res.chunks
                errors[i] = errors[i] or res.error
            share["summarize"] = _shares([r.input_tokens for r in results], spent)
        translations: list[dict[str, dict[str, str]]] = [{} for _ in range(n)]
        alignment: list[dict[str, dict[str, list[list[list[str]]]]]] = [{} for _ in range(n)]
        translate_tokens = [0] * n
        translate_s = 0.0
        for lang, translator in self.models.translators.items():
            jobs = [(i, part) for i in range(n) for part in PARTS[config.translate]
                    if errors[i] is None]
            sources = [summaries[i] or "" if part == "summary" else texts[i] for i, part in jobs]
            stats = self.collector.batches["translate"]
            before = stats.seconds
            results = translator.translate_many(
                sources, stats, self._on_batch("translate"), self._on_work("translate"),
                source_langs=[langs[i] for i, _ in jobs])
            translate_s += stats.seconds - before
            for (i, part), res in zip(jobs, results, strict=True):
                if res.error is not None:
                    errors[i] = errors[i] or res.error
                    continue
                translations[i].setdefault(lang, {})[part] = res.text
                alignment[i].setdefault(lang, {})[part] = [
                    [list(pair) for pair in paragraph] for paragraph in res.alignment
                ]
                translate_tokens[i] += res.input_tokens
        if self.models.translators:
            self.collector.stage_s["translate"] += translate_s
            share["translate"] = _shares(translate_tokens, translate_s)
        records = []
        for i, item in enumerate(group):
            if errors[i] is not None:
                records.append(self._error_record(item, errors[i]))
                continue
            timings = {"read": round(item.read_s, 6)}
            for stage, values in share.items():
                timings[stage] = round(values[i], 6)
            records.append(self._ok_record(
                item, summary=summaries[i] if config.summarize else None, chunks=chunks[i],
                translations=translations[i], alignment=alignment[i], timings=timings))
        return records

    # -- records ---------------------------------------------------------------------------
    def _ok_record(self, item: Pending, *, summary: str | None, chunks: int,
                   translations: dict[str, dict[str, str]],
                   alignment: dict[str, dict[str, list[list[list[str]]]]],
                   timings: dict[str, float]) -> ArticleResult:
        article = item.article
        self.tally.n_ok += 1
        return ArticleResult(
            id=article.id, source=article.source, status="ok", title=article.title,
            lang=article.lang or self.config.source_lang, error=None, text=article.text,
            summary=summary, chunks=chunks, translations=translations, alignment=alignment,
            timings={**timings, "total": round(sum(timings.values()), 6)},
            n_words=len(article.text.split()), n_chars=len(article.text), key=item.key,
            finished_at=now(), schema_version=SCHEMA_VERSION,
        )

    def _error_record(self, item: Pending, exc: Exception) -> ArticleResult:
        if self.config.debug:
            raise exc
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not isinstance(exc, SummarizeError):
            message = f"{type(exc).__name__}: {message}"
        return self._failure_record(InputFailure(item.article.id, item.article.source, message))

    def _failure_record(self, failure: InputFailure) -> ArticleResult:
        self.tally.n_failed += 1
        self.tally.failures.append(failure)
        return ArticleResult(
            id=failure.id, source=failure.source, status="error", title="", lang=None,
            error=failure.error, finished_at=now(), schema_version=SCHEMA_VERSION,
        )


def _shares(weights: list[int], seconds: float) -> list[float]:
    """Split a pooled stage's seconds over its articles by their share of input tokens."""
    total = sum(weights)
    if total <= 0:
        return [seconds / max(1, len(weights))] * len(weights)
    return [seconds * w / total for w in weights]


__all__ = ["Engine", "Interrupted", "Pending", "Reporter", "Silent", "Tally", "UsageError"]
