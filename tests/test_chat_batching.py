"""The torch chat engine's CPU batching (shared prefixes cached, prompts prefilled one at a
time, rows decoded together): the same answers as one left-padded batch and as each prompt
alone, and the same texts whatever the token budget. No timing is asserted here; the
figures come from ``summarize bench --stage chat``."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarize.backends import Prompt, Request
from summarize.devtools import tinychat
from tests import tiny_models

PROMPTS = {"summarize": Prompt(), "translate": Prompt()}
SENTENCES = tiny_models.SENTENCES


def _backend(path: Path):
    from summarize.backends.hf_torch import load_backend

    return load_backend(str(path), role="translator", models_dir=path.parent, device="cpu",
                        prompts=PROMPTS)


def _requests() -> list[Request]:
    translate = [Request("translate", s, "en", "ko") for s in SENTENCES[:5]]
    translate.append(Request("translate", SENTENCES[0], "en", "de"))  # another instruction
    summarize = [Request("summarize", " ".join(SENTENCES[i:i + 3]), "en", "en", title)
                 for i, title in ((0, ""), (2, "A title"), (4, ""))]
    return [*translate, *summarize, Request("translate", "Yes.", "en", "ko")]


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory):
    """Gemma 3 and Gemma 4 with sliding windows shorter than the prompts."""
    root = tmp_path_factory.mktemp("windowed")
    return {arch: tinychat.build_chat_model(root / arch, arch, sliding_window=16)
            for arch in ("gemma3", "gemma4")}


@pytest.mark.parametrize("rows", [16, 2])  # prefilled together after their prefix, by 16 or 2
@pytest.mark.parametrize("arch", ["qwen3", "llama", "gemma3", "gemma4", "gemma3-window",
                                  "gemma4-window"])
def test_rows_path_answers_as_one_padded_batch_and_as_each_prompt_alone(
        tiny_chat, windowed, arch, rows, monkeypatch):
    from summarize.backends import chat_batching

    monkeypatch.setattr(chat_batching, "PREFILL_ROWS", rows)
    path = windowed[arch.split("-")[0]] if arch.endswith("window") else tiny_chat(arch)
    backend = _backend(path)
    assert backend._rows_ok
    requests = _requests()
    settings = {"num_beams": 1, "do_sample": False}
    limits = [10 + i % 3 for i in range(len(requests))]  # each row its own limit
    results = {}
    for mode in ("batch", "rows"):
        backend.prefill = mode
        together = backend.generate(requests, settings, limits)
        alone = [backend.generate([r], settings, [n]) for r, n in zip(requests, limits,
                                                                         strict=True)]
        results[mode] = together
        assert together.texts == [g.texts[0] for g in alone]
        assert together.output_tokens == sum(g.output_tokens for g in alone)
        assert together.input_tokens == sum(g.input_tokens for g in alone)
    assert results["rows"].texts == results["batch"].texts
    assert results["rows"].hit_limit == results["batch"].hit_limit
    for a, b in zip(results["rows"].scores, results["batch"].scores, strict=True):
        assert a == pytest.approx(b, abs=1e-3)
    assert len(set(results["rows"].texts)) > 3  # the answers depend on the prompts
    # every request of a task and language pair shares its instruction: computed once each
    # (and fetched once per call that has such requests)
    assert backend._prefixes.misses == 3 and backend._prefixes.hits >= len(requests)


def test_cpu_uses_the_rows_path_and_beam_search_the_padded_batch(tiny_chat, monkeypatch):
    from summarize.backends import chat_torch

    backend = _backend(tiny_chat("qwen3"))
    calls: list[int] = []
    real = chat_torch.prefill_and_decode

    def spy(model, rows, *args, **kwargs):
        calls.append(len(rows))
        return real(model, rows, *args, **kwargs)

    monkeypatch.setattr(chat_torch, "prefill_and_decode", spy)
    requests = _requests()[:3]
    greedy = backend.generate(requests, {"num_beams": 1}, [6] * 3)
    assert calls == [3]
    beams = backend.generate(requests, {"num_beams": 2}, [6] * 3)
    assert calls == [3] and len(beams.texts) == 3
    backend.prefill = "batch"
    assert backend.generate(requests, {"num_beams": 1}, [6] * 3).texts == greedy.texts
    assert calls == [3]


def test_sampling_runs_on_the_rows_path(tiny_chat):
    backend = _backend(tiny_chat("llama"))
    requests = _requests()[:4]
    out = backend.generate(requests, {"do_sample": True, "top_k": 5}, [6] * 4)
    assert len(out.texts) == 4 and out.output_tokens > 0


def test_engine_texts_do_not_depend_on_the_token_budget(tiny_chat):
    """The same articles summarized and translated with a budget that puts every request in
    a batch of its own, and with one that puts a whole round in one batch."""
    import summarize

    path = str(tiny_chat("qwen3"))
    texts = [" ".join(SENTENCES[i:i + 4]) for i in range(0, 8, 2)]
    texts.append(SENTENCES[0] + "\n\n" + SENTENCES[3])
    results = []
    for tokens in (16, 100_000):  # 16: every prompt is longer, so alone
        with summarize.load(summarizer=path, translator=path, to="de",
                            batch_tokens=tokens) as models:
            summaries = [s.text for s in models.summarize(texts, lang="en")]
            translations = [t.text for t in models.translate(texts, to="de", lang="en")]
        assert all(summaries) and all(translations)
        results.append((summaries, translations))
    assert results[0] == results[1]


def test_common_prefix_and_the_prefix_cache_evicts_the_oldest(tiny_chat):
    from summarize.backends.chat_batching import PrefixCache, common_prefix

    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([7, 8], [7, 8]) == 2
    backend = _backend(tiny_chat("qwen3"))
    config = backend.model.config
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 4
    cache = PrefixCache(backend.model, max_bytes=25 * per_token)
    a, b = tuple(range(1, 13)), tuple(range(2, 14))
    first = cache.get(a)
    assert len(first) == config.num_hidden_layers
    assert first[0][0].shape[2] == len(a)  # keys: (batch 1, heads, tokens, head dim)
    assert cache.get(a) is first and cache.hits == 1
    cache.get(b)
    cache.get(a)  # a used last: b is now the least recently used
    cache.get(tuple(range(3, 15)))  # 36 tokens held > 25: the least recently used goes
    assert b not in cache._entries and a in cache._entries
    huge = PrefixCache(backend.model, max_bytes=1)
    huge.get(a)
    huge.get(b)
    assert list(huge._entries) == [b]  # the last one used stays, whatever its size
    cache.clear()
    assert not cache._entries


def test_models_with_shared_or_unknown_cache_layers_take_the_padded_batch():
    from types import SimpleNamespace

    from summarize.backends.chat_batching import supported

    assert not supported(SimpleNamespace(config=object()))


def test_cpu_budget_follows_the_cache_size_and_the_user_setting_wins(tiny_chat):
    import torch
    from transformers import LlamaConfig, Qwen3Config

    from summarize.backends.chat_torch import (
        CPU_BATCH_TOKENS,
        CPU_KV_BYTES,
        cpu_batch_tokens,
        kv_bytes_per_token,
    )
    from summarize.devtools.tinychat import CHAT_SHAPES
    from summarize.run.models import budget_for
    from summarize.settings import RoleConfig, RunConfig

    def config(cls, size):
        shape = {k: v for k, v in CHAT_SHAPES[size].items() if k != "vocab_size"}
        return cls(**shape)

    small = config(LlamaConfig, "smollm2-135m")  # 30 layers x 3 KV heads x 64
    assert kv_bytes_per_token(small, torch.float32) == 2 * 30 * 3 * 64 * 4
    assert kv_bytes_per_token(small, torch.bfloat16) == 2 * 30 * 3 * 64 * 2
    assert cpu_batch_tokens(small, torch.float32) == CPU_KV_BYTES // (2 * 30 * 3 * 64 * 4)
    larger = config(Qwen3Config, "qwen3-0.6b")  # a 5x larger cache per token
    assert cpu_batch_tokens(larger, torch.float32) < cpu_batch_tokens(small, torch.float32)
    tiny = _backend(tiny_chat("qwen3"))
    assert tiny.default_batch_tokens == CPU_BATCH_TOKENS[1]  # bounded
    path = str(tiny_chat("qwen3"))
    run = RunConfig(inputs=("-",), summarizer=RoleConfig(model=path))
    assert budget_for(run, tiny).tokens == CPU_BATCH_TOKENS[1]
    assert budget_for(RunConfig(inputs=("-",), batch_tokens=777), tiny).tokens == 777


def test_repetition_penalty_leaves_the_padding_out():
    """A left-padded row is penalised as the same prompt alone (the stock processor also
    penalises the pad id, a stop token for Qwen, so padded rows stopped less often)."""
    import torch
    from transformers import RepetitionPenaltyLogitsProcessor

    from summarize.backends.chat_torch import OwnTokensPenalty

    pad, vocab = 7, 12
    scores = torch.linspace(-3, 3, vocab).repeat(2, 1)
    alone = torch.tensor([[3, 5, 3]])
    batch = torch.tensor([[pad, pad, 3, 5, 3], [1, 2, 4, 6, 8]])
    stock = RepetitionPenaltyLogitsProcessor(1.5)(alone, scores[:1].clone())
    ours = OwnTokensPenalty(1.5, [2, 0])(batch, scores.clone())
    assert torch.equal(ours[0], stock[0])  # the pad's score is left alone
    assert not torch.equal(RepetitionPenaltyLogitsProcessor(1.5)(batch, scores.clone())[0],
                           stock[0])  # what the stock processor did to the padded row
    # beams: each request's rows repeat its start
    beams = OwnTokensPenalty(1.5, [2, 0])(batch.repeat_interleave(2, 0),
                                          scores.repeat_interleave(2, 0).clone())
    assert torch.equal(beams[0], stock[0]) and torch.equal(beams[1], stock[0])


@pytest.mark.parametrize("path", ["rows", "batch"])
def test_a_repetition_penalty_gives_each_prompt_its_answer_alone(tiny_chat, path):
    backend = _backend(tiny_chat("qwen3"))
    backend.prefill = path
    requests = _requests()
    settings = {"num_beams": 1, "do_sample": False, "repetition_penalty": 1.3}
    together = backend.generate(requests, settings, [8] * len(requests))
    alone = [backend.generate([r], settings, [8]).texts[0] for r in requests]
    assert together.texts == alone
