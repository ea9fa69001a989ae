"""``--backend auto`` (the default): CTranslate2 on a CPU for seq2seq models when it is
installed and honours the settings, else torch; the choice and its reason on the console and
in stats.json, and ``--backend NAME`` turns it off."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.run import engine_choice
from summarize.run.resume import settings_fingerprint
from summarize.settings import RoleConfig, RunConfig, validate_config

runner = CliRunner()


def _config(summarizer: Path | str, translator: Path | str, **kw) -> RunConfig:
    return validate_config(RunConfig(
        inputs=("x",), device=kw.pop("device", "cpu"),
        summarizer=RoleConfig(model=str(summarizer), settings=kw.pop("summary", {})),
        translator=RoleConfig(model=str(translator)), **kw))


@pytest.fixture()
def ct2_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find(name: str, *args):  # present whether or not this machine has it
        return object() if name == "ctranslate2" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find)


def test_seq2seq_models_on_a_cpu_take_ct2_when_installed(tiny_bart, tiny_marian, ct2_installed):
    config = _config(tiny_bart, tiny_marian)
    assert config.backend == "ct2"
    assert "CTranslate2 installed" in config.backend_choice and "int8" in config.backend_choice
    assert config.backend_options == {"quantization": "auto", "threads": 0}
    # the resolved engine is the resume key's: auto and an explicit ct2 share records
    explicit = _config(tiny_bart, tiny_marian, backend="ct2")
    assert settings_fingerprint(config) == settings_fingerprint(explicit)
    assert settings_fingerprint(config) != settings_fingerprint(
        _config(tiny_bart, tiny_marian, backend="torch"))


def test_without_ctranslate2_torch_says_how_to_get_it(tiny_bart, tiny_marian, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ctranslate2" else real(name, *a))
    config = _config(tiny_bart, tiny_marian)
    assert config.backend == "torch" and config.backend_options == {}
    assert "pip install 'summarize[ct2]'" in config.backend_choice


def test_chat_models_gpus_and_unhonoured_settings_keep_torch(
        tiny_bart, tiny_marian, tiny_chat, ct2_installed):
    chat = _config(tiny_bart, tiny_chat("qwen3"))
    assert chat.backend == "torch" and "qwen3 model" in chat.backend_choice
    gpu = _config(tiny_bart, tiny_marian, device="cuda")
    assert gpu.backend == "torch" and "device cuda" in gpu.backend_choice
    setting = _config(tiny_bart, tiny_marian, summary={"encoder_no_repeat_ngram_size": 3})
    assert setting.backend == "torch"
    assert "encoder_no_repeat_ngram_size" in setting.backend_choice


def test_asking_for_an_engine_turns_the_choice_off(tiny_bart, tiny_marian, ct2_installed):
    config = _config(tiny_bart, tiny_marian, backend="torch")
    assert config.backend == "torch" and config.backend_choice == "--backend torch (asked for)"
    # ct2's options are the auto choice's too; another engine's are refused
    with pytest.raises(Exception, match="quantization"):
        _config(tiny_bart, tiny_marian, backend="torch", backend_options={"quantization": "int8"})
    assert _config(tiny_bart, tiny_marian,
                   backend_options={"quantization": "int8"}).backend_options["quantization"] \
        == "int8"


def test_a_model_whose_family_is_not_at_hand_keeps_torch(tiny_bart, tmp_path, ct2_installed):
    assert engine_choice.model_family("someone/not-downloaded", tmp_path) is None
    assert engine_choice.model_family("Helsinki-NLP/opus-mt-en-de", tmp_path) == "marian"
    config = _config(tiny_bart, "someone/not-downloaded")
    assert config.backend == "torch" and "not known" in config.backend_choice


@pytest.mark.skipif(importlib.util.find_spec("ctranslate2") is None,
                    reason="needs ctranslate2 (the ct2 extra)")
def test_a_default_run_uses_ct2_and_says_why(tiny_bart, tiny_marian, article_dir, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(article_dir), "--out", str(out), "--summarizer",
                                 str(tiny_bart), "--translator", str(tiny_marian), "--to",
                                 "ko", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "engine: ct2: a CPU with CTranslate2 installed" in said
    assert any(line.startswith("engine: ct2") for line in result.output.splitlines())
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["backend"] == "ct2" and "CTranslate2 installed" in stats["backend_choice"]
    assert {m["engine"] for m in stats["models"]} == {"ct2"}
    assert stats["config"]["backend"] == "ct2"
