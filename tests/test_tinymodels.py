"""The tiny-model builders: the command line, the multilingual translator and the chat models.

Every model is built for real and loaded the way users' models are (the project's loader for
the translator, ``AutoModelForCausalLM``/``AutoTokenizer`` for the chat models). The published
chat templates and special tokens are read from ../shared (tests that need them skip without
it); the project's own templates are tested always.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.devtools import tinychat, tinymodels
from tests.conftest import CHAT_TEMPLATES, REPO
from tests.fakes import read_jsonl

LANGS = tinymodels.MULTILINGUAL_LANGUAGES
STD = [{"role": "system", "content": "You are a translator."},
       {"role": "user", "content": "Translate to Korean: Hello."}]
STRUCTURED = [{"role": "user", "content": [{"type": "text", "source_lang_code": "en",
                                            "target_lang_code": "ko", "text": "Hello."}]}]
# Text in several scripts, none of it changed by normalisation.
WORLD = "서울 시의회는 예산을 승인했다. 中文新闻 日本語のニュース Ünïcödé Ωμέγα عربى 🙂👍🏽 done"


def _messages(arch: str) -> list[dict]:
    return STRUCTURED if arch == "translategemma" else STD


# --- python -m summarize.devtools.tinymodels ------------------------------------------------


def test_help_prints_usage_and_builds_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        tinymodels.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m summarize.devtools.tinymodels")
    assert "--only KIND[,KIND]" in out
    for kind, (folder, _) in tinymodels.KINDS.items():
        assert kind in out and folder in out
    assert list(tmp_path.iterdir()) == []


def test_help_as_a_command_builds_nothing_and_imports_no_torch(tmp_path):
    code = ("import sys\nfrom summarize.devtools import tinymodels\n"
            "try:\n    tinymodels.main(['--help'])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip().endswith("exit 0 False"), result.stdout + result.stderr
    result = subprocess.run([sys.executable, "-m", "summarize.devtools.tinymodels", "-h"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "usage:" in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("only", ["nope", "BART", "bart,nope", ",", "chat", "opus-mt-en-ko"])
def test_unknown_kind_is_one_clear_error(tmp_path, capsys, only):
    with pytest.raises(SystemExit) as exit_info:
        tinymodels.main([str(tmp_path / "out"), "--only", only])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "unknown kind" in err and "choose from bart, marian, m2m, qwen3" in err
    assert not (tmp_path / "out").exists()


def test_dir_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        tinymodels.main([str(target), "--only", "m2m"])
    assert exit_info.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "x"


def test_only_builds_the_kinds_named(tmp_path, capsys):
    tinymodels.main([str(tmp_path), "--only", "m2m, qwen3,m2m"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat-qwen3", "m2m-multi"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("built ") and " s" in line for line in lines)


def test_default_build_keeps_the_documented_folders(tmp_path):
    tinymodels.main([str(tmp_path)])
    for name in ("bart", "opus-mt-en-ko", "m2m-multi", "chat-qwen3"):
        assert (tmp_path / name / "config.json").is_file()
        assert (tmp_path / name / "model.safetensors").is_file()


def test_build_kind_refuses_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="unknown kind 'gpt2'"):
        tinymodels.build_kind("gpt2", tmp_path)


# --- the multilingual translator ------------------------------------------------------------


@pytest.fixture(scope="module")
def m2m_backend(tiny_m2m):
    from summarize.backends.hf_torch import load_backend

    return load_backend(str(tiny_m2m), role="translator", models_dir=tiny_m2m / "no-store")


def test_m2m_plans_every_pair_both_ways(m2m_backend, tiny_m2m):
    from summarize.languages.families import detect_family, plan_target, supported_targets

    tokenizer, config = m2m_backend.tokenizer, m2m_backend.model.config
    assert detect_family(config, tokenizer) == "m2m100"
    assert set(LANGS) <= set(supported_targets(tokenizer, config))
    for source in LANGS:
        for target in LANGS:
            if source == target:
                continue
            plan = plan_target(tokenizer, config, target, source, str(tiny_m2m))
            assert plan.model_code == f"__{target}__"
            assert plan.forced_bos_token_id == tokenizer.convert_tokens_to_ids(f"__{target}__")
            assert plan.forced_bos_token_id < config.vocab_size
            assert plan.src_lang == source


def test_m2m_reads_any_script_without_unknown_tokens(m2m_backend):
    tokenizer = m2m_backend.tokenizer
    for text in [*tinymodels.MULTILINGUAL_SENTENCES, WORLD, "Ελληνικά και العربية ✈️"]:
        ids = tokenizer(text).input_ids
        assert tokenizer.unk_token_id not in ids, text
        assert tokenizer.decode(ids, skip_special_tokens=True) == text


@pytest.mark.parametrize(("source", "target"), [("de", "ko"), ("ko", "en"), ("ja", "es")])
def test_m2m_translates_readably_without_language_tokens_in_the_text(m2m_backend, source,
                                                                     target):
    import torch

    tokenizer, model = m2m_backend.tokenizer, m2m_backend.model
    tokenizer.src_lang = source
    text = tinymodels.MULTILINGUAL_SENTENCES[2 * LANGS.index(source)]
    enc = tokenizer([text], return_tensors="pt")
    lang_id = tokenizer.convert_tokens_to_ids(f"__{target}__")
    assert enc.input_ids[0, 0].item() == tokenizer.convert_tokens_to_ids(f"__{source}__")
    with torch.no_grad():
        out = model.generate(**enc, forced_bos_token_id=lang_id, max_new_tokens=12,
                             min_new_tokens=12)
    assert out[0, 1].item() == lang_id
    decoded = tokenizer.decode(out[0], skip_special_tokens=True)
    assert decoded.strip() and "__" not in decoded and "\ufffd" not in decoded


def test_mixed_folder_translates_with_the_multilingual_model(tiny_bart, tiny_m2m,
                                                             mixed_article_dir, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "c.toml"
    config.write_text("[translator]\nmax_new_tokens = 6\n[summarizer]\nmax_new_tokens = 6\n",
                      encoding="utf-8")
    result = CliRunner().invoke(app, [
        "batch", str(mixed_article_dir), "--out", str(out), "--summarizer", str(tiny_bart),
        "--translator", str(tiny_m2m), "--to", "ko,en", "--config", str(config), "-q",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "results.jsonl")
    assert {r["lang"] for r in records} == {"en", "ko", "de", "ja", "fr"}
    for record in records:
        assert record["status"] == "ok", record
        assert {"ko", "en"} - {record["lang"]} <= set(record["translations"]), record["id"]


# --- chat models ----------------------------------------------------------------------------

# What the published templates render for STD (STRUCTURED for TranslateGemma), as recorded in
# ../shared/data/chat_templates/README.md; Llama 3.2 with date_string="26 Jul 2024".
REAL_RENDER = {
    "qwen3": "<|im_start|>system\nYou are a translator.<|im_end|>\n<|im_start|>user\nTranslate "
             "to Korean: Hello.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    "gemma3": "<bos><start_of_turn>user\nYou are a translator.\n\nTranslate to Korean: Hello."
              "<end_of_turn>\n<start_of_turn>model\n",
    "llama": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
             "Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a translator.<|eot_id|>"
             "<|start_header_id|>user<|end_header_id|>\n\nTranslate to Korean: Hello.<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "gemma4": "<bos><|turn>system\nYou are a translator.<turn|>\n<|turn>user\nTranslate to "
              "Korean: Hello.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>",
    "translategemma": "<bos><start_of_turn>user\nYou are a professional English (en) to Korean "
                      "(ko) translator.",
}
OWN_RENDER = {
    **{arch: REAL_RENDER[arch] for arch in ("qwen3", "gemma3", "gemma4")},
    "llama": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a "
             "translator.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTranslate to "
             "Korean: Hello.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "translategemma": "<bos><start_of_turn>user\nTranslate this English (en) text into Korean "
                      "(ko). Answer with the Korean translation only.\n\n\nHello.<end_of_turn>\n"
                      "<start_of_turn>model\n",
}
ARCH_CLASS = {"qwen3": "Qwen3ForCausalLM", "gemma3": "Gemma3ForCausalLM",
              "llama": "LlamaForCausalLM", "gemma4": "Gemma4ForCausalLM",
              "translategemma": "Gemma3ForCausalLM"}
SPECIAL_TOKENS_FILE = {"qwen3": "Qwen--Qwen3-1.7B.special_tokens.json",
                       "gemma3": "google--gemma-3-1b-it.special_tokens.json",
                       "translategemma": "google--gemma-3-1b-it.special_tokens.json",
                       "llama": "meta-llama--Llama-3.2-3B-Instruct.special_tokens.json"}
ARCHS = tinychat.CHAT_ARCHS


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)


def _render(tokenizer, arch: str, **kwargs) -> str:
    if arch == "llama":
        kwargs.setdefault("date_string", "26 Jul 2024")
    return tokenizer.apply_chat_template(_messages(arch), tokenize=False,
                                         add_generation_prompt=True, enable_thinking=False,
                                         **kwargs)


def test_every_architecture_of_the_brief_is_built():
    assert set(ARCHS) == {"qwen3", "gemma3", "llama", "gemma4", "translategemma"}


@pytest.mark.parametrize("template", ["own", "real"])
@pytest.mark.parametrize("arch", ARCHS)
def test_chat_model_loads_renders_and_generates(tiny_chat, arch, template):
    import torch

    tokenizer, model = _load(tiny_chat(arch, template))
    assert type(model).__name__ == ARCH_CLASS[arch]
    family = tinychat.FAMILIES[arch]
    assert model.config.model_type == family.model_type
    assert model.config.max_position_embeddings == 4096
    prompt = _render(tokenizer, arch)
    expected = (OWN_RENDER if template == "own" else REAL_RENDER)[arch]
    assert prompt.startswith(expected) if arch == "translategemma" else prompt == expected
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    if tokenizer.bos_token_id is not None:  # the template writes the one BOS
        assert ids.input_ids[0].tolist().count(tokenizer.bos_token_id) == 1
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=8, min_new_tokens=8)
    new = out[0, ids.input_ids.shape[1]:].tolist()
    assert len(new) == 8
    assert "\ufffd" not in tokenizer.decode(new, skip_special_tokens=True)


@pytest.mark.parametrize("arch", ARCHS)
def test_generation_config_has_stop_ids_pad_and_greedy(tiny_chat, arch):
    tokenizer, model = _load(tiny_chat(arch))
    family = tinychat.FAMILIES[arch]
    gen = json.loads((tiny_chat(arch) / "generation_config.json").read_text("utf-8"))
    assert gen["do_sample"] is False
    assert tokenizer.convert_ids_to_tokens(gen["eos_token_id"]) == list(family.stop)
    assert tokenizer.convert_ids_to_tokens(gen["pad_token_id"]) == family.gen_pad
    assert model.generation_config.eos_token_id == gen["eos_token_id"]
    assert not set(gen["suppress_tokens"]) & set(gen["eos_token_id"])


@pytest.mark.parametrize("arch", sorted(SPECIAL_TOKENS_FILE))
def test_tokens_and_stop_ids_match_the_published_ones(tiny_chat, arch):
    path = CHAT_TEMPLATES / SPECIAL_TOKENS_FILE[arch]
    if not path.is_file():
        pytest.skip(f"not available: {path}")
    published = json.loads(path.read_text("utf-8"))
    names = dict(published.get("ids", {}))
    names.update({t["content"]: t["id"] for t in published.get("added_tokens", [])})
    by_id = {i: t for t, i in names.items()}
    tokenizer, model = _load(tiny_chat(arch))
    stop = [by_id[i] for i in published["generation_config"]["eos_token_id"]]
    assert tokenizer.convert_ids_to_tokens(model.generation_config.eos_token_id) == stop
    for key in ("bos_token", "eos_token", "pad_token"):
        assert getattr(tokenizer, key) == published["tokenizer_config"][key], key
    listed = published["tokenizer_config"].get("additional_special_tokens", [])
    assert set(listed) & set(tokenizer.added_tokens_encoder) <= set(tokenizer.all_special_tokens)
    published_special = {t["content"]: t["special"] for t in published.get("added_tokens", [])}
    for token in tinychat.FAMILIES[arch].trailing + tinychat.FAMILIES[arch].plain:
        ids = tokenizer(token, add_special_tokens=False).input_ids
        assert len(ids) == 1, token
        special = tokenizer.added_tokens_decoder[ids[0]].special
        assert special is published_special.get(token, True), token
        # Qwen3's <think> is not special (as published): skip_special_tokens keeps it.
        kept = token in tokenizer.decode(ids, skip_special_tokens=True)
        assert kept is not special, token


@pytest.mark.parametrize("arch", ARCHS)
def test_any_unicode_round_trips_without_unknown_tokens(tiny_chat, arch):
    tokenizer, _ = _load(tiny_chat(arch))
    ids = tokenizer(WORLD, add_special_tokens=False).input_ids
    assert tokenizer.unk_token_id is None or tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == WORLD
    for token in tinychat.FAMILIES[arch].trailing:  # template tokens stay single tokens
        assert tokenizer.convert_ids_to_tokens(
            tokenizer(f"a{token}b", add_special_tokens=False).input_ids).count(token) == 1


@pytest.mark.parametrize(("arch", "adds_bos"), [("qwen3", False), ("gemma3", True),
                                                ("llama", True), ("gemma4", True)])
def test_bos_behaviour_is_the_family_s(tiny_chat, arch, adds_bos):
    tokenizer, _ = _load(tiny_chat(arch))
    ids = tokenizer("Hello").input_ids
    assert (ids[0] == tokenizer.bos_token_id) is adds_bos
    if adds_bos:  # the published quirk: template BOS + tokenizer BOS = two
        prompt = _render(tokenizer, arch)
        assert tokenizer(prompt).input_ids[:2] == [tokenizer.bos_token_id] * 2


def test_qwen3_thinking_follows_enable_thinking(tiny_chat):
    tokenizer, _ = _load(tiny_chat("qwen3"))
    on = tokenizer.apply_chat_template(STD, tokenize=False, add_generation_prompt=True)
    off = tokenizer.apply_chat_template(STD, tokenize=False, add_generation_prompt=True,
                                        enable_thinking=False)
    assert on.endswith("<|im_start|>assistant\n") and off == on + "<think>\n\n</think>\n\n"


def test_gemma4_thinking_on_writes_the_think_token(tiny_chat):
    tokenizer, _ = _load(tiny_chat("gemma4"))
    on = tokenizer.apply_chat_template(STD, tokenize=False, add_generation_prompt=True,
                                       enable_thinking=True)
    assert on == ("<bos><|turn>system\n<|think|>You are a translator.<turn|>\n<|turn>user\n"
                  "Translate to Korean: Hello.<turn|>\n<|turn>model\n")


@pytest.mark.parametrize("template", ["own", "real"])
@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Hello."}],  # plain-string content
    [{"role": "system", "content": "Be brief."}, *STRUCTURED],  # a system turn
    [{"role": "user", "content": [{"type": "text", "source_lang_code": "en",
                                   "target_lang_code": "zh-CN", "text": "Hi."}]}],  # no such code
], ids=["string", "system", "zh-CN"])
def test_translategemma_refuses_what_the_published_template_refuses(tiny_chat, template,
                                                                    messages):
    import jinja2

    tokenizer, _ = _load(tiny_chat("translategemma", template))
    with pytest.raises(jinja2.TemplateError):
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@pytest.mark.parametrize("template", ["own", "real"])
def test_gemma3_folds_system_and_needs_alternating_roles(tiny_chat, template):
    import jinja2

    tokenizer, _ = _load(tiny_chat("gemma3", template))
    with pytest.raises(jinja2.TemplateError):
        tokenizer.apply_chat_template([{"role": "user", "content": "a"},
                                       {"role": "user", "content": "b"}], tokenize=False)


def test_a_model_without_template_has_none(tiny_chat):
    tokenizer, _ = _load(tiny_chat("qwen3", "none"))
    assert tokenizer.chat_template is None
    with pytest.raises(ValueError):
        tokenizer.apply_chat_template(STD, tokenize=False)


def test_bad_builder_arguments_write_nothing(tmp_path):
    with pytest.raises(ValueError, match="unknown chat architecture 'gpt2'"):
        tinychat.build_chat_model(tmp_path / "a", "gpt2")
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        tinychat.build_chat_model(tmp_path / "b", "qwen3", size="huge")
    with pytest.raises(FileNotFoundError):
        tinychat.build_chat_model(tmp_path / "c", "qwen3", template=tmp_path / "missing.jinja")
    assert list(tmp_path.iterdir()) == []


def test_a_published_vocabulary_size_is_filled_with_words(tmp_path):
    path = tinychat.build_chat_model(tmp_path / "llama", "llama", size={"vocab_size": 1500})
    tokenizer, model = _load(path)
    assert len(tokenizer) == model.config.vocab_size == 1500
    assert tokenizer.decode(tokenizer.convert_tokens_to_ids(["\u0120fill7"])) == " fill7"
    assert tokenizer("fill7", add_special_tokens=False).input_ids != [
        tokenizer.convert_tokens_to_ids("\u0120fill7")]  # text never encodes to a filler


def test_no_published_template_is_copied_into_the_repository():
    if not CHAT_TEMPLATES.is_dir():
        pytest.skip("../shared/data/chat_templates not available")
    lines = {line.strip() for path in CHAT_TEMPLATES.glob("*.jinja")
             for line in path.read_text("utf-8").splitlines() if len(line.strip()) >= 40}
    assert lines
    for path in [*REPO.glob("summarize/**/*"), *REPO.glob("tests/**/*")]:
        if path.suffix in {".py", ".jinja", ".json", ".md", ".txt", ".html"}:
            text = path.read_text("utf-8", errors="replace")
            assert not [line for line in lines if line in text], path


# --- greedy outputs do not depend on the batch (left padding) -------------------------------

TEXTS = ["Hi.", "The city council approved the new budget on Tuesday.",
         "시의회는 화요일에 새 예산안을 승인했다. 밤사이 폭우로 여러 마을이 물에 잠겼다.",
         "Der Stadtrat hat am Dienstag den neuen Haushalt beschlossen. 🙂 " * 3]


def _prompts(tokenizer, arch: str) -> list[str]:
    prompts = []
    for text in TEXTS:
        if arch == "translategemma":
            messages = [{"role": "user", "content": [{"type": "text", "source_lang_code": "de",
                                                      "target_lang_code": "ko", "text": text}]}]
        else:
            messages = [{"role": "system", "content": "Summarize."},
                        {"role": "user", "content": text}]
        prompts.append(tokenizer.apply_chat_template(messages, tokenize=False,
                                                     add_generation_prompt=True,
                                                     enable_thinking=False))
    return prompts


def _until_stop(row: list[int], stop: set[int]) -> list[int]:
    for i, token in enumerate(row):
        if token in stop:
            return row[:i + 1]
    return row


def _assert_batch_invariant(path, arch: str, attn: str, *, control: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=attn).eval()
    if tokenizer.pad_token is None:  # Llama 3 ships no pad token
        tokenizer.pad_token_id = model.generation_config.pad_token_id
    stop = set(model.generation_config.eos_token_id)
    prompts = _prompts(tokenizer, arch)
    alone = []
    with torch.no_grad():
        for prompt in prompts:
            enc = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
            out = model.generate(**enc, max_new_tokens=8)
            alone.append(_until_stop(out[0, enc.input_ids.shape[1]:].tolist(), stop))
        enc = tokenizer(prompts, add_special_tokens=False, return_tensors="pt", padding=True)
        assert len(set(enc.attention_mask.sum(1).tolist())) == len(prompts)  # all padded apart
        out = model.generate(**enc, max_new_tokens=8)
        batch = [_until_stop(row, stop) for row in out[:, enc.input_ids.shape[1]:].tolist()]
        assert batch == alone
        assert len({tuple(row) for row in alone}) > 1  # the outputs depend on the input
        if not control:
            return
        # The check can fail: with the padding attended to, padded rows change.
        attended = model.generate(input_ids=enc.input_ids,
                                  attention_mask=torch.ones_like(enc.attention_mask),
                                  max_new_tokens=8)
        unmasked = [_until_stop(row, stop)
                    for row in attended[:, enc.input_ids.shape[1]:].tolist()]
        assert unmasked != alone


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("arch", ARCHS)
def test_greedy_output_is_the_same_alone_and_in_a_left_padded_batch(tiny_chat, arch, attn):
    _assert_batch_invariant(tiny_chat(arch), arch, attn, control=attn == "sdpa")


@pytest.mark.parametrize("arch", ["gemma3", "gemma4"])
def test_batch_invariance_holds_with_a_window_shorter_than_the_prompts(tmp_path, arch):
    path = tinychat.build_chat_model(tmp_path / arch, arch, sliding_window=16)
    assert json.loads((path / "config.json").read_text("utf-8"))["sliding_window"] == 16
    _assert_batch_invariant(path, arch, "sdpa", control=False)
