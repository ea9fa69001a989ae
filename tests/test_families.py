"""Every supported model family loads through the real code and runs end to end.

Tiny random-weight models of each family are built at test time; the assertions are about
structure (records written, language codes honoured, prefixes used), not wording.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.devtools.tinymodels import TINY_LAYERS
from tests import lang_tokenizers as lt
from tests import tiny_models
from tests.fakes import read_jsonl

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def family_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("families")


@pytest.fixture(scope="module")
def nllb(family_dir):
    return lt.build_tiny_model(lt.build_nllb_tokenizer(family_dir / "nllb"))


@pytest.fixture(scope="module")
def m2m(family_dir):
    return lt.build_tiny_model(lt.build_m2m100_tokenizer(family_dir / "m2m100"))


@pytest.fixture(scope="module")
def mbart50(family_dir):
    return lt.build_tiny_model(lt.build_mbart50_tokenizer(family_dir / "mbart50"))


@pytest.fixture(scope="module")
def madlad(family_dir):
    return lt.build_tiny_model(lt.build_t5_tokenizer(family_dir / "madlad"))


@pytest.mark.parametrize(
    ("builder", "lang", "code"),
    [("nllb", "ko", "kor_Hang"), ("m2m", "ja", "__ja__"), ("mbart50", "ko", "ko_KR"),
     ("madlad", "ko", "<2ko>")],
)
def test_translator_families_end_to_end(request, article_dir, tmp_path, builder, lang, code):
    model = request.getfixturevalue(builder)
    out = tmp_path / "out"
    config = tmp_path / "c.toml"
    config.write_text("[translator]\nmax_new_tokens = 6\n", encoding="utf-8")
    result = run_cli("batch", article_dir, "--out", out, "--no-summary", "--translate",
                     "article", "--translator", model, "--to", lang, "--config", config, "-q")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "results.jsonl")
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    for record in records:
        pairs = record["alignment"][lang]["article"]
        n_source = sum(len(p) for p in pairs)
        assert n_source >= 1  # every source sentence has a (possibly empty) translation
    stats = json.loads((out / "stats.json").read_text())
    assert stats["models"][0]["role"] == f"translator:{lang}"


@pytest.mark.parametrize("builder", ["nllb", "m2m", "mbart50"])
def test_language_the_model_lacks_is_refused_before_work(request, article_dir, tmp_path,
                                                         builder):
    model = request.getfixturevalue(builder)
    out = tmp_path / "out"
    result = run_cli("batch", article_dir, "--out", out, "--no-summary", "--translate",
                     "article", "--translator", model, "--to", "tlh")
    assert result.exit_code == 2
    assert "tlh" in result.stderr
    assert not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_text()


def _spm_summarizer(directory: Path, kind: str) -> Path:
    """A tiny T5 or PEGASUS summarizer with a sentencepiece tokenizer."""
    import torch
    from transformers import (
        PegasusConfig,
        PegasusForConditionalGeneration,
        PegasusTokenizer,
        T5Config,
        T5ForConditionalGeneration,
        T5Tokenizer,
    )

    directory.mkdir(parents=True, exist_ok=True)
    proto = lt.train_spm(pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    torch.manual_seed(0)
    if kind == "t5":
        (directory / "spiece.model").write_bytes(proto)
        tokenizer = T5Tokenizer.from_pretrained(directory, extra_ids=0, model_max_length=64)
        config = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                          num_decoder_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1,
                          decoder_start_token_id=0)
        model = T5ForConditionalGeneration(config)
    else:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_proto=proto)
        specials = ["<pad>", "</s>", "<unk>", "<mask_2>"]
        vocab = [(t, 0.0) for t in specials] + [
            (sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())
            if sp.id_to_piece(i) not in specials
        ]
        tokenizer = PegasusTokenizer(vocab=vocab, model_max_length=64)
        config = PegasusConfig(vocab_size=len(tokenizer) + 110, **TINY_LAYERS,
                               max_position_embeddings=64,
                               pad_token_id=tokenizer.pad_token_id,
                               eos_token_id=tokenizer.eos_token_id,
                               decoder_start_token_id=tokenizer.pad_token_id)
        model = PegasusForConditionalGeneration(config)
    model.generation_config.max_length = 12
    model.generation_config.min_new_tokens = 2
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _led_summarizer(directory: Path, bart: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LEDConfig, LEDForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(bart)
    torch.manual_seed(0)
    config = LEDConfig(vocab_size=len(tokenizer), **TINY_LAYERS,
                       max_encoder_position_embeddings=256, max_decoder_position_embeddings=64,
                       attention_window=[16])
    model = LEDForConditionalGeneration(config)
    model.generation_config.max_length = 12
    model.generation_config.min_new_tokens = 2
    model.save_pretrained(directory)
    tokenizer.model_max_length = 256
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("kind", ["t5", "pegasus", "led"])
def test_summarizer_families(kind, family_dir, article_dir, tmp_path, tiny_bart, tiny_marian):
    if kind == "led":
        model = _led_summarizer(family_dir / "led", tiny_bart)
    else:
        model = _spm_summarizer(family_dir / kind, kind)
    out = tmp_path / "out"
    result = run_cli("batch", article_dir, "--out", out, "--summarizer", model, "--translator",
                     tiny_marian, "-q")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "results.jsonl")
    assert all(r["status"] == "ok" and r["chunks"] >= 1 for r in records)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["models"][0]["family"] == {"t5": "t5", "pegasus": "pegasus", "led": "led"}[kind]


def test_t5_summarizer_gets_its_task_prefix(family_dir):
    from summarize.backends.hf_torch import load_backend
    from summarize.tasks.batching import TokenBudget
    from summarize.tasks.summarize import Summarizer

    model = _spm_summarizer(family_dir / "t5-prefix", "t5")
    backend = load_backend(str(model), role="summarizer", models_dir=family_dir / "none")
    task = Summarizer(backend, {}, TokenBudget(512))
    text, plan, first = backend._asked(task.request("The council met."))
    assert text == "summarize: The council met." and plan is None and first is None


def test_long_article_is_chunked_not_truncated(tmp_path, tiny_marian):
    """An article over the summarizer's input limit is cut into windows that all fit."""
    from summarize.backends.hf_torch import load_backend
    from summarize.tasks.batching import BatchStats, TokenBudget
    from summarize.tasks.summarize import Summarizer

    bart = tiny_models.build_bart(tmp_path / "bart64", max_positions=64)
    backend = load_backend(str(bart), role="summarizer", models_dir=tmp_path)
    seen: list[int] = []
    real = backend.generate

    def spy(texts, *args, **kwargs):
        seen.extend(backend.count_tokens(texts))
        return real(texts, *args, **kwargs)

    backend.generate = spy
    summarizer = Summarizer(backend, {"max_new_tokens": 4}, TokenBudget(512))
    text = " ".join(tiny_models.SENTENCES[:6]) * 3
    [res] = summarizer.summarize_many([text], BatchStats())
    assert res.chunks > 1
    assert max(seen) <= backend.max_input_tokens
    windows = summarizer.chunk(text)
    assert "".join(windows).replace(" ", "") == text.replace(" ", "")
