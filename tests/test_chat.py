"""Chat models through their own templates: each published quirk handled, the whole CLI on a
mixed folder, and the same records whatever the batch (tiny random chat models built at
test time; the published templates are read from ../shared and those tests skip without it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.backends import Prompt, Request
from summarize.backends.hf_torch import load_backend
from summarize.cli import app
from summarize.errors import ConfigError, ModelLoadError, UnsupportedLanguageError
from summarize.run.pipeline import run_batch
from summarize.settings import RoleConfig, RunConfig
from tests.fakes import read_jsonl

runner = CliRunner()
BOTH = {"summarize": Prompt(), "translate": Prompt()}
EN_KO = Request("translate", "The council met on Monday.", "en", "ko")
SUMMARY = Request("summarize", "The council met on Monday. It approved the budget.", "en", "en",
                  "Budget")


def _load(path: Path, prompts=None, role: str = "translator"):
    return load_backend(str(path), role=role, models_dir=path.parent / "none", device="cpu",
                        dtype="float32", prompts=BOTH if prompts is None else prompts)


# --- each published quirk ----------------------------------------------------------------------


def test_qwen3_thinking_is_off_and_a_stray_thought_is_removed(tiny_chat):
    backend = _load(tiny_chat("qwen3", "real"))
    prompt = backend.render(EN_KO)
    # enable_thinking=False pre-fills an empty thought; the answer starts after it
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert prompt.startswith("<|im_start|>system\nYou are a professional news translator.")
    assert backend.clean("<think>the user wants Korean</think>\n\n의회가 만났다.<|im_end|>") == \
        "의회가 만났다."
    assert backend.clean("<think>unfinished thought that ran out of tokens") == ""


def test_gemma_folds_the_system_text_into_the_user_turn(tiny_chat):
    backend = _load(tiny_chat("gemma3", "real"))
    prompt = backend.render(EN_KO)
    assert "<start_of_turn>system" not in prompt
    assert prompt.startswith("<bos><start_of_turn>user\nYou are a professional news translator."
                             "\n\nTranslate the text below from English to Korean.")
    assert prompt.endswith("<start_of_turn>model\n")


def test_a_template_that_refuses_a_system_turn_gets_it_in_the_user_turn(tiny_chat, tmp_path):
    strict = tmp_path / "strict.jinja"
    strict.write_text(
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('no system role') }}{% endif %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", "utf-8")
    backend = _load(tiny_chat("qwen3"), {"translate": Prompt(chat_template=str(strict))})
    prompt = backend.render(EN_KO)
    assert prompt.startswith("<|im_start|>user\nYou are a professional news translator.\n\n"
                             "Translate the text below")


def test_one_bos_when_the_template_writes_it(tiny_chat):
    for arch in ("gemma3", "llama"):
        backend = _load(tiny_chat(arch, "real"))
        [ids] = backend._ids([EN_KO])
        bos = backend.tokenizer.bos_token_id
        assert ids[0] == bos and ids[1] != bos, arch
        assert ids.count(bos) == 1, arch


def test_llama_prompts_do_not_change_with_the_day(tiny_chat):
    backend = _load(tiny_chat("llama", "real"))
    prompt = backend.render(EN_KO)
    assert "Today Date: 01 Jan 2026" in prompt  # a fixed date, not today's


def test_stop_tokens_come_from_the_generation_config_and_the_template(tiny_chat):
    tok = lambda b, t: b.tokenizer.convert_tokens_to_ids(t)  # noqa: E731
    qwen = _load(tiny_chat("qwen3", "real"))
    assert {tok(qwen, "<|im_end|>"), tok(qwen, "<|endoftext|>")} <= set(qwen._stops)
    gemma = _load(tiny_chat("gemma3", "real"))
    assert {tok(gemma, "<end_of_turn>"), tok(gemma, "<eos>")} <= set(gemma._stops)
    llama = _load(tiny_chat("llama", "real"))
    assert {tok(llama, "<|eot_id|>"), tok(llama, "<|eom_id|>"),
            tok(llama, "<|end_of_text|>")} <= set(llama._stops)


def test_translategemma_gets_its_structured_content_and_codes(tiny_chat):
    backend = _load(tiny_chat("translategemma", "real"), {"translate": Prompt()})
    assert backend.translation_only
    prompt = backend.render(Request("translate", "Hello.", "en", "zh"))
    assert "English (en)" in prompt and "Chinese" in prompt and "Hello." in prompt
    # no instruction of ours: the template writes its own
    assert "professional news translator" not in prompt
    [message] = backend.messages(Request("translate", "Hi", "en", "zh-Hant"))
    assert message["content"][0]["target_lang_code"] in ("zh-Hant", "zh-TW")
    assert message["content"][0]["source_lang_code"] == "en"
    with pytest.raises(UnsupportedLanguageError, match="only translates"):
        backend.check_languages("summarize", "en", "en")


def test_translategemma_is_refused_as_a_summarizer(tiny_chat):
    with pytest.raises(ModelLoadError, match="use it as --translator"):
        _load(tiny_chat("translategemma", "real"), {"summarize": Prompt()}, role="summarizer")


def test_a_model_without_a_chat_template_is_refused_with_how_to_give_one(tiny_chat):
    with pytest.raises(ModelLoadError) as err:
        _load(tiny_chat("qwen3", "none"))
    message = str(err.value)
    assert "no chat template" in message and "chat_template" in message
    assert "\n" not in message


def test_own_prompt_and_system_from_the_config_are_used(tiny_chat):
    prompts = {"summarize": Prompt(system="Be brief.", sentences=2,
                                   template="Summary in {target_name} ({sentences}): {text}")}
    backend = _load(tiny_chat("qwen3"), prompts, role="summarizer")
    prompt = backend.render(SUMMARY)
    assert "Be brief." in prompt and "Summary in English (2): The council met" in prompt


def test_input_limits_leave_room_for_the_answer(tiny_chat):
    backend = _load(tiny_chat("qwen3"))
    context = backend._context
    assert backend.input_limit("summarize", 256) == min(8192, context - 256)
    assert backend.input_limit("translate", 1024) == min(1024, context - 1024)
    with pytest.raises(ConfigError, match="context window"):
        _load(tiny_chat("qwen3"), {"translate": Prompt(max_input_tokens=context)})


def test_answers_do_not_depend_on_their_batch_mates(tiny_chat):
    backend = _load(tiny_chat("qwen3"))
    requests = [Request("translate", t, "en", "ko") for t in (
        "The council met on Monday.", "Rain fell.",
        "Officials said the talks on the new budget would continue next week.")]
    together = backend.generate(requests, {}, [12, 6, 20])
    for request, limit, text, score in zip(requests, [12, 6, 20], together.texts,
                                           together.scores, strict=True):
        alone = backend.generate([request], {}, [limit])
        assert alone.texts == [text]
        assert alone.scores[0] == pytest.approx(score, abs=1e-4)


# --- the whole CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "template"), [("qwen3", "own"), ("gemma3", "real"),
                                                ("llama", "real"), ("qwen3", "real"),
                                                ("gemma4", "real")])
def test_chat_model_summarizes_and_translates_a_mixed_folder(tiny_chat, mixed_article_dir,
                                                             tmp_path, arch, template):
    model = tiny_chat(arch, template)
    out = tmp_path / "out"
    config = tmp_path / "chat.toml"  # short answers: random weights write noise anyway
    config.write_text("[summarizer]\nmax_new_tokens = 10\n[translator]\nmax_new_tokens = 12\n",
                      "utf-8")
    result = runner.invoke(app, [
        "batch", str(mixed_article_dir), "--out", str(out), "--summarizer", str(model),
        "--translator", str(model), "--to", "ko,en", "--translate", "both", "-q",
        "--config", str(config)])
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "results.jsonl")
    assert records and all(r["status"] == "ok" for r in records), records
    by_lang = {r["lang"]: r for r in records}
    assert {"en", "ko", "de"} <= set(by_lang)
    # every article is summarized in its own language, no pivot through English
    assert all(r["routes"]["summary"] == "direct" for r in records)
    assert by_lang["ko"]["translations"]["ko"]["article"] == by_lang["ko"]["text"]  # copied
    assert by_lang["de"]["routes"]["ko.summary"] == str(model)
    stats = json.loads((out / "stats.json").read_text())
    # one model for both roles, loaded once
    assert {m["model_id"] for m in stats["models"]} == {str(model)}
    assert stats["models"][0]["family"] in (arch, f"{arch}_text", "gemma3_text", "gemma4_text")
    # nothing of the template leaks into the outputs
    for r in records:
        for text in [r["summary"], *(p for parts in r["translations"].values()
                                     for p in parts.values())]:
            assert "<|im_end|>" not in text and "<end_of_turn>" not in text
            assert "<think>" not in text and "<|eot_id|>" not in text
    assert (out / "index.html").is_file()


def test_chat_records_are_the_same_whatever_the_budget(tiny_chat, mixed_article_dir, tmp_path):
    model = tiny_chat("qwen3")
    outs = []
    for budget in (64, 100_000):
        out = tmp_path / f"out{budget}"
        result = run_batch(RunConfig(
            inputs=(str(mixed_article_dir),), out_dir=str(out), targets=("ko",),
            translate="both", batch_tokens=budget,
            summarizer=RoleConfig(model=str(model), settings={"max_new_tokens": 12}),
            translator=RoleConfig(model=str(model), settings={"max_new_tokens": 16})))
        assert result.exit_code == 0
        outs.append({r["id"]: (r["summary"], r["translations"], r["alignment"])
                     for r in read_jsonl(out / "results.jsonl")})
    assert outs[0] == outs[1]


def test_editing_the_chat_template_file_recomputes_the_articles(tmp_path):
    """The prompts are part of the resume key: the prompt settings, the model's files (its
    own template) and a chat_template file's content."""
    from summarize.run.resume import settings_fingerprint

    template = tmp_path / "t.jinja"
    template.write_text("{{ messages[0]['content'] }}", "utf-8")
    base = RunConfig(inputs=("x",), summarizer=RoleConfig(
        model="m", settings={"chat_template": str(template)}))
    before = settings_fingerprint(base)
    template.write_text("{{ messages[-1]['content'] }}", "utf-8")
    assert settings_fingerprint(base) != before
    prompts = [RoleConfig(model="m", settings={"system": "Be brief."}),
               RoleConfig(model="m", settings={"prompt": "Sum up: {text}"}),
               RoleConfig(model="m", settings={"sentences": 2})]
    keys = {settings_fingerprint(RunConfig(inputs=("x",), summarizer=r)) for r in prompts}
    assert len(keys) == 3
