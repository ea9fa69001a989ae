"""Translate many texts at once, sentence by sentence, and reassemble them in order.

Each text is split into paragraphs and sentences; the sentences of all texts are pooled,
deduplicated, batched by length, translated, and put back in the same order and
paragraph structure. No sentence is dropped or duplicated; a sentence longer than the
model's input is split further rather than truncated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from summarize.backends import Seq2SeqBackend
from summarize.batching import BatchStats, TokenBudget, run_batched
from summarize.text import join_paragraphs, join_sentences, segment_text, split_long

# Output limit per sentence when the user sets none: generous for any language pair, but
# bounded so one degenerate repetition cannot hold a whole batch for hundreds of steps.
LENGTH_FACTOR = 3
LENGTH_SLACK = 16
DEFAULT_CAP = 512


@dataclass(frozen=True)
class TranslationResult:
    """One translated text and its sentence alignment.

    Attributes:
        text: The translation, paragraphs separated by blank lines.
        alignment: Per paragraph, (source sentence, translated sentence) pairs.
        input_tokens: Encoder tokens spent on this text.
    """

    text: str
    alignment: list[list[tuple[str, str]]]
    input_tokens: int


class Translator:
    """Translation task for one target language over a backend.

    Args:
        backend: The loaded model.
        target: Normalized target language code (decides how sentences are joined).
        settings: Generation settings from the config file.
        budget: Token budget per batch.
        source_lang: Source language, for sentence splitting.
        prefix: Text put before every sentence (``>>kor<< ``, ``<2ko> ``), or "".
        forced_bos_token_id: Target language token for NLLB, M2M100 and mBART-50.
        src_lang: Tokenizer source-language code for families that need one.
    """

    def __init__(self, backend: Seq2SeqBackend, target: str, settings: dict[str, Any],
                 budget: TokenBudget, *, source_lang: str = "en", prefix: str = "",
                 forced_bos_token_id: int | None = None, src_lang: str | None = None):
        self.backend = backend
        self.target = target
        self.settings = dict(settings)
        self.settings.pop("prefix", None)
        self.settings.pop("max_input_tokens", None)
        self.fixed_max_new = self.settings.pop("max_new_tokens", None)
        cap = self.settings.pop("max_length", None)
        self.cap = int(cap or getattr(backend, "default_max_new_tokens", None) or DEFAULT_CAP)
        ceiling = getattr(backend, "max_output_tokens", None)
        if ceiling:
            self.cap = min(self.cap, ceiling)
        self.budget = budget
        self.source_lang = source_lang
        self.prefix = prefix
        self.forced_bos_token_id = forced_bos_token_id
        self.src_lang = src_lang

    def _limit(self, n_tokens: int) -> int:
        """Most new tokens for one sentence; depends on the sentence alone."""
        if self.fixed_max_new:
            return min(int(self.fixed_max_new), self.cap)
        return min(self.cap, LENGTH_FACTOR * n_tokens + LENGTH_SLACK)

    def _fit(self, sentence: str) -> list[str]:
        """The sentence, or its pieces when it is longer than the model's input."""
        n = self.backend.count_tokens([self.prefix + sentence])[0]
        limit = self.backend.max_input_tokens
        if n <= limit:
            return [sentence]
        pieces = split_long(sentence, max(8, len(sentence) * (limit // 2) // n))
        if len(pieces) == 1:
            return pieces
        return [p for piece in pieces for p in self._fit(piece)]

    def translate_many(
        self,
        texts: list[str],
        stats: BatchStats,
        on_batch: Callable[[int], None] | None = None,
        on_work: Callable[[int], None] | None = None,
    ) -> list[TranslationResult]:
        """Translate every text; sentences of all texts share batches.

        Args:
            texts: Texts in the source language ("" gives "").
            stats: Accumulates batches, tokens and seconds.
            on_batch: Progress callback, items finished per batch.
            on_work: Called once with the number of unique sentences to translate.
        """
        started = time.perf_counter()
        if hasattr(self.backend, "set_source_lang"):
            self.backend.set_source_lang(self.src_lang)
        # (text, paragraph, sentence) -> pieces; pieces are what the model sees
        layout: list[list[list[list[str]]]] = []
        unique: dict[str, int] = {}
        for text in texts:
            paragraphs = []
            for paragraph in segment_text(text, self.source_lang):
                sentences = []
                for sentence in paragraph:
                    pieces = self._fit(sentence)
                    for piece in pieces:
                        unique.setdefault(piece, len(unique))
                    sentences.append(pieces)
                paragraphs.append(sentences)
            layout.append(paragraphs)
        pieces = list(unique)
        inputs = [self.prefix + p for p in pieces]
        lengths = self.backend.count_tokens(inputs)
        if on_work:
            on_work(len(inputs))
        outputs = run_batched(list(zip(inputs, lengths, strict=True)), lengths, self.budget,
                              self._run, stats, on_batch)
        piece_tokens = dict(zip(pieces, lengths, strict=True))
        results: list[TranslationResult] = []
        for text, paragraphs in zip(texts, layout, strict=True):
            alignment: list[list[tuple[str, str]]] = []
            rendered: list[str] = []
            n_in = 0
            for paragraph in paragraphs:
                pairs = []
                for sentence_pieces in paragraph:
                    source = join_sentences(sentence_pieces, self.source_lang)
                    target = join_sentences(
                        [outputs[unique[p]] for p in sentence_pieces], self.target
                    )
                    n_in += sum(piece_tokens[p] for p in sentence_pieces)
                    pairs.append((source, target))
                alignment.append(pairs)
                rendered.append(join_sentences([t for _, t in pairs], self.target))
            results.append(TranslationResult(join_paragraphs(rendered) if text else "",
                                             alignment, n_in))
        stats.seconds += time.perf_counter() - started
        return results

    def _run(self, batch: list[tuple[str, int]]) -> tuple[list[str], int, int]:
        texts = [t for t, _ in batch]
        limits = [self._limit(n) for _, n in batch]
        out = self.backend.generate(texts, self.settings, limits, self.forced_bos_token_id)
        return out.texts, out.input_tokens, out.output_tokens
