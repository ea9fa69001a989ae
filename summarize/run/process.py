"""The model work of one group of articles: summaries, translations, records (no writing).

:class:`GroupProcessor` turns a group of pending articles into their records: it routes each
article's texts to the models of its language pairs, pools every model's texts into batches,
pivots summaries through English where needed, and builds one record per article (an
article that fails, fails alone). It reads and writes no files, so the local engine, a Ray
actor or a test can run it the same way.

The work has two phases, so that they can run in different processes:
:meth:`GroupProcessor.summarize_phase` (summaries, made through English where the article
pivots) leaves a :class:`GroupState` of plain data, and
:meth:`GroupProcessor.translate_phase` (translations, review, records) finishes it.
:meth:`GroupProcessor.process` runs both back to back (the local engine); the Ray engine
runs them in the replicas of two stages, the state travelling between them as JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from summarize.errors import ArticleError, SummarizeError, UsageError
from summarize.languages import same_language
from summarize.records import SCHEMA_VERSION, ArticleResult, InputFailure
from summarize.review import ReviewEvidence, review_article
from summarize.run.models import LoadedModels
from summarize.run.stats import StatsCollector, now
from summarize.run.work import ArticleWork, GroupState, Pending
from summarize.settings import RunConfig
from summarize.tasks.translate import TranslationResult

PARTS = {"summary": ("summary",), "article": ("article",), "both": ("summary", "article"),
         "none": ()}


class GroupProcessor:
    """Summarizes and translates groups of articles with loaded models.

    Args:
        config: The validated configuration.
        models: The run's models.
        collector: Accumulates stage seconds and batch statistics.
        on_batch: Called with (stage, items) after each batch; may raise Interrupted.
        on_work: Called with (stage, items) when work is queued (progress totals).

    Two processors of the same models may run in two threads: they share the models'
    :class:`~summarize.run.models.ModelLocks`.
    """

    def __init__(self, config: RunConfig, models: LoadedModels, collector: StatsCollector,
                 on_batch: Callable[[str, int], None] | None = None,
                 on_work: Callable[[str, int], None] | None = None):
        self.locks = models.locks
        self.config = config
        self.models = models
        self.collector = collector
        self._batch = on_batch or (lambda stage, n: None)
        self._work = on_work or (lambda stage, n: None)
        from summarize.review import ReviewSettings, glossaries_from_options, reliable_language

        self.review_settings = ReviewSettings(
            glossaries=glossaries_from_options(config.glossary, config.targets),
            detect=reliable_language, source_lang="en" if config.source_lang == "auto"
            else config.source_lang)

    def _on_batch(self, stage: str) -> Callable[[int], None]:
        return lambda n: self._batch(stage, n)

    def _on_work(self, stage: str) -> Callable[[int], None]:
        return lambda n: self._work(stage, n)

    def process(self, group: list[Pending]) -> list[ArticleResult]:
        """Summarize and translate a group, pooled per model; an article that fails, fails
        alone.

        Each article has its language (given, forced or detected). Its summary is made
        directly, or through English (``--pivot``); each text to translate is routed to the
        model of its (source, target) pair, and the texts of every pair served by one model
        are pooled into that model's batches; text already in the target language is
        copied. The two phases back to back: :meth:`summarize_phase`, then
        :meth:`translate_phase`.
        """
        return self.translate_phase(self.summarize_phase(group))

    def summarize_phase(self, group: list[Pending]) -> GroupState:
        """The summaries of a group (through English where an article pivots).

        Needs the summarizer (and, for pivoted articles, translators into English); with
        no summarizer it only prepares the state.
        """
        assert self.models is not None
        models = self.models
        works = [ArticleWork.start(p) for p in group]
        summarizing = self.config.summarize and models.summarizer is not None
        if summarizing:
            inputs = [w.item.article.text for w in works]
            pivot = [w for w in works if self._pivots(w.lang)]
            if pivot:
                english = self._translate([(w, w.item.article.text, w.lang) for w in pivot],
                                          "en")
                for w, (text, model, _) in english.items():
                    inputs[works.index(w)], w.summary_lang = text, "en"
                    w.routes["summary"] = f"pivot:en ({model})"
            todo = [i for i, w in enumerate(works) if w.error is None]
            stats = self.collector.batches["summarize"]
            with self.locks.model(models.summarizer.backend):
                t0 = time.perf_counter()  # not counting a wait for the other stage
                try:
                    results = models.summarizer.summarize_many(
                        [inputs[i] for i in todo], stats, self._on_batch("summarize"),
                        self._on_work("summarize"),
                        langs=[works[i].summary_lang for i in todo],
                        titles=[works[i].item.article.title for i in todo])
                finally:  # an interrupted stage still counts the time it spent
                    spent = time.perf_counter() - t0
                    self.collector.stage_s["summarize"] += spent
            for i, res, part in zip(todo, results,
                                    _shares([r.input_tokens for r in results], spent),
                                    strict=True):
                w = works[i]
                w.summary, w.chunks = res.text, res.chunks
                w.summary_hit_limit, w.summary_confidence = res.hit_limit, res.confidence
                if res.error is not None:
                    w.fail(res.error, error_message(res.error))
                w.summarize_s += part
                w.routes.setdefault("summary", "direct")
        return GroupState(works, summarized=summarizing)

    def translate_phase(self, state: GroupState) -> list[ArticleResult]:
        """Finish a group after :meth:`summarize_phase`: translations, review, records.

        Needs the translators (none with ``--translate none``); the state may come from
        another process.
        """
        assert self.models is not None
        models = self.models
        works = state.works
        translations: dict[int, dict[str, dict[str, str]]] = {id(w): {} for w in works}
        alignment: dict[int, dict[str, dict[str, list]]] = {id(w): {} for w in works}
        if self.config.translate != "none":
            for target in self.config.targets:
                for part in PARTS[self.config.translate]:
                    jobs = [(w, (w.summary or "") if part == "summary" else w.item.article.text,
                             w.summary_lang if part == "summary" else w.lang)
                            for w in works if w.error is None]
                    for w, (text, model, res) in self._translate(jobs, target).items():
                        translations[id(w)].setdefault(target, {})[part] = text
                        w.routes[f"{target}.{part}"] = model
                        if res is None:  # copied
                            continue
                        alignment[id(w)].setdefault(target, {})[part] = [
                            [list(pair) for pair in paragraph] for paragraph in res.alignment]
                        w.hit_limit.setdefault(target, {})[part] = res.hit_limit
                        w.confidence.setdefault(target, {})[part] = res.confidence
                # the headline too: a reviewer reading Korean expects it in Korean
                titles = [(w, w.item.article.title, w.lang) for w in works
                          if w.error is None and w.item.article.title]
                for w, (text, _, _) in self._translate(titles, target).items():
                    translations[id(w)].setdefault(target, {})["title"] = text
        records = []
        for w in works:
            item = w.item
            if w.error is not None:
                records.append(error_record(item, w.exception or ArticleError(w.error),
                                            self.config.debug))
                continue
            timings = {"read": round(item.read_s, 6)}
            if state.summarized:
                timings["summarize"] = round(w.summarize_s, 6)
            if models.translators or self.config.translate != "none":
                timings["translate"] = round(w.translate_s, 6)
            record = ok_record(
                item, summary=w.summary if self.config.summarize else None,
                chunks=w.chunks, translations=translations[id(w)],
                alignment=alignment[id(w)], timings=timings, routes=w.routes)
            if w.summary_lang != w.lang:
                w.source_langs["summary"] = w.summary_lang
            evidence = ReviewEvidence(
                summary_hit_limit=w.summary_hit_limit, summary_confidence=w.summary_confidence,
                hit_limit=w.hit_limit, confidence=w.confidence, source_langs=w.source_langs)
            records.append(replace(record, review=review_article(record, evidence,
                                                                 self.review_settings)))
        return records

    def _pivots(self, lang: str) -> bool:
        """Whether an article in ``lang`` is summarized through English."""
        if lang == "en" or self.config.pivot == "never":
            return False
        if self.config.pivot == "always":
            return True
        assert self.models is not None
        return not self.models.summarizes(lang)

    def _translate(self, jobs: list[tuple[ArticleWork, str, str]], target: str,
                   ) -> dict[ArticleWork, tuple[str, str, TranslationResult | None]]:
        """Translate ``(article, text, source language)`` jobs into ``target``.

        Same-language texts are copied; the others are grouped by the model their pair
        routes to, and each model translates its texts in pooled batches. An article whose
        pair no model covers, or whose translation fails, gets its error.

        Returns:
            ``{article: (translation, model id or "copy", the task's result, or None for a
            copy)}`` for the jobs that worked.
        """
        assert self.models is not None
        out: dict[ArticleWork, tuple[str, str, TranslationResult | None]] = {}
        by_model: dict[str, list[tuple[ArticleWork, str, str]]] = {}
        with self.locks.translation:  # routing may load a model and evict another
            for w, text, source in jobs:
                if same_language(source, target):
                    out[w] = (text, "copy", None)
                    continue
                try:
                    _, model = self.models.translation_task(source, target)
                except UsageError as exc:
                    message = _uncovered(source, target, exc)
                    w.fail(ArticleError(message), message)
                    continue
                by_model.setdefault(model, []).append((w, text, source))
        stats = self.collector.batches["translate"]
        for model, items in by_model.items():
            with self.locks.translation:
                # routed again: routing a later pair may have evicted this model
                try:
                    task, _ = self.models.translation_task(items[0][2], target)
                except UsageError as exc:
                    for w, _, source in items:
                        message = _uncovered(source, target, exc)
                        w.fail(ArticleError(message), message)
                    continue
                lock = self.locks.model(task.backend)
                lock.acquire()  # before the routing lock goes: no one evicts it meanwhile
            t0 = time.perf_counter()
            try:
                results = task.translate_many(
                    [text for _, text, _ in items], stats, self._on_batch("translate"),
                    self._on_work("translate"), source_langs=[src for _, _, src in items])
            finally:  # an interrupted stage still counts the time it spent
                spent = time.perf_counter() - t0
                lock.release()
                self.collector.stage_s["translate"] += spent
            parts = _shares([r.input_tokens for r in results], spent)
            for (w, _, source), res, seconds in zip(items, results, parts, strict=True):
                w.translate_s += seconds
                if res.error is not None:
                    error = res.error
                    if isinstance(error, UsageError):
                        error = ArticleError(_uncovered(source, target, error))
                    w.fail(error, error_message(error))
                    continue
                out[w] = (res.text, model, res)
        return out


def ok_record(item: Pending, *, summary: str | None, chunks: int,
              translations: dict[str, dict[str, str]],
              alignment: dict[str, dict[str, list[list[list[str]]]]],
              timings: dict[str, float], routes: dict[str, str] | None = None,
              ) -> ArticleResult:
    """The record of an article that worked."""
    article = item.article
    return ArticleResult(
        id=article.id, source=article.source, status="ok", title=article.title,
        lang=article.lang, error=None, text=article.text, summary=summary, chunks=chunks,
        translations=translations, alignment=alignment, routes=dict(routes or item.routes),
        timings={**timings, "total": round(sum(timings.values()), 6)},
        n_words=len(article.text.split()), n_chars=len(article.text), key=item.key,
        finished_at=now(), schema_version=SCHEMA_VERSION,
    )


def error_record(item: Pending, exc: Exception, debug: bool = False) -> ArticleResult:
    """The record of an article that failed (``debug`` raises the error instead)."""
    if debug:
        raise exc
    return failure_record(InputFailure(item.article.id, item.article.source,
                                       error_message(exc)))


def error_message(exc: Exception) -> str:
    """An article's error as its record says it: one line, the type named unless it is one
    of the tool's own errors."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not isinstance(exc, SummarizeError):
        message = f"{type(exc).__name__}: {message}"
    return message


def failure_record(failure: InputFailure) -> ArticleResult:
    """The record of an input or article that failed."""
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


