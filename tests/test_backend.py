"""The transformers backend: device and dtype rules, and batch-invariant greedy results."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from summarize.backends import Request
from summarize.backends import hf_torch as hf
from summarize.backends.hf_common import cut_outputs, end_ids
from summarize.errors import ConfigError
from summarize.run.pipeline import run_batch
from summarize.settings import RoleConfig, RunConfig
from tests.fakes import read_jsonl


def req(backend, texts) -> list[Request]:
    """The requests for ``texts``: summaries for a BART model, en->ko translations else."""
    if backend.info.family == "bart":
        return [Request("summarize", t) for t in texts]
    return [Request("translate", t, "en", "ko") for t in texts]


def cut(rows, limits, generation_config):
    return cut_outputs(rows, limits, end_ids(generation_config), generation_config.pad_token_id)


def test_dtype_rules(monkeypatch):
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda:0"), torch.device("mps")
    assert hf.select_dtype("auto", cpu, "bart") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert hf.select_dtype("auto", cuda, "bart") == torch.bfloat16
    assert hf.select_dtype("auto", cuda, "t5") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert hf.select_dtype("auto", cuda, "marian") == torch.float16
    assert hf.select_dtype("auto", cuda, "t5") == torch.float32  # T5 overflows in fp16
    assert hf.select_dtype("auto", mps, "mt5") == torch.float32
    assert hf.select_dtype("bfloat16", cpu, "bart") == torch.bfloat16
    with pytest.raises(ConfigError, match="float8"):
        hf.select_dtype("float8", cpu, "bart")


def test_device_rules():
    assert hf.select_device("cpu").type == "cpu"
    assert hf.select_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ConfigError, match="expected one of"):
        hf.select_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            hf.select_device("cuda:1")


def test_attention_preference():
    assert hf.attention_candidates(torch.device("cpu"), torch.float32) == ["sdpa", None]


def test_each_output_is_cut_to_its_own_limit(tiny_marian, tmp_path):
    backend = hf.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path)
    texts = ["The quick brown fox.", "Officials said on Monday."]
    settings = {"min_new_tokens": 8}
    together = backend.generate(req(backend, texts), settings, [3, 8])
    alone = [backend.generate(req(backend, [t]), settings, [n]).texts[0]
             for t, n in zip(texts, [3, 8], strict=True)]
    assert together.texts == alone
    assert together.output_tokens == 3 + 8


def _records(out: Path) -> dict[str, tuple]:
    return {
        r["id"]: (r["summary"], r["chunks"], r["translations"], r["alignment"])
        for r in read_jsonl(out / "results.jsonl")
    }


def test_results_identical_whatever_batch_size_group_size_or_order(tmp_path, tiny_bart,
                                                                   tiny_marian):
    """Greedy decoding: batching is an implementation detail, never visible in results."""
    src = tmp_path / "in"
    src.mkdir()
    from tests.tiny_models import SENTENCES

    rng = random.Random(7)
    for i in range(12):
        picked = rng.sample(SENTENCES[:6], k=rng.randint(1, 6))
        paragraphs = [" ".join(picked[:2]), " ".join(picked[2:])]
        (src / f"a{i:02d}.txt").write_text("\n\n".join(p for p in paragraphs if p), "utf-8")
    base = RunConfig(inputs=(str(src),), translate="both", models_dir=str(tmp_path),
                     summarizer=RoleConfig(model=str(tiny_bart), settings={"max_new_tokens": 6}),
                     translator=RoleConfig(model=str(tiny_marian),
                                           settings={"max_new_tokens": 5}))
    reference = None
    for i, (tokens, group) in enumerate([(100_000, 64), (16, 1), (48, 5), (256, 3)]):
        out = tmp_path / f"out{i}"
        inputs = base.inputs
        if i == 3:  # the same files in another order, under another folder name
            shuffled = tmp_path / "shuffled"
            shutil.copytree(src, shuffled)
            inputs = (str(shuffled),)
        result = run_batch(replace(base, inputs=inputs, out_dir=str(out), batch_tokens=tokens,
                                   group_size=group))
        assert result.exit_code == 0
        records = _records(out)
        assert len(records) == 12
        if reference is None:
            reference = records
        else:
            assert records == reference, f"batch_tokens={tokens} group_size={group}"


def _teacher_forced(backend, text: str, row: list[int], mask_eos_steps: int = 0) -> list[float]:
    """Log-probabilities of ``row`` (start token excluded) from one plain forward pass."""
    enc = backend.tokenizer([text], return_tensors="pt")
    start = backend.model.generation_config.decoder_start_token_id
    ids = torch.tensor([[start, *row]])
    with torch.inference_mode():
        logits = backend.model(**enc, decoder_input_ids=ids[:, :-1]).logits[0].float()
    logits = logits.clone()
    eos = backend.model.generation_config.eos_token_id
    logits[:mask_eos_steps, eos] = float("-inf")  # what min_new_tokens does to the choice
    logprobs = torch.log_softmax(logits, dim=-1)
    return [float(logprobs[i, tok]) for i, tok in enumerate(row)]


@pytest.mark.parametrize(("model", "settings", "masked"), [
    ("tiny_marian", {}, 0),
    ("tiny_bart", {"min_new_tokens": 0}, 0),
    ("tiny_bart", {"min_new_tokens": 3}, 3),
])
def test_scores_equal_a_teacher_forced_pass_and_do_not_depend_on_the_batch(
        model, settings, masked, request, tmp_path):
    path = request.getfixturevalue(model)
    backend = hf.load_backend(str(path), role="translator", models_dir=tmp_path,
                              device="cpu", dtype="float32")
    from tests.tiny_models import SENTENCES

    texts = SENTENCES[:5]
    limits = [6, 9, 12, 4, 10]
    together = backend.generate(req(backend, texts), settings, limits)
    assert together.scores is not None and len(together.scores) == len(texts)
    for text, limit, score in zip(texts, limits, together.scores, strict=True):
        alone = backend.generate(req(backend, [text]), settings, [limit])
        assert alone.scores[0] == pytest.approx(score, abs=1e-5)  # batch-invariant
        enc = backend.tokenizer([text], return_tensors="pt")
        out = backend.model.generate(**enc, **settings, max_new_tokens=limit, do_sample=False,
                                     forced_eos_token_id=None)
        rows, _, _ = cut(out.tolist(), [limit], backend.model.generation_config)
        expected = _teacher_forced(backend, text, rows[0], masked)
        assert score[0] == pytest.approx(sum(expected) / len(expected), abs=1e-4)
        assert score[1] == pytest.approx(min(expected), abs=1e-4)


def test_beam_scores_follow_the_chosen_beam(tiny_marian, tmp_path):
    backend = hf.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                              device="cpu", dtype="float32")
    from tests.tiny_models import SENTENCES

    texts = SENTENCES[:3]
    got = backend.generate(req(backend, texts), {"num_beams": 3}, [7, 7, 7])
    for text, score in zip(texts, got.scores, strict=True):
        enc = backend.tokenizer([text], return_tensors="pt")
        out = backend.model.generate(**enc, num_beams=3, max_new_tokens=7,
                                     forced_eos_token_id=None)
        rows, _, _ = cut(out.tolist(), [7], backend.model.generation_config)
        expected = _teacher_forced(backend, text, rows[0])
        assert score[0] == pytest.approx(sum(expected) / len(expected), abs=1e-4)
        assert score[1] == pytest.approx(min(expected), abs=1e-4)


def test_scores_can_be_turned_off(tiny_marian, tmp_path):
    backend = hf.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path)
    backend.return_scores = False
    assert backend.generate(req(backend, ["The quick brown fox."]), {}, [5]).scores is None


@pytest.mark.parametrize("settings", [{}, {"num_beams": 3}])
def test_ct2_scores_equal_torch_scores(tiny_marian, tmp_path, settings):
    ct2 = pytest.importorskip("summarize.backends.ct2")
    from tests.tiny_models import SENTENCES

    torch_b = hf.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                              device="cpu", dtype="float32")
    ct2_b = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                             device="cpu", quantization="float32", threads=1)
    texts, limits = SENTENCES[:4], [8, 10, 12, 5]
    a = ct2_b.generate(req(ct2_b, texts), settings, limits)
    b = torch_b.generate(req(torch_b, texts), settings, limits)
    assert a.texts == b.texts
    for x, y in zip(a.scores, b.scores, strict=True):
        assert x == pytest.approx(y, abs=1e-4)
    ct2_b.return_scores = False
    assert ct2_b.generate(req(ct2_b, texts), settings, limits).scores is None
    ct2_b.close()
