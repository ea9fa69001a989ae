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
from typing import Any, Protocol

from summarize.errors import ArticleError, SummarizeError, UnsupportedLanguageError, UsageError
from summarize.inputs import SourceFile, read_file
from summarize.languages import normalize_lang
from summarize.loading import LoadedModels, same_language
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
    """An article waiting in the current group, with its resume key and read time.

    ``routes`` starts with how the article's language was decided (``lang``).
    """

    article: Article
    key: str
    read_s: float
    routes: dict[str, str] = field(default_factory=dict)


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
                 collector: StatsCollector, stop: threading.Event, run_id: str = ""):
        self.config = config
        self.run_id = run_id
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
                    pending = self._with_language(Pending(article, key, read_s))
                    if isinstance(pending, InputFailure):
                        failed.append(pending)
                    else:
                        group.append(pending)
            if len(group) + len(failed) >= self.config.group_size:
                self._flush(group, failed)
                group, failed = [], []
            if self.stop.is_set():
                raise Interrupted
        self._flush(group, failed)

    def _with_language(self, item: Pending) -> Pending | InputFailure:
        """Decide the article's language: its record's ``lang``, ``--from``, or detection."""
        article = item.article
        if article.lang:
            try:
                lang = normalize_lang(article.lang)
            except UnsupportedLanguageError as exc:
                return InputFailure(article.id, article.source, f"record 'lang': {exc}")
            how = "given"
        elif self.config.source_lang != "auto":
            lang, how = self.config.source_lang, "forced"
        else:
            from summarize.detect import detect_language

            found = detect_language(article.text)
            lang = found.lang if found.reliable and found.lang != "und" else "en"
            how = "detected" if found.reliable else "default (too short to detect)"
        item.article = replace(article, lang=lang)
        item.routes["lang"] = how
        return item

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
        written = []
        for record in records:
            record = replace(record, run=self.run_id or None,
                             page=page_path(self.out_dir, record.id, ".html")
                             .relative_to(self.out_dir).as_posix())
            written.append(replace(record, page_md=write_article_page(self.out_dir, record)))
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
        """Summarize and translate a group, pooled per model; an article that fails, fails
        alone.

        Each article has its language (given, forced or detected). Its summary is made
        directly, or through English (``--pivot``); each text to translate is routed to the
        model of its (source, target) pair, and the texts of every pair served by one model
        are pooled into that model's batches; text already in the target language is
        copied.
        """
        assert self.models is not None
        models = self.models
        n = len(group)
        texts = [p.article.text for p in group]
        langs = [p.article.lang or "en" for p in group]
        errors: list[Exception | None] = [None] * n
        routes: list[dict[str, str]] = [dict(p.routes) for p in group]
        summaries: list[str | None] = [None] * n
        summary_langs = list(langs)
        chunks = [0] * n
        share: dict[str, list[float]] = {"summarize": [0.0] * n, "translate": [0.0] * n}
        if models.summarizer is not None:
            inputs = list(texts)
            pivot = [i for i in range(n) if self._pivots(langs[i])]
            if pivot:
                english = self._translate([(i, texts[i], langs[i]) for i in pivot], "en",
                                          errors, share)
                for i, (text, model, _) in english.items():
                    inputs[i], summary_langs[i] = text, "en"
                    routes[i]["summary"] = f"pivot:en ({model})"
            todo = [i for i in range(n) if errors[i] is None]
            stats = self.collector.batches["summarize"]
            before = stats.seconds
            results = models.summarizer.summarize_many(
                [inputs[i] for i in todo], stats, self._on_batch("summarize"),
                self._on_work("summarize"), langs=[summary_langs[i] for i in todo])
            spent = stats.seconds - before
            self.collector.stage_s["summarize"] += spent
            for i, res, part in zip(todo, results,
                                    _shares([r.input_tokens for r in results], spent),
                                    strict=True):
                summaries[i], chunks[i] = res.text, res.chunks
                errors[i] = errors[i] or res.error
                share["summarize"][i] += part
                routes[i].setdefault("summary", "direct")
        translations: list[dict[str, dict[str, str]]] = [{} for _ in range(n)]
        alignment: list[dict[str, dict[str, list[list[list[str]]]]]] = [{} for _ in range(n)]
        if self.config.translate != "none":
            for target in self.config.targets:
                for part in PARTS[self.config.translate]:
                    jobs = []
                    for i in range(n):
                        if errors[i] is not None:
                            continue
                        if part == "summary":
                            jobs.append((i, summaries[i] or "", summary_langs[i]))
                        else:
                            jobs.append((i, texts[i], langs[i]))
                    done = self._translate(jobs, target, errors, share)
                    for i, (text, model, aligned) in done.items():
                        translations[i].setdefault(target, {})[part] = text
                        if aligned is not None:
                            alignment[i].setdefault(target, {})[part] = aligned
                        routes[i][f"{target}.{part}"] = model
        records = []
        for i, item in enumerate(group):
            if errors[i] is not None:
                records.append(self._error_record(item, errors[i]))
                continue
            timings = {"read": round(item.read_s, 6)}
            if models.summarizer is not None:
                timings["summarize"] = round(share["summarize"][i], 6)
            if models.translators or self.config.translate != "none":
                timings["translate"] = round(share["translate"][i], 6)
            records.append(self._ok_record(
                item, summary=summaries[i] if self.config.summarize else None,
                chunks=chunks[i], translations=translations[i], alignment=alignment[i],
                timings=timings, routes=routes[i]))
        return records

    def _pivots(self, lang: str) -> bool:
        """Whether an article in ``lang`` is summarized through English."""
        if lang == "en" or self.config.pivot == "never":
            return False
        if self.config.pivot == "always":
            return True
        assert self.models is not None
        return not self.models.summarizer_multilingual

    def _translate(self, jobs: list[tuple[int, str, str]], target: str,
                   errors: list[Exception | None], share: dict[str, list[float]],
                   ) -> dict[int, tuple[str, str, list[list[list[str]]] | None]]:
        """Translate ``(article index, text, source language)`` jobs into ``target``.

        Same-language texts are copied; the others are grouped by the model their pair
        routes to, and each model translates its texts in pooled batches. An article whose
        pair no model covers, or whose translation fails, gets its error in ``errors``.

        Returns:
            ``{article index: (translation, model id or "copy", sentence alignment or
            None for a copy)}`` for the jobs that worked.
        """
        assert self.models is not None
        out: dict[int, tuple[str, str, list[list[list[str]]] | None]] = {}
        by_model: dict[str, tuple[Any, list[tuple[int, str, str]]]] = {}
        for i, text, source in jobs:
            if same_language(source, target):
                out[i] = (text, "copy", None)
                continue
            try:
                task, model = self.models.translation_task(source, target)
            except UsageError as exc:
                errors[i] = errors[i] or ArticleError(_uncovered(source, target, exc))
                continue
            by_model.setdefault(model, (task, []))[1].append((i, text, source))
        stats = self.collector.batches["translate"]
        for model, (task, items) in by_model.items():
            before = stats.seconds
            results = task.translate_many(
                [text for _, text, _ in items], stats, self._on_batch("translate"),
                self._on_work("translate"), source_langs=[src for _, _, src in items])
            spent = stats.seconds - before
            self.collector.stage_s["translate"] += spent
            parts = _shares([r.input_tokens for r in results], spent)
            for (i, _, source), res, seconds in zip(items, results, parts, strict=True):
                share["translate"][i] += seconds
                if res.error is not None:
                    error = res.error
                    if isinstance(error, UsageError):
                        error = ArticleError(_uncovered(source, target, error))
                    errors[i] = errors[i] or error
                    continue
                aligned = [[list(pair) for pair in paragraph] for paragraph in res.alignment]
                out[i] = (res.text, model, aligned)
        return out

    # -- records ---------------------------------------------------------------------------
    def _ok_record(self, item: Pending, *, summary: str | None, chunks: int,
                   translations: dict[str, dict[str, str]],
                   alignment: dict[str, dict[str, list[list[list[str]]]]],
                   timings: dict[str, float], routes: dict[str, str] | None = None,
                   ) -> ArticleResult:
        article = item.article
        self.tally.n_ok += 1
        return ArticleResult(
            id=article.id, source=article.source, status="ok", title=article.title,
            lang=article.lang or self.config.source_lang, error=None, text=article.text,
            summary=summary, chunks=chunks, translations=translations, alignment=alignment,
            routes=dict(routes or item.routes),
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


def _uncovered(source: str, target: str, exc: Exception) -> str:
    """The per-article error of a language pair no configured model covers."""
    return (f"no configured model translates {source}->{target} ({exc}); pass --translator "
            "with a model that covers the pair (e.g. facebook/m2m100_418M), or store one for "
            "it with `summarize models download`")


def _shares(weights: list[int], seconds: float) -> list[float]:
    """Split a pooled stage's seconds over its articles by their share of input tokens."""
    total = sum(weights)
    if total <= 0:
        return [seconds / max(1, len(weights))] * len(weights)
    return [seconds * w / total for w in weights]


__all__ = ["Engine", "Interrupted", "Pending", "Reporter", "Silent", "Tally", "UsageError"]
