"""Translate many texts at once, unit by unit, and reassemble them in order.

Each text is split into paragraphs and sentences. The unit a model translates is the
backend's choice (:data:`~summarize.backends.Unit`): a seq2seq model translates sentences; a
chat model translates paragraphs (the context it needs), a paragraph longer than its input
split at sentence ends. The units of all texts are pooled, deduplicated, batched by length,
translated, and put back in the same order and paragraph structure. No text is dropped or
duplicated; a sentence longer than the model's input is split further rather than truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from summarize.backends import Backend, Generated, Request
from summarize.errors import UsageError, item_error
from summarize.tasks.batching import BatchStats, TokenBudget, run_batched
from summarize.tasks.prompts import PROMPT_KEYS
from summarize.text import join_paragraphs, join_sentences, segment_text, split_long

# Output limit per sentence when the user sets none: generous for any language pair, but
# bounded so one degenerate repetition cannot hold a whole batch for hundreds of steps.
LENGTH_FACTOR = 3
LENGTH_SLACK = 16
DEFAULT_CAP = 512


@dataclass(frozen=True)
class TranslationResult:
    """One translated text and its sentence alignment, or why it failed.

    Attributes:
        text: The translation, paragraphs separated by blank lines ("" when it failed).
        alignment: Per paragraph, (source unit, translated unit) pairs: sentences, or
            paragraphs (runs of sentences) for a model that translates paragraphs.
        input_tokens: Encoder tokens spent on this text.
        hit_limit: Per paragraph and sentence, whether a piece of its translation stopped
            at its token limit (probably cut).
        error: Why the text could not be translated, or None.
        confidence: Per paragraph and sentence, the (mean, min) token log-probability of its
            translation, or None when the backend gave no scores. A sentence translated in
            pieces (longer than the model's input) combines them: the mean of the pieces'
            means weighted by their input tokens, the lowest of their minimums.
    """

    text: str
    alignment: list[list[tuple[str, str]]]
    input_tokens: int
    hit_limit: list[list[bool]] = field(default_factory=list)
    error: Exception | None = None
    confidence: list[list[tuple[float, float] | None]] = field(default_factory=list)


class Translator:
    """Translation task for one target language over a backend (the contract only).

    Args:
        backend: The loaded model.
        target: Normalized target language code (decides how sentences are joined).
        settings: Generation settings from the config file; the prompt keys
            (:data:`~summarize.tasks.prompts.PROMPT_KEYS`) and ``max_input_tokens`` were
            applied when the backend was loaded.
        budget: Token budget per batch.
        source_lang: Default source language (texts may name their own per call).

    Raises:
        UnsupportedLanguageError: The model cannot translate ``source_lang`` into ``target``.
    """

    def __init__(self, backend: Backend, target: str, settings: dict[str, Any],
                 budget: TokenBudget, *, source_lang: str = "en"):
        self.backend = backend
        self.target = target
        self.settings = dict(settings)
        for key in (*PROMPT_KEYS, "max_input_tokens"):
            self.settings.pop(key, None)
        self.fixed_max_new = self.settings.pop("max_new_tokens", None)
        cap = self.settings.pop("max_length", None)
        defaults = backend.task_defaults("translate")
        self.cap = int(cap or defaults.max_new_tokens or DEFAULT_CAP)
        if backend.max_output_tokens:
            self.cap = min(self.cap, backend.max_output_tokens)
        self.budget = budget
        self.source_lang = source_lang
        self.unit = backend.translation_unit
        self.limit = backend.input_limit("translate", self.cap)
        self._checked: set[str] = set()
        self._prompt: dict[str, int] = {}
        self.check(source_lang)

    def check(self, source: str) -> None:
        """Refuse a source language the model cannot translate into this target (cached).

        Raises:
            UnsupportedLanguageError: The pair is not served (the message names the model).
        """
        if source not in self._checked:
            self.backend.check_languages("translate", source, self.target)
            self._checked.add(source)

    def request(self, text: str, source: str) -> Request:
        """The request for one unit: translate ``text`` from ``source`` to the target."""
        return Request("translate", text, source, self.target)

    def _limit(self, n_tokens: int, source: str) -> int:
        """Most new tokens for one unit; depends on the unit alone (its own tokens, not the
        prompt around them)."""
        if self.fixed_max_new:
            return min(int(self.fixed_max_new), self.cap)
        if source not in self._prompt:
            self._prompt[source] = self.backend.prompt_tokens(self.request("", source))
        n = max(1, n_tokens - self._prompt[source])
        return min(self.cap, LENGTH_FACTOR * n + LENGTH_SLACK)

    def _fit(self, sentence: str, source: str) -> list[str]:
        """The sentence, or its pieces when it is longer than the model's input."""
        n = self.backend.count_tokens([self.request(sentence, source)])[0]
        if n <= self.limit:
            return [sentence]
        pieces = split_long(sentence, max(8, len(sentence) * (self.limit // 2) // n))
        if len(pieces) == 1:
            return pieces
        return [p for piece in pieces for p in self._fit(piece, source)]

    def _units(self, paragraph: list[str], source: str) -> list[list[str]]:
        """A paragraph's units (each one alignment pair), as the pieces the model reads.

        Sentence units: each sentence, split further when longer than the model's input.
        Paragraph units: the whole paragraph, or runs of its sentences that each fit.
        """
        if self.unit == "sentence":
            return [self._fit(sentence, source) for sentence in paragraph]
        whole = join_sentences(paragraph, source)
        if self.backend.count_tokens([self.request(whole, source)])[0] <= self.limit:
            return [[whole]]
        units: list[list[str]] = []
        run: list[str] = []
        for sentence in paragraph:
            candidate = join_sentences([*run, sentence], source)
            if run and self.backend.count_tokens(
                    [self.request(candidate, source)])[0] > self.limit:
                units.append([join_sentences(run, source)])
                run = []
            run.append(sentence)
            if len(run) == 1 and self.backend.count_tokens(
                    [self.request(sentence, source)])[0] > self.limit:
                units.append(self._fit(sentence, source))
                run = []
        if run:
            units.append([join_sentences(run, source)])
        return units

    def translate_many(
        self,
        texts: list[str],
        stats: BatchStats,
        on_batch: Callable[[int], None] | None = None,
        on_work: Callable[[int], None] | None = None,
        source_langs: Sequence[str | None] | None = None,
    ) -> list[TranslationResult]:
        """Translate every text; sentences of all texts (per source language) share batches.

        Args:
            texts: Texts in their source language ("" gives "").
            stats: Accumulates batches and tokens.
            on_batch: Progress callback, items finished per batch.
            on_work: Called once with the number of unique sentences to translate.
            source_langs: Source language of each text (None: the default source).
        """
        langs = [lang or self.source_lang for lang in (source_langs or [None] * len(texts))]
        errors: list[Exception | None] = [None] * len(texts)
        # (text, paragraph, unit) -> pieces; pieces are what the model sees
        layout: list[list[list[list[str]]]] = []
        unique: dict[tuple[str, str], int] = {}
        for t, text in enumerate(texts):
            paragraphs: list[list[list[str]]] = []
            try:
                self.check(langs[t])
                for paragraph in segment_text(text, langs[t]):
                    units = self._units(paragraph, langs[t])
                    for pieces in units:
                        for piece in pieces:
                            unique.setdefault((langs[t], piece), len(unique))
                    paragraphs.append(units)
            except UsageError as exc:  # the model cannot read this text's language
                errors[t] = exc
                paragraphs = []
            except BaseException as exc:  # splitting or tokenizing this text: it fails alone
                errors[t] = item_error(exc, "splitting failed")
                paragraphs = []
            layout.append(paragraphs)
        keys = list(unique)
        outputs: list[str] = [""] * len(keys)
        hits = [False] * len(keys)
        scores: list[tuple[float, float] | None] = [None] * len(keys)
        failed: dict[int, Exception] = {}
        tokens = [0] * len(keys)
        if on_work:
            on_work(len(keys))
        for lang in dict.fromkeys(lang for lang, _ in keys):
            index = [k for k, (kl, _) in enumerate(keys) if kl == lang]
            inputs = [self.request(keys[k][1], lang) for k in index]
            lengths = self.backend.count_tokens(inputs)
            run = run_batched(list(zip(inputs, lengths, strict=True)), lengths, self.budget,
                              self._run, stats, on_batch)
            for j, k in enumerate(index):
                outputs[k], hits[k], tokens[k] = run.outputs[j], run.hit_limit[j], lengths[j]
                scores[k] = run.scores[j] if run.scores else None
                if j in run.failures:
                    failed[k] = run.failures[j]
        results: list[TranslationResult] = []
        for t, (text, paragraphs) in enumerate(zip(texts, layout, strict=True)):
            alignment: list[list[tuple[str, str]]] = []
            hit_limit: list[list[bool]] = []
            confidence: list[list[tuple[float, float] | None]] = []
            rendered: list[str] = []
            n_in = 0
            for paragraph in paragraphs:
                pairs = []
                para_hits = []
                para_conf = []
                for sentence_pieces in paragraph:
                    ks = [unique[(langs[t], p)] for p in sentence_pieces]
                    for k in ks:
                        if k in failed and errors[t] is None:
                            errors[t] = failed[k]
                    source = join_sentences(sentence_pieces, langs[t])
                    target = join_sentences([outputs[k] for k in ks], self.target)
                    n_in += sum(tokens[k] for k in ks)
                    pairs.append((source, target))
                    para_hits.append(any(hits[k] for k in ks))
                    para_conf.append(combine_scores([scores[k] for k in ks],
                                                    [tokens[k] for k in ks]))
                alignment.append(pairs)
                hit_limit.append(para_hits)
                confidence.append(para_conf)
                rendered.append(join_sentences([tr for _, tr in pairs], self.target))
            if errors[t] is not None:
                results.append(TranslationResult("", [], n_in, [], errors[t]))
                continue
            results.append(TranslationResult(join_paragraphs(rendered) if text else "",
                                             alignment, n_in, hit_limit, None, confidence))
        return results

    def _run(self, batch: list[tuple[Request, int]]) -> Generated:
        requests = [r for r, _ in batch]
        limits = [self._limit(n, r.source_lang) for r, n in batch]
        return self.backend.generate(requests, self.settings, limits)


def combine_scores(scores: Sequence[tuple[float, float] | None], weights: Sequence[int]
                   ) -> tuple[float, float] | None:
    """One (mean, min) for a sentence from those of its pieces; None if any piece has none.

    Args:
        scores: (mean, min) of each piece.
        weights: Each piece's weight (its input tokens).
    """
    if not scores or any(s is None for s in scores):
        return None
    known = [s for s in scores if s is not None]
    if len(known) == 1:
        return known[0]
    total = sum(max(1, w) for w in weights)
    mean = sum(s[0] * max(1, w) for s, w in zip(known, weights, strict=True)) / total
    return mean, min(s[1] for s in known)
