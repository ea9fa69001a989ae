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

from summarize.backends import Generated, Seq2SeqBackend
from summarize.errors import ArticleError, ConfigError, UsageError, item_error
from summarize.tasks.batching import BatchStats, TokenBudget, run_batched
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
    """Summarization task over a backend (uses only the Seq2SeqBackend contract).

    Args:
        backend: The loaded model.
        settings: Generation settings from the config file (override the model's own);
            may hold ``prefix`` (replaces the model's task prefix) and ``max_input_tokens``
            (applied when the backend was loaded).
        budget: Token budget per batch (shared, lowered on out-of-memory).
        source_lang: Language of the articles, for sentence splitting.

    Raises:
        ConfigError: The model's input window is too small to summarize anything.
    """

    def __init__(self, backend: Seq2SeqBackend, settings: dict[str, Any], budget: TokenBudget,
                 source_lang: str = "en"):
        self.backend = backend
        defaults = backend.task_defaults("summarization")
        self.settings = {**defaults.settings, **settings}
        prefix = self.settings.pop("prefix", None)
        self.prefix = defaults.prefix if prefix is None else prefix
        self.settings.pop("max_input_tokens", None)
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
        overhead = backend.count_tokens([self.prefix])[0]
        self.window = backend.max_input_tokens - overhead
        if self.window < 8:
            raise ConfigError(
                f"summarizer '{backend.info.model_id}': its input limit of "
                f"{backend.max_input_tokens} tokens leaves no room for text after the prefix"
            )
        self._special = backend.count_tokens([""])[0]

    def chunk(self, text: str, lang: str | None = None) -> list[str]:
        """Split a text into windows of whole sentences that each fit the model's input.

        A sentence longer than a whole window is split further at the best boundary.
        """
        if self.backend.count_tokens([self.prefix + text])[0] <= self.backend.max_input_tokens:
            return [text]
        lang = lang or self.source_lang
        sentences = [s for p in split_paragraphs(text) for s in split_sentences(p, lang)]
        sentences = self._fit_sentences(sentences)
        counts = [n - self._special for n in self.backend.count_tokens(sentences)]
        windows: list[str] = []
        current: list[str] = []
        used = 0
        margin = 4  # joining sentences can cost a token or two at each boundary
        for sentence, n in zip(sentences, counts, strict=True):
            if current and used + n + margin > self.window:
                windows.append(" ".join(current))
                current, used = [], 0
            current.append(sentence)
            used += n + 1
        if current:
            windows.append(" ".join(current))
        return self._verify(windows)

    def _fit_sentences(self, sentences: list[str]) -> list[str]:
        out: list[str] = []
        for sentence, n in zip(sentences, self.backend.count_tokens(sentences), strict=True):
            if n <= self.window // 2:
                out.append(sentence)
                continue
            pieces = split_long(sentence, max(20, len(sentence) * (self.window // 2) // n))
            out.extend(self._fit_sentences(pieces) if len(pieces) > 1 else pieces)
        return out

    def _verify(self, windows: list[str]) -> list[str]:
        """Re-split any window whose joined text came out longer than counted."""
        out: list[str] = []
        for window, n in zip(windows, self.backend.count_tokens(
                [self.prefix + w for w in windows]), strict=True):
            if n <= self.backend.max_input_tokens:
                out.append(window)
                continue
            half = split_long(window, max(1, len(window) // 2))
            out.extend(self._verify(half))
        return out

    def summarize_many(
        self,
        texts: list[str],
        stats: BatchStats,
        on_batch: Callable[[int], None] | None = None,
        on_work: Callable[[int], None] | None = None,
        langs: Sequence[str | None] | None = None,
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
            langs: Language of each text, for sentence splitting (default: source_lang).
        """
        langs = list(langs) if langs is not None else [None] * len(texts)
        errors: list[Exception | None] = [None] * len(texts)
        pieces: list[list[str]] = []
        for i, text in enumerate(texts):
            try:
                pieces.append(self.chunk(text, langs[i]))
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
            inputs = [self.prefix + piece for _, piece in flat]
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
                    merged = self.chunk(" ".join(p for p, _, _ in parts if p), langs[i])
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

    def _run(self, batch: list[str]) -> Generated:
        return self.backend.generate(batch, self.settings, [self.max_new] * len(batch))
