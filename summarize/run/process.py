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
from dataclasses import dataclass, field, replace
from typing import Any

from summarize.errors import ArticleError, SummarizeError, UsageError
from summarize.languages import same_language
from summarize.records import SCHEMA_VERSION, Article, ArticleResult, InputFailure, RunConfig
from summarize.review import ReviewEvidence, review_article
from summarize.run.models import LoadedModels
from summarize.run.stats import StatsCollector, now
from summarize.tasks.translate import TranslationResult

PARTS = {"summary": ("summary",), "article": ("article",), "both": ("summary", "article"),
         "none": ()}


class Interrupted(Exception):
    """Ctrl-C was pressed; the run stops after the current batch."""


@dataclass
class Pending:
    """An article waiting in the current group, with its resume key and read time.

    ``routes`` starts with how the article's language was decided (``lang``).
    """

    article: Article
    key: str
    read_s: float
    routes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The pending article as plain data (:meth:`from_json` reads it back)."""
        a = self.article
        return {"id": a.id, "source": a.source, "text": a.text, "title": a.title,
                "lang": a.lang, "key": self.key, "read_s": self.read_s,
                "routes": dict(self.routes)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Pending:
        article = Article(id=d["id"], source=d["source"], text=d["text"], title=d["title"],
                          lang=d["lang"])
        return cls(article, d["key"], float(d["read_s"]), dict(d["routes"]))


@dataclass
class GroupState:
    """A group between its two phases: what the summaries left for the translations.

    Plain data, one entry per article in each list (:meth:`to_json` / :meth:`from_json`
    carry it between processes). ``errors`` holds the message of each article's error
    (None while it works); ``exceptions`` the errors themselves, in this process only (so
    ``--debug`` raises the original).

    Attributes:
        items: The group's articles.
        langs: Each article's language.
        summaries: Each summary (None: none made, or the article failed).
        summary_langs: The language each summary is in (``en`` when made through English).
        chunks: Windows each article was split into for its summary.
        routes: Each article's routes so far (language, summary).
        evidence: Each article's review evidence so far (summary confidence and limit).
        share: Seconds of each model stage spent on each article (``summarize``,
            ``translate``: a pivot's translation into English counts there).
        errors: Each article's error message, or None.
        summarized: A summarizer ran (records then carry its seconds).
        exceptions: The errors as raised (this process only; not serialised).
    """

    items: list[Pending]
    langs: list[str]
    summaries: list[str | None]
    summary_langs: list[str]
    chunks: list[int]
    routes: list[dict[str, str]]
    evidence: list[dict[str, Any]]
    share: dict[str, list[float]]
    errors: list[str | None]
    summarized: bool = False
    exceptions: list[Exception | None] = field(default_factory=list, repr=False,
                                               compare=False)

    _LISTS = ("langs", "summaries", "summary_langs", "chunks", "routes", "evidence", "errors")

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data (the exceptions stay behind)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in self._LISTS}
        out["items"] = [item.to_json() for item in self.items]
        out["share"] = self.share
        out["summarized"] = self.summarized
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GroupState:
        evidence = []
        for ev in d["evidence"]:
            ev = dict(ev)
            if ev.get("summary_confidence") is not None:  # JSON made the pair a list
                ev["summary_confidence"] = tuple(ev["summary_confidence"])
            evidence.append(ev)
        return cls(items=[Pending.from_json(i) for i in d["items"]], langs=list(d["langs"]),
                   summaries=list(d["summaries"]), summary_langs=list(d["summary_langs"]),
                   chunks=[int(c) for c in d["chunks"]], routes=[dict(r) for r in d["routes"]],
                   evidence=evidence,
                   share={k: [float(x) for x in v] for k, v in d["share"].items()},
                   errors=list(d["errors"]), summarized=bool(d["summarized"]))

    def split(self) -> list[GroupState]:
        """One state per article (to retry a group article by article)."""
        out = []
        for i, item in enumerate(self.items):
            one = {name: [getattr(self, name)[i]] for name in self._LISTS}
            out.append(GroupState(
                items=[item], share={k: [v[i]] for k, v in self.share.items()},
                summarized=self.summarized,
                exceptions=[self.exceptions[i]] if self.exceptions else [], **one))
        return out

    @classmethod
    def merge(cls, states: list[GroupState]) -> GroupState:
        """The states of parts of a group as one (the inverse of :meth:`split`)."""
        lists = {name: [x for s in states for x in getattr(s, name)] for name in cls._LISTS}
        share = {k: [x for s in states for x in s.share.get(k, [0.0] * len(s.items))]
                 for k in ("summarize", "translate")}
        exceptions = ([e for s in states for e in (s.exceptions or [None] * len(s.items))]
                      if any(s.exceptions for s in states) else [])
        return cls(items=[i for s in states for i in s.items], share=share,
                   summarized=any(s.summarized for s in states), exceptions=exceptions,
                   **lists)


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
        n = len(group)
        texts = [p.article.text for p in group]
        langs = [p.article.lang or "en" for p in group]
        errors: list[Exception | None] = [None] * n
        routes: list[dict[str, str]] = [dict(p.routes) for p in group]
        summaries: list[str | None] = [None] * n
        summary_langs = list(langs)
        evidence: list[dict[str, Any]] = [
            {"hit_limit": {}, "confidence": {}, "source_langs": {}} for _ in range(n)]
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
            with self.locks.model(models.summarizer.backend):
                t0 = time.perf_counter()  # not counting a wait for the other stage
                try:
                    results = models.summarizer.summarize_many(
                        [inputs[i] for i in todo], stats, self._on_batch("summarize"),
                        self._on_work("summarize"), langs=[summary_langs[i] for i in todo])
                finally:  # an interrupted stage still counts the time it spent
                    spent = time.perf_counter() - t0
                    self.collector.stage_s["summarize"] += spent
            for i, res, part in zip(todo, results,
                                    _shares([r.input_tokens for r in results], spent),
                                    strict=True):
                summaries[i], chunks[i] = res.text, res.chunks
                evidence[i]["summary_hit_limit"] = res.hit_limit
                evidence[i]["summary_confidence"] = res.confidence
                errors[i] = errors[i] or res.error
                share["summarize"][i] += part
                routes[i].setdefault("summary", "direct")
        return GroupState(
            items=list(group), langs=langs, summaries=summaries, summary_langs=summary_langs,
            chunks=chunks, routes=routes, evidence=evidence, share=share,
            errors=[None if e is None else error_message(e) for e in errors],
            summarized=models.summarizer is not None, exceptions=errors)

    def translate_phase(self, state: GroupState) -> list[ArticleResult]:
        """Finish a group after :meth:`summarize_phase`: translations, review, records.

        Needs the translators (none with ``--translate none``); the state may come from
        another process.
        """
        assert self.models is not None
        models = self.models
        group = state.items
        n = len(group)
        texts = [p.article.text for p in group]
        langs, summaries, summary_langs = state.langs, state.summaries, state.summary_langs
        routes = [dict(r) for r in state.routes]
        evidence = [{**ev, "hit_limit": dict(ev["hit_limit"]),
                     "confidence": dict(ev["confidence"]),
                     "source_langs": dict(ev["source_langs"])} for ev in state.evidence]
        share = {k: list(v) for k, v in state.share.items()}
        errors: list[Exception | None] = [
            None if message is None
            else (state.exceptions[i] if state.exceptions and state.exceptions[i] is not None
                  else ArticleError(message))
            for i, message in enumerate(state.errors)]
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
                    for i, (text, model, res) in done.items():
                        translations[i].setdefault(target, {})[part] = text
                        routes[i][f"{target}.{part}"] = model
                        if res is None:  # copied
                            continue
                        alignment[i].setdefault(target, {})[part] = [
                            [list(pair) for pair in paragraph] for paragraph in res.alignment]
                        evidence[i]["hit_limit"].setdefault(target, {})[part] = res.hit_limit
                        evidence[i]["confidence"].setdefault(target, {})[part] = (
                            res.confidence)
                        if part == "summary" and summary_langs[i] != langs[i]:
                            evidence[i]["source_langs"]["summary"] = summary_langs[i]
                # the headline too: a reviewer reading Korean expects it in Korean
                titles = [(i, group[i].article.title, langs[i]) for i in range(n)
                          if errors[i] is None and group[i].article.title]
                for i, (text, _, _) in self._translate(titles, target, errors, share).items():
                    translations[i].setdefault(target, {})["title"] = text
        records = []
        for i, item in enumerate(group):
            if errors[i] is not None:
                records.append(error_record(item, errors[i], self.config.debug))
                continue
            timings = {"read": round(item.read_s, 6)}
            if state.summarized:
                timings["summarize"] = round(share["summarize"][i], 6)
            if models.translators or self.config.translate != "none":
                timings["translate"] = round(share["translate"][i], 6)
            record = ok_record(
                item, summary=summaries[i] if self.config.summarize else None,
                chunks=state.chunks[i], translations=translations[i],
                alignment=alignment[i], timings=timings, routes=routes[i])
            if summary_langs[i] != langs[i]:
                evidence[i]["source_langs"]["summary"] = summary_langs[i]
            review = review_article(record, ReviewEvidence(**evidence[i]),
                                    self.review_settings)
            records.append(replace(record, review=review))
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
                   ) -> dict[int, tuple[str, str, TranslationResult | None]]:
        """Translate ``(article index, text, source language)`` jobs into ``target``.

        Same-language texts are copied; the others are grouped by the model their pair
        routes to, and each model translates its texts in pooled batches. An article whose
        pair no model covers, or whose translation fails, gets its error in ``errors``.

        Returns:
            ``{article index: (translation, model id or "copy", the task's result, or None
            for a copy)}`` for the jobs that worked.
        """
        assert self.models is not None
        out: dict[int, tuple[str, str, TranslationResult | None]] = {}
        by_model: dict[str, list[tuple[int, str, str]]] = {}
        with self.locks.translation:  # routing may load a model and evict another
            for i, text, source in jobs:
                if same_language(source, target):
                    out[i] = (text, "copy", None)
                    continue
                try:
                    _, model = self.models.translation_task(source, target)
                except UsageError as exc:
                    errors[i] = errors[i] or ArticleError(_uncovered(source, target, exc))
                    continue
                by_model.setdefault(model, []).append((i, text, source))
        stats = self.collector.batches["translate"]
        for model, items in by_model.items():
            with self.locks.translation:
                # routed again: routing a later pair may have evicted this model
                try:
                    task, _ = self.models.translation_task(items[0][2], target)
                except UsageError as exc:
                    for i, _, source in items:
                        errors[i] = errors[i] or ArticleError(_uncovered(source, target, exc))
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
            for (i, _, source), res, seconds in zip(items, results, parts, strict=True):
                share["translate"][i] += seconds
                if res.error is not None:
                    error = res.error
                    if isinstance(error, UsageError):
                        error = ArticleError(_uncovered(source, target, error))
                    errors[i] = errors[i] or error
                    continue
                out[i] = (res.text, model, res)
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


