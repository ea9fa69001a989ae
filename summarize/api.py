"""The in-memory API: load the models once, then summarize and translate lists of texts.

The folder-to-folder run (:func:`summarize.run_batch`) reads files and writes an output
folder; this is the same work on texts in memory, as ``sentence-transformers``' ``encode``
or vLLM's ``LLM.generate`` offer it::

    import summarize

    models = summarize.load(to="ko")          # the defaults, or summarizer=/translator=
    summaries = models.summarize(["The council met on Monday. ..."])
    print(summaries[0].text, summaries[0].confidence, summaries[0].flags)
    korean = models.translate(["Hello.", "How are you?"], to="ko")
    records = models.process(articles)         # whole records: summary, translations, review

Every call goes through the same group processor as ``run_batch`` (language detection,
pooled token-budget batches, long texts split and merged, pivots, review signals); a text
that fails comes back with its ``error`` set, the others are unaffected. Results come back in
input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from summarize.records import Article, ArticleResult, Confidence, Flag, ReviewCell
from summarize.run.work import Pending
from summarize.settings import RoleConfig, RunConfig, validate_config


@dataclass(frozen=True)
class Summary:
    """The summary of one text.

    Attributes:
        text: The summary ("" when it failed).
        lang: The text's language (detected, or as given).
        route: How it was made: ``direct``, or ``pivot:en (model)`` through English.
        chunks: Windows the text was split into.
        confidence: Mean and lowest token log-probability of the summary, when known.
        flags: Review flags (cut, repeat, numbers, wrong language ...).
        error: Why the text could not be summarized, or None.
    """

    text: str
    lang: str | None
    route: str = ""
    chunks: int = 0
    confidence: Confidence | None = None
    flags: tuple[Flag, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Translation:
    """The translation of one text into one language.

    Attributes:
        text: The translation ("" when it failed).
        source_lang: The text's language.
        target_lang: The language it was translated into.
        model: The model that made it, or ``copy`` (the text was already in that language).
        alignment: Per paragraph, (source unit, translated unit) pairs.
        confidence: Per paragraph and unit, its confidence (None when unknown).
        flags: Per paragraph and unit, its review flags.
        error: Why the text could not be translated, or None.
    """

    text: str
    source_lang: str | None
    target_lang: str
    model: str = ""
    alignment: list[list[tuple[str, str]]] = field(default_factory=list)
    confidence: list[list[Confidence | None]] = field(default_factory=list)
    flags: list[list[tuple[Flag, ...]]] = field(default_factory=list)
    error: str | None = None


def _cell(cell: ReviewCell | None) -> tuple[Confidence | None, tuple[Flag, ...]]:
    return (cell.confidence, tuple(cell.flags)) if cell is not None else (None, ())


class Models:
    """The models of a run, loaded once (see the module doc).

    Args:
        config: The run's settings (validated); its ``summarizer``/``translator`` name the
            models, ``backend``/``device``/``dtype`` where they run.
        loaded: Models loaded already (from :func:`summarize.run.models.load_models`), or
            None to load them now.
    """

    def __init__(self, config: RunConfig, loaded: Any = None):
        from summarize.run.models import load_models
        from summarize.run.process import GroupProcessor
        from summarize.run.stats import StatsCollector

        self.config = validate_config(config)
        self.loaded = loaded if loaded is not None else load_models(self.config)
        self.collector = StatsCollector()
        self._processor = GroupProcessor
        self._counter = 0

    def _run(self, articles: Sequence[Article], **changes: Any) -> list[ArticleResult]:
        """Process articles with the config changed as asked (what to make, which targets);
        records in input order (an article that cannot be admitted, e.g. an unknown
        ``lang``, is an error record)."""
        from summarize.run.groups import Admission
        from summarize.run.process import failure_record

        config = replace(self.config, **changes) if changes else self.config
        processor = self._processor(config, self.loaded, self.collector)
        admission = Admission(config)
        admitted = [admission.admit(a) for a in articles]
        pending = [a for a in admitted if isinstance(a, Pending)]
        done = iter(processor.process(pending) if pending else [])
        return [next(done) if isinstance(a, Pending) else failure_record(a)
                for a in admitted if a is not None]

    def _articles(self, texts: Sequence[str], lang: str | None,
                  titles: Sequence[str] | None) -> list[Article]:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not one string")
        titles = list(titles) if titles is not None else [""] * len(texts)
        if len(titles) != len(texts):
            raise ValueError("titles must have one entry per text")
        start, self._counter = self._counter, self._counter + len(texts)
        return [Article(id=f"text-{start + i}", source="<memory>", text=str(t), title=title,
                        lang=None if lang in (None, "auto") else lang)
                for i, (t, title) in enumerate(zip(texts, titles, strict=True))]

    def summarize(self, texts: Sequence[str], *, lang: str | None = None,
                  titles: Sequence[str] | None = None) -> list[Summary]:
        """Summarize each text (in its own language when the summarizer can, else through
        English, as ``--pivot auto`` does).

        Args:
            texts: The texts.
            lang: Their language; None detects each one's.
            titles: Their titles, for prompts that use them.
        """
        records = self._run(self._articles(texts, lang, titles), summarize=True,
                            translate="none")
        out = []
        for r in records:
            confidence, flags = _cell(r.review.summary if r.review else None)
            out.append(Summary(text=r.summary or "", lang=r.lang,
                               route=r.routes.get("summary", ""), chunks=r.chunks,
                               confidence=confidence, flags=flags, error=r.error))
        return out

    def translate(self, texts: Sequence[str], *, to: str, lang: str | None = None
                  ) -> list[Translation]:
        """Translate each text into ``to``.

        Args:
            texts: The texts.
            to: The target language (an ISO code).
            lang: Their language; None detects each one's.
        """
        from summarize.languages import normalize_lang

        target = normalize_lang(to)
        records = self._run(self._articles(texts, lang, None), summarize=False,
                            translate="article", targets=(target,))
        out = []
        for r in records:
            pairs = r.alignment.get(target, {}).get("article", [])
            cells = (r.review.translations.get(target, {}).get("article", [])
                     if r.review else [])
            confidence = [[_cell(c)[0] for c in row] for row in cells]
            flags = [[_cell(c)[1] for c in row] for row in cells]
            out.append(Translation(
                text=r.translations.get(target, {}).get("article", ""), source_lang=r.lang,
                target_lang=target, model=r.routes.get(f"{target}.article", ""),
                alignment=[[(s, t) for s, t in para] for para in pairs],
                confidence=confidence, flags=flags, error=r.error))
        return out

    def process(self, articles: Sequence[Article]) -> list[ArticleResult]:
        """Whole records, as ``run_batch`` writes them (without pages or timestamps of a
        folder): summary, translations into the configured targets, review."""
        return self._run(list(articles))

    def close(self) -> None:
        """Release the models (device memory)."""
        self.loaded.close()

    def __enter__(self) -> Models:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load(summarizer: str | None = None, translator: str | None = None, *,
         to: Sequence[str] | str = ("ko",), config: RunConfig | None = None,
         **settings: Any) -> Models:
    """Load the models once, for :meth:`Models.summarize` / :meth:`Models.translate`.

    Args:
        summarizer: Hub id or folder (default: the run's default summarizer).
        translator: Hub id or folder for every pair (default: per pair).
        to: Target languages of :meth:`Models.process` (and the translators that load at
            once; others load on first use).
        config: A whole RunConfig instead (the other arguments then change it).
        **settings: Other RunConfig fields (``device``, ``dtype``, ``backend`` ...).

    Raises:
        UsageError: Bad settings, or a model that cannot be loaded.
    """
    base = config or RunConfig(inputs=("<memory>",))
    targets = (to,) if isinstance(to, str) else tuple(to)
    changes: dict[str, Any] = {"targets": targets, **settings}
    if summarizer is not None:
        changes["summarizer"] = replace(base.summarizer_role, model=summarizer)
    if translator is not None:
        changes["translator"] = replace(base.translator_role, model=translator)
    return Models(replace(base, **changes))


__all__ = ["Models", "RoleConfig", "Summary", "Translation", "load"]
