"""Summarize many articles at once: split long ones into token windows, merge partial summaries.

No silent truncation: an article longer than the model's input limit is cut at sentence
boundaries into windows that fit, each window is summarized, and the joined partial
summaries are summarized again until one summary remains.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from summarize.backends import Seq2SeqBackend
from summarize.batching import BatchStats, TokenBudget, run_batched
from summarize.errors import ArticleError
from summarize.text import split_long, split_paragraphs, split_sentences

log = logging.getLogger(__name__)

DEFAULT_MAX_NEW_TOKENS = 142
MAX_ROUNDS = 8


@dataclass(frozen=True)
class SummaryResult:
    """The summary of one article, with how many windows it needed and its input tokens."""

    text: str
    chunks: int
    rounds: int
    input_tokens: int


class Summarizer:
    """Summarization task over a backend.

    Args:
        backend: The loaded model.
        settings: Generation settings from the config file (override the model's own).
        budget: Token budget per batch (shared, lowered on out-of-memory).
        source_lang: Language of the articles, for sentence splitting.
    """

    def __init__(self, backend: Seq2SeqBackend, settings: dict[str, Any], budget: TokenBudget,
                 source_lang: str = "en"):
        self.backend = backend
        defaults = dict(getattr(backend, "generation_defaults", {}) or {})
        defaults.pop("prefix", None)
        self.settings = {**defaults, **settings}
        prefix_of = getattr(backend, "task_prefix", None)
        self.prefix = self.settings.pop("prefix", None)
        if self.prefix is None:
            self.prefix = prefix_of("summarization") if prefix_of else ""
        self.settings.pop("max_input_tokens", None)
        self.max_new = int(
            self.settings.pop("max_new_tokens", 0)
            or self.settings.pop("max_length", 0)
            or getattr(backend, "default_max_new_tokens", None)
            or DEFAULT_MAX_NEW_TOKENS
        )
        self.settings.pop("max_length", None)
        ceiling = getattr(backend, "max_output_tokens", None)
        if ceiling:
            self.max_new = min(self.max_new, ceiling)
        self.budget = budget
        self.source_lang = source_lang
        overhead = backend.count_tokens([self.prefix])[0]
        self.window = backend.max_input_tokens - overhead
        if self.window < 8:
            raise ArticleError(f"summarizer input limit {backend.max_input_tokens} is too small")
        self._special = backend.count_tokens([""])[0]

    def chunk(self, text: str) -> list[str]:
        """Split a text into windows of whole sentences that each fit the model's input.

        A sentence longer than a whole window is split further at the best boundary.
        """
        if self.backend.count_tokens([self.prefix + text])[0] <= self.backend.max_input_tokens:
            return [text]
        lang = self.source_lang
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
    ) -> list[SummaryResult]:
        """Summarize every text, pooling all windows of all texts into shared batches.

        Args:
            texts: Article texts.
            stats: Accumulates batches, tokens and seconds.
            on_batch: Progress callback, items finished per batch.
            on_work: Called with the number of new work items before each round.
        """
        started = time.perf_counter()
        pieces = [self.chunk(t) for t in texts]
        n_chunks = [len(p) for p in pieces]
        in_tokens = [0] * len(texts)
        done: list[str | None] = [None] * len(texts)
        rounds = [0] * len(texts)
        active = list(range(len(texts)))
        while active:
            flat = [(i, piece) for i in active for piece in pieces[i]]
            inputs = [self.prefix + piece for _, piece in flat]
            lengths = self.backend.count_tokens(inputs)
            for (i, _), n in zip(flat, lengths, strict=True):
                in_tokens[i] += n
            if on_work:
                on_work(len(inputs))
            outputs = run_batched(inputs, lengths, self.budget, self._run, stats, on_batch)
            by_article: dict[int, list[str]] = {}
            for (i, _), out in zip(flat, outputs, strict=True):
                by_article.setdefault(i, []).append(out)
            still: list[int] = []
            for i in active:
                rounds[i] += 1
                parts = by_article[i]
                if len(parts) == 1:
                    done[i] = parts[0]
                    continue
                merged = self.chunk(" ".join(p for p in parts if p))
                if rounds[i] >= MAX_ROUNDS or len(merged) >= len(parts):
                    raise ArticleError(
                        f"summaries of {n_chunks[i]} chunks did not shrink below the model's "
                        "input limit; lower max_new_tokens in the [summarizer] settings"
                    )
                pieces[i] = merged
                still.append(i)
            active = still
        stats.seconds += time.perf_counter() - started
        return [
            SummaryResult(done[i] or "", n_chunks[i], rounds[i], in_tokens[i])
            for i in range(len(texts))
        ]

    def _run(self, batch: list[str]) -> tuple[list[str], int, int]:
        out = self.backend.generate(batch, self.settings, [self.max_new] * len(batch))
        return out.texts, out.input_tokens, out.output_tokens
