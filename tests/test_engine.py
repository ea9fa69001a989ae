"""The two tasks over a deterministic backend: pooling, ordering, chunking, reassembly."""

from __future__ import annotations

import pytest

from summarize.backends import Request
from summarize.tasks.batching import BatchStats, TokenBudget
from summarize.tasks.summarize import Summarizer
from summarize.tasks.translate import Translator
from tests.fakes import FakeBackend

TEXTS = [
    "First sentence here. Second one follows! Is this the third?\n\nA new paragraph starts.",
    "",
    "Only one sentence.",
    "Repeated line. Repeated line. Another paragraph follows here.\n\nEnd.",
    "Dr. Smith met U.S. officials on Monday. They agreed on 3.5 percent.",
]


def _translate(texts, budget, target="ko"):
    backend = FakeBackend("translate")
    tr = Translator(backend, target, {}, TokenBudget(budget))
    return tr.translate_many(texts, BatchStats()), backend


@pytest.mark.parametrize("budget", [1, 3, 8, 64, 4096])
def test_translation_is_exact_and_independent_of_batch_size(budget):
    results, backend = _translate(TEXTS, budget)
    reference, _ = _translate(TEXTS, 10_000)
    assert [r.text for r in results] == [r.text for r in reference]
    assert results[0].text == (
        "<FIRST SENTENCE HERE.> <SECOND ONE FOLLOWS!> <IS THIS THE THIRD?>\n\n"
        "<A NEW PARAGRAPH STARTS.>"
    )
    assert results[1].text == ""
    assert results[2].text == "<ONLY ONE SENTENCE.>"
    # a repeated sentence is translated once but appears twice, in place
    assert results[3].text == (
        "<REPEATED LINE.> <REPEATED LINE.> <ANOTHER PARAGRAPH FOLLOWS HERE.>\n\n<END.>"
    )
    sent = [t for batch in backend.batches for t in batch]
    assert sent.count("Repeated line.") == 1


def test_translation_pools_sentences_across_texts():
    results, backend = _translate(TEXTS, 10_000)
    assert len(backend.batches) == 1  # every sentence of every text in one batch
    assert len(results) == len(TEXTS)


def test_alignment_pairs_every_source_sentence():
    results, _ = _translate(TEXTS[:1], 64)
    assert results[0].alignment == [
        [("First sentence here.", "<FIRST SENTENCE HERE.>"),
         ("Second one follows!", "<SECOND ONE FOLLOWS!>"),
         ("Is this the third?", "<IS THIS THE THIRD?>")],
        [("A new paragraph starts.", "<A NEW PARAGRAPH STARTS.>")],
    ]


def test_cjk_target_joins_without_spaces():
    results, _ = _translate(["One. Two."], 64, target="ja")
    assert results[0].text == "<ONE.><TWO.>"


def test_overlong_sentence_is_split_not_truncated():
    backend = FakeBackend("translate", max_input_tokens=8)
    long = "word " * 40 + "end."
    tr = Translator(backend, "ko", {}, TokenBudget(64))
    [res] = tr.translate_many([long.strip()], BatchStats())
    sent = [t for batch in backend.batches for t in batch]
    assert all(len(t.split()) + 1 <= 8 for t in sent)
    assert res.text.replace("<", "").replace(">", "").split() == long.upper().split()


def test_summary_chunks_long_article_and_merges():
    backend = FakeBackend("summarize", max_input_tokens=20, summary_words=4)
    summ = Summarizer(backend, {}, TokenBudget(1000))
    sentences = [f"Sentence number {i} has six words." for i in range(12)]
    short = "Short article with one sentence."
    results = summ.summarize_many([" ".join(sentences), short], BatchStats())
    long_res, short_res = results
    assert long_res.chunks > 1 and long_res.rounds >= 2
    assert short_res.chunks == 1 and short_res.rounds == 1
    assert short_res.text == "Short article with one"
    # every model input fits the model's limit: nothing was truncated
    for batch in backend.batches:
        assert all(len(t.split()) + 1 <= 20 for t in batch)
    # first round: all windows of all articles pooled into one batch
    assert len(backend.batches[0]) == long_res.chunks + 1


@pytest.mark.parametrize("budget", [1, 5, 1000])
def test_summaries_independent_of_batch_size(budget):
    texts = [" ".join(f"Item {i} sentence {j}." for j in range(i + 1)) for i in range(8)]
    ref = Summarizer(FakeBackend("summarize", max_input_tokens=16), {}, TokenBudget(10_000))
    got = Summarizer(FakeBackend("summarize", max_input_tokens=16), {}, TokenBudget(budget))
    assert [r.text for r in got.summarize_many(texts, BatchStats())] == [
        r.text for r in ref.summarize_many(texts, BatchStats())
    ]


def _score(text: str) -> tuple[float, float]:
    """A score that depends on the input alone: longer inputs are less sure."""
    n = len(text.split())
    return (-0.1 * n, -0.5 * n)


@pytest.mark.parametrize("budget", [1, 8, 4096])
def test_confidence_follows_every_sentence_whatever_the_batch(budget):
    backend = FakeBackend("translate", confidence=_score)
    results = Translator(backend, "ko", {}, TokenBudget(budget)).translate_many(
        TEXTS, BatchStats())
    for res in results:
        assert [len(p) for p in res.confidence] == [len(p) for p in res.alignment]
        for para, scores in zip(res.alignment, res.confidence, strict=True):
            for (src, _), score in zip(para, scores, strict=True):
                assert score == pytest.approx(_score(src))


def test_split_sentence_confidence_combines_its_pieces():
    backend = FakeBackend("translate", max_input_tokens=8, confidence=_score)
    long = ("word " * 40 + "end.").strip()
    translator = Translator(backend, "ko", {}, TokenBudget(64))
    [res] = translator.translate_many([long], BatchStats())
    pieces = translator._fit(long, "en")  # repeated pieces are translated once
    assert len(pieces) > 1
    weights = [len(p.split()) + 1 for p in pieces]
    mean = sum(_score(p)[0] * w for p, w in zip(pieces, weights, strict=True)) / sum(weights)
    assert res.confidence == [[pytest.approx((mean, min(_score(p)[1] for p in pieces)))]]


def test_summary_confidence_is_the_final_rounds():
    backend = FakeBackend("summarize", max_input_tokens=24, summary_words=4, confidence=_score)
    summarizer = Summarizer(backend, {}, TokenBudget(64))
    long = " ".join(f"Sentence number {i} is here." for i in range(30))
    short = "One short text."
    res_long, res_short = summarizer.summarize_many([long, short], BatchStats())
    assert res_short.confidence == _score(short)
    assert res_long.rounds > 1
    last_input = backend.batches[-1]  # the final round summarizes the merged partials
    assert res_long.confidence in [_score(t) for t in last_input]
    assert FakeBackend("summarize").generate([Request("summarize", "a b")], {}, [4]).scores is None
