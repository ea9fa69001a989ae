"""Summarize many articles at once: split long ones into token windows, merge partial summaries.

No silent truncation: an article longer than the model's input limit is cut at sentence
boundaries into windows that fit, each window is summarized, and the joined partial
summaries are summarized again until one summary remains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from summarize.backends import Backend, Generated, Request
from summarize.errors import ArticleError, ConfigError, UsageError, item_error
from summarize.tasks.batching import BatchStats, TokenBudget, run_batched
from summarize.tasks.prompts import PROMPT_KEYS
from summarize.text import split_long, split_paragraphs, split_sentences

log = logging.getLogger(__name__)

DEFAULT_MAX_NEW_TOKENS = 142
MAX_ROUNDS = 8


@dataclass(frozen=True)
class SummaryResult:
    """The summary of one article, or why it failed.

    Attributes:
        text: The summary ("" when it failed).
        chunks: Windows the article was split into.
        rounds: Summarization rounds (1 when the article fit in one window).
        input_tokens: Encoder tokens spent on it.
        hit_limit: The final summary stopped at its token limit (probably cut).
        error: Why the article could not be summarized, or None.
        confidence: (mean, min) token log-probability of the final summary (the last round's
            generation), or None when the backend gave no scores.
    """

    text: str
    chunks: int
    rounds: int
    input_tokens: int
    hit_limit: bool = False
    error: Exception | None = None
    confidence: tuple[float, float] | None = None


class Summarizer:
    """Summarization task over a backend (uses only the Backend contract).

    Each window of an article is one :class:`~summarize.backends.Request`: summarize this
    text, written in its language (the backend decides how to ask its model).

    Args:
        backend: The loaded model.
        settings: Generation settings from the config file (override the model's own); the
            prompt keys (:data:`~summarize.tasks.prompts.PROMPT_KEYS`) and
            ``max_input_tokens`` were applied when the backend was loaded.
        budget: Token budget per batch (shared, lowered on out-of-memory).
        source_lang: Language of the articles, for sentence splitting.

    Raises:
        ConfigError: The model's input window is too small to summarize anything.
    """

    def __init__(self, backend: Backend, settings: dict[str, Any], budget: TokenBudget,
                 source_lang: str = "en"):
        self.backend = backend
        defaults = backend.task_defaults("summarize")
        self.settings = {**defaults.settings, **settings}
        for key in (*PROMPT_KEYS, "max_input_tokens"):
            self.settings.pop(key, None)
        self.max_new = int(
            self.settings.pop("max_new_tokens", 0)
            or self.settings.pop("max_length", 0)
            or defaults.max_new_tokens
            or DEFAULT_MAX_NEW_TOKENS
        )
        self.settings.pop("max_length", None)
        if backend.max_output_tokens:
            self.max_new = min(self.max_new, backend.max_output_tokens)
        self.budget = budget
        self.source_lang = source_lang
        self.limit = backend.input_limit("summarize", self.max_new)
        self._overheads: dict[tuple[str, str], int] = {}
        if self.limit - self._overhead(source_lang, "") < 8:
            raise ConfigError(
                f"summarizer '{backend.info.model_id}': its input limit of {self.limit} "
                "tokens leaves no room for text after the prompt"
            )

    def request(self, text: str, lang: str | None = None, title: str = "") -> Request:
        """The request for one window: summarize ``text``, written in ``lang``."""
        lang = lang or self.source_lang
        return Request("summarize", text, lang, lang, title)

    def _count(self, texts: Sequence[str], lang: str, title: str) -> list[int]:
        return self.backend.count_tokens([self.request(t, lang, title) for t in texts])

    def _overhead(self, lang: str, title: str) -> int:
        """Tokens of a request with no text: the prompt and special tokens."""
        key = (lang, title)
        if key not in self._overheads:
            self._overheads[key] = self._count([""], lang, title)[0]
        return self._overheads[key]

    def chunk(self, text: str, lang: str | None = None, title: str = "") -> list[str]:
        """Split a text into windows of whole sentences that each fit the model's input.

        A sentence longer than a whole window is split further at the best boundary.
        """
        lang = lang or self.source_lang
        if self._count([text], lang, title)[0] <= self.limit:
            return [text]
        overhead = self._overhead(lang, title)
        window = self.limit - overhead
        sentences = [s for p in split_paragraphs(text) for s in split_sentences(p, lang)]
        sentences = self._fit_sentences(sentences, lang, title, window)
        counts = [n - overhead for n in self._count(sentences, lang, title)]
        windows: list[str] = []
        current: list[str] = []
        used = 0
        margin = 4  # joining sentences can cost a token or two at each boundary
        for sentence, n in zip(sentences, counts, strict=True):
            if current and used + n + margin > window:
                windows.append(" ".join(current))
                current, used = [], 0
            current.append(sentence)
            used += n + 1
        if current:
            windows.append(" ".join(current))
        return self._verify(windows, lang, title)

    def _fit_sentences(self, sentences: list[str], lang: str, title: str,
                       window: int) -> list[str]:
        out: list[str] = []
        for sentence, n in zip(sentences, self._count(sentences, lang, title), strict=True):
            if n <= window // 2:
                out.append(sentence)
                continue
            pieces = split_long(sentence, max(20, len(sentence) * (window // 2) // n))
            out.extend(self._fit_sentences(pieces, lang, title, window) if len(pieces) > 1
                       else pieces)
        return out

    def _verify(self, windows: list[str], lang: str, title: str) -> list[str]:
        """Re-split any window whose joined text came out longer than counted."""
        out: list[str] = []
        for window, n in zip(windows, self._count(windows, lang, title), strict=True):
            if n <= self.limit:
                out.append(window)
                continue
            half = split_long(window, max(1, len(window) // 2))
            out.extend(self._verify(half, lang, title))
        return out

    def summarize_many(
        self,
        texts: list[str],
        stats: BatchStats,
        on_batch: Callable[[int], None] | None = None,
        on_work: Callable[[int], None] | None = None,
        langs: Sequence[str | None] | None = None,
        titles: Sequence[str] | None = None,
    ) -> list[SummaryResult]:
        """Summarize every text, pooling all windows of all texts into shared batches.

        An article that cannot be summarized (its windows fail, or its partial summaries do
        not shrink) gets a result with ``error`` set; the other articles keep their pooled
        batches.

        Args:
            texts: Article texts.
            stats: Accumulates batches and tokens.
            on_batch: Progress callback, items finished per batch.
            on_work: Called with the number of new work items before each round.
            langs: Language of each text (default: source_lang): for sentence splitting, and
                the language the summary is written in.
            titles: Title of each text, for prompts that use it.
        """
        langs = [lang or self.source_lang for lang in (langs or [None] * len(texts))]
        titles = list(titles) if titles is not None else [""] * len(texts)
        errors: list[Exception | None] = [None] * len(texts)
        pieces: list[list[str]] = []
        for i, text in enumerate(texts):
            try:
                pieces.append(self.chunk(text, langs[i], titles[i]))
            except UsageError:
                raise
            except BaseException as exc:  # one article's text, not the run
                errors[i] = item_error(exc, "splitting failed")
                pieces.append([])
        n_chunks = [len(p) for p in pieces]
        in_tokens = [0] * len(texts)
        done: list[str | None] = [None] * len(texts)
        hit = [False] * len(texts)
        conf: list[tuple[float, float] | None] = [None] * len(texts)
        rounds = [0] * len(texts)
        active = [i for i in range(len(texts)) if errors[i] is None]
        while active:
            flat = [(i, piece) for i in active for piece in pieces[i]]
            inputs = [self.request(piece, langs[i], titles[i]) for i, piece in flat]
            lengths = self.backend.count_tokens(inputs)
            for (i, _), n in zip(flat, lengths, strict=True):
                in_tokens[i] += n
            if on_work:
                on_work(len(inputs))
            run = run_batched(inputs, lengths, self.budget, self._run, stats, on_batch)
            by_article: dict[int, list[tuple[str, bool, tuple[float, float] | None]]] = {}
            scores = run.scores or [None] * len(flat)
            for k, ((i, _), out) in enumerate(zip(flat, run.outputs, strict=True)):
                if k in run.failures and errors[i] is None:
                    errors[i] = run.failures[k]
                by_article.setdefault(i, []).append((out, run.hit_limit[k], scores[k]))
            still: list[int] = []
            for i in active:
                if errors[i] is not None:
                    continue
                rounds[i] += 1
                parts = by_article[i]
                if len(parts) == 1:
                    done[i], hit[i], conf[i] = parts[0]
                    continue
                try:
                    merged = self.chunk(" ".join(p for p, _, _ in parts if p), langs[i],
                                        titles[i])
                except BaseException as exc:
                    errors[i] = item_error(exc, "splitting failed")
                    continue
                if rounds[i] >= MAX_ROUNDS or len(merged) >= len(parts):
                    errors[i] = ArticleError(
                        f"summaries of {n_chunks[i]} chunks did not shrink below the model's "
                        "input limit; lower max_new_tokens in the [summarizer] settings"
                    )
                    continue
                pieces[i] = merged
                still.append(i)
            active = still
        return [
            SummaryResult(done[i] or "", n_chunks[i], rounds[i], in_tokens[i], hit[i], errors[i],
                          conf[i])
            for i in range(len(texts))
        ]

    def _run(self, batch: list[Request]) -> Generated:
        return self.backend.generate(batch, self.settings, [self.max_new] * len(batch))
