"""Tests of summarize.languages: ISO codes -> each translation family's own target code."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import logging
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from summarize.backends import BackendInfo, Request
from summarize.backends.hf_common import Seq2SeqAsking
from summarize.errors import UnsupportedLanguageError
from summarize.languages import (
    LANGUAGES,
    MBART50_CODES,
    LangPlan,
    detect_family,
    language_name,
    normalize_lang,
    plan_target,
    supported_targets,
)
from tests.lang_tokenizers import (
    build_m2m100_tokenizer,
    build_marian_tokenizer,
    build_mbart50_tokenizer,
    build_nllb_tokenizer,
    build_t5_tokenizer,
    build_tiny_model,
)

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

BUILDERS = {
    "nllb": build_nllb_tokenizer,
    "m2m100": build_m2m100_tokenizer,
    "mbart50": build_mbart50_tokenizer,
    "opus-mt-en-mul": build_marian_tokenizer,
    "opus-mt-en-de": lambda d: build_marian_tokenizer(d, (), source_lang="en", target_lang="de"),
    "opus-mt-tc-big-en-ko": lambda d: build_marian_tokenizer(d, ()),
    "my-marian": lambda d: build_marian_tokenizer(d, ()),
    "madlad": build_t5_tokenizer,
    "t5": lambda d: build_t5_tokenizer(d, ()),
}


def _load(path: Path):
    from transformers import AutoConfig, AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoTokenizer.from_pretrained(path), AutoConfig.from_pretrained(path)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny tokenizer folder, built once per session."""
    root = tmp_path_factory.mktemp("lang_tokenizers")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="session")
def loaded(built: dict[str, Path]) -> dict[str, tuple]:
    """(tokenizer, config) for every built folder, loaded through the Auto classes."""
    return {name: _load(path) for name, path in built.items()}


# --- normalize_lang ---------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ko", "kor", "KO", "Kor", " ko ", "ko-KR", "kor_Hang", "ko_KR"])
def test_korean_spellings_normalize_alike(code: str) -> None:
    assert normalize_lang(code) == "ko"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh_cn", "zh"),
        ("zh-Hans", "zh"),
        ("zho", "zh"),
        ("cmn", "zh"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("cmn_Hant", "zh-Hant"),
        ("zho_Hant", "zh-Hant"),
        ("pt-BR", "pt"),
        ("por", "pt"),
        ("en-US", "en"),
        ("ger", "de"),
        ("deu", "de"),
        ("German", "de"),
        ("nb", "no"),
        ("nob", "no"),
        ("iw", "he"),
        ("fil", "tl"),
        ("ceb", "ceb"),
        ("arb", "ar"),
        ("pes_Arab", "fa"),
        (">>jpn<<", "ja"),
        ("__ja__", "ja"),
        ("<2ja>", "ja"),
        ("ary_Arab", "ary_Arab"),
    ],
)
def test_normalize_lang_forms(code: str, expected: str) -> None:
    assert normalize_lang(code) == expected


@pytest.mark.parametrize("code", ["xx", "tlh", "klingon", "abcd", "q", "", "   "])
def test_unknown_codes_are_refused_by_name(code: str) -> None:
    with pytest.raises(UnsupportedLanguageError) as info:
        normalize_lang(code)
    assert repr(code) in str(info.value)


def test_table_covers_shared_languages() -> None:
    shared = (
        "ar bg bn cs da de el en es et fa fi fr he hi hr hu id it ja ko lt lv ms nl no pl pt ro "
        "ru sk sl sr sv sw ta te th tl tr uk ur vi zh"
    ).split()
    codes = {lang.code for lang in LANGUAGES}
    assert set(shared) <= codes
    assert len(LANGUAGES) >= 60
    assert language_name("kor") == "Korean"


def test_table_codes_match_transformers_lists() -> None:
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES as M2M
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES as MB50
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NLLB

    assert list(MBART50_CODES) == list(MB50)
    assert {lang.mbart50 for lang in LANGUAGES if lang.mbart50} == set(MB50)
    assert {lang.nllb for lang in LANGUAGES if lang.nllb} <= set(NLLB)
    for code in M2M["m2m100"]:
        normalize_lang(code)  # every M2M100 code is a known language
    for code in NLLB:
        normalize_lang(code)  # every NLLB code is accepted (table or verbatim)
    for lang in LANGUAGES:  # canonical codes are fixed points
        assert normalize_lang(lang.code) == lang.code
        if lang.iso3:
            assert normalize_lang(lang.iso3) == lang.code


# --- detect_family ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("nllb", "nllb"),
        ("m2m100", "m2m100"),
        ("mbart50", "mbart50"),
        ("opus-mt-en-mul", "marian"),
        ("opus-mt-en-de", "marian"),
        ("madlad", "madlad"),
        ("t5", "t5"),
    ],
)
def test_detect_family(loaded: dict, name: str, family: str) -> None:
    tokenizer, config = loaded[name]
    assert detect_family(config, tokenizer) == family


def test_detect_family_from_vocab_when_class_is_generic(loaded: dict) -> None:
    """A tokenizer saved with a generic class is recognised by its language tokens."""
    nllb_tok, _ = loaded["nllb"]

    class Wrapped:  # duck-typed: no NLLB class name, NLLB vocab
        unk_token, unk_token_id = nllb_tok.unk_token, nllb_tok.unk_token_id

        def get_vocab(self) -> dict:
            return nllb_tok.get_vocab()

        def convert_tokens_to_ids(self, token: str) -> int:
            return nllb_tok.convert_tokens_to_ids(token)

    config = SimpleNamespace(model_type="m2m_100")
    assert detect_family(config, Wrapped()) == "nllb"
    assert plan_target(Wrapped(), config, "ko").model_code == "kor_Hang"
    plain = SimpleNamespace(get_vocab=lambda: {"hello": 0}, convert_tokens_to_ids=lambda t: 0)
    assert detect_family(SimpleNamespace(model_type="gpt2"), plain) == "generic"


# --- plan_target ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model_code", "prefix", "src_lang"),
    [
        ("nllb", "kor_Hang", "", "eng_Latn"),
        ("m2m100", "__ko__", "", "en"),
        ("mbart50", "ko_KR", "", "en_XX"),
        ("opus-mt-en-mul", ">>kor<<", "", None),
        ("madlad", "<2ko>", "", None),
    ],
)
def test_each_family_gets_its_korean_code(
    loaded: dict, name: str, model_code: str, prefix: str, src_lang: str | None
) -> None:
    tokenizer, config = loaded[name]
    plans = {plan_target(tokenizer, config, code) for code in ("ko", "kor", "KO")}
    assert len(plans) == 1  # ko / kor / KO map equally
    plan = plans.pop()
    assert plan.target == "ko"
    assert plan.model_code == model_code
    assert plan.prefix == prefix
    assert plan.src_lang == src_lang
    if src_lang is None:  # a tag that starts the input, put in by id
        assert plan.forced_bos_token_id is None
        assert plan.prefix_token_id == tokenizer.convert_tokens_to_ids(model_code)
    else:
        assert plan.forced_bos_token_id == tokenizer.convert_tokens_to_ids(model_code)
        assert plan.forced_bos_token_id != tokenizer.unk_token_id


def test_m2m100_forced_bos_matches_get_lang_id(loaded: dict) -> None:
    tokenizer, config = loaded["m2m100"]
    plan = plan_target(tokenizer, config, "ja", source="eng")
    assert plan.forced_bos_token_id == tokenizer.get_lang_id("ja")
    assert plan.src_lang == "en"


@pytest.mark.parametrize("name", ["nllb", "mbart50", "m2m100"])
def test_src_lang_is_applied_to_encoding(loaded: dict, name: str) -> None:
    tokenizer, config = loaded[name]
    plan = plan_target(tokenizer, config, "ko", source="en")
    tokenizer.src_lang = plan.src_lang
    ids = tokenizer(plan.prefix + "The quick fox").input_ids
    src_token = plan.src_lang if name != "m2m100" else f"__{plan.src_lang}__"
    assert ids[0] == tokenizer.convert_tokens_to_ids(src_token)


class _Asker(Seq2SeqAsking):
    """The seq2seq asking side over a tokenizer and config alone (no model)."""

    def __init__(self, tokenizer, config):
        from transformers import GenerationConfig

        self.tokenizer, self.config = tokenizer, config
        self.generation_config = GenerationConfig()
        self.info = BackendInfo(model_id="tiny", path="", revision=None, license=None,
                                family=config.model_type, engine="torch", device="cpu",
                                device_name="cpu", dtype="float32")
        self._init_asking("tiny", {})


@pytest.mark.parametrize("name", ["opus-mt-en-mul", "madlad"])
def test_prefix_reaches_the_encoder_as_one_token(loaded: dict, name: str) -> None:
    """The language tag is the encoder's first token, followed by the text exactly as the
    tokenizer reads a text alone: no word-start piece (``▁``) between them, whatever the
    tokenizer release does with a tag written as text (tokenizers 0.23 wrote ``['▁',
    '<2ja>', '▁', 'T', ...]`` for MADLAD's ``"<2ja> The quick fox"``)."""
    tokenizer, config = loaded[name]
    plan = plan_target(tokenizer, config, "ja")
    [ids], _ = _Asker(tokenizer, config)._ids([Request("translate", "The quick fox", "en",
                                                        "ja")])
    assert ids[0] == tokenizer.convert_tokens_to_ids(plan.model_code) == plan.prefix_token_id
    assert ids[1:] == tokenizer("The quick fox").input_ids
    assert tokenizer.unk_token_id not in ids[:2]


def test_marian_prefers_mandarin_script_codes(loaded: dict) -> None:
    tokenizer, config = loaded["opus-mt-en-mul"]
    assert plan_target(tokenizer, config, "zh").model_code == ">>cmn_Hans<<"
    assert plan_target(tokenizer, config, "zh-CN").model_code == ">>cmn_Hans<<"
    assert plan_target(tokenizer, config, "zh-TW").model_code == ">>cmn_Hant<<"
    assert plan_target(tokenizer, config, "de").model_code == ">>deu<<"


def test_madlad_traditional_chinese(loaded: dict) -> None:
    tokenizer, config = loaded["madlad"]
    assert plan_target(tokenizer, config, "zh-TW").model_code == "<2zh_Hant>"
    assert plan_target(tokenizer, config, "zh").model_code == "<2zh>"


def test_plain_t5_uses_task_prefix(loaded: dict) -> None:
    tokenizer, config = loaded["t5"]
    plan = plan_target(tokenizer, config, "deu")
    assert plan.prefix == "translate English to German: "
    assert plan.prefix + "Hi." == "translate English to German: Hi."
    with pytest.raises(UnsupportedLanguageError, match="'ko'.*de, fr, ro"):
        plan_target(tokenizer, config, "ko")
    with pytest.raises(UnsupportedLanguageError, match="source language 'fr'"):
        plan_target(tokenizer, config, "de", source="fr")


@pytest.mark.parametrize(
    "name", ["nllb", "m2m100", "mbart50", "opus-mt-en-mul", "madlad", "t5", "opus-mt-en-de"]
)
@pytest.mark.parametrize("code", ["xx", "tlh"])
def test_unknown_target_is_refused_naming_the_code(loaded: dict, name: str, code: str) -> None:
    tokenizer, config = loaded[name]
    with pytest.raises(UnsupportedLanguageError, match=repr(code)):
        plan_target(tokenizer, config, code)


def test_language_missing_from_nllb_vocab_is_refused(loaded: dict, built: dict) -> None:
    tokenizer, config = loaded["nllb"]  # only eng_Latn, kor_Hang, jpn_Jpan
    assert tokenizer.convert_tokens_to_ids("deu_Latn") == tokenizer.unk_token_id
    with pytest.raises(UnsupportedLanguageError) as info:
        plan_target(tokenizer, config, "de", model_name="models/tiny-nllb")
    message = str(info.value)
    assert "'de'" in message
    assert "models/tiny-nllb" in message
    assert "(nllb)" in message
    assert "en, ja, ko" in message


def test_unreadable_source_is_refused(loaded: dict) -> None:
    tokenizer, config = loaded["nllb"]
    with pytest.raises(UnsupportedLanguageError, match="source language 'fr'"):
        plan_target(tokenizer, config, "ko", source="fr")


def test_m2m100_and_mbart50_refuse_traditional_chinese(loaded: dict) -> None:
    for name in ("m2m100", "mbart50"):
        tokenizer, config = loaded[name]
        assert plan_target(tokenizer, config, "zh").target == "zh"
        with pytest.raises(UnsupportedLanguageError, match="'zh-Hant'"):
            plan_target(tokenizer, config, "zh-TW")


def test_token_beyond_model_vocab_is_refused(loaded: dict) -> None:
    tokenizer, config = loaded["mbart50"]
    small = SimpleNamespace(model_type="mbart", vocab_size=tokenizer.convert_tokens_to_ids("ko_KR"))
    with pytest.raises(UnsupportedLanguageError, match="'ko'"):
        plan_target(tokenizer, small, "ko")


def test_message_lists_at_most_twenty_codes(loaded: dict) -> None:
    tokenizer, config = loaded["m2m100"]
    with pytest.raises(UnsupportedLanguageError, match=r"\(\+80 more\)"):
        plan_target(tokenizer, config, "zh-Hant")


# --- single-target Marian ---------------------------------------------------------------


def test_single_target_marian_refuses_other_language(loaded: dict, built: dict) -> None:
    tokenizer, config = loaded["opus-mt-en-de"]
    plan = plan_target(tokenizer, config, "de")
    assert plan == LangPlan("marian", "de", None, "", None, None)
    with pytest.raises(UnsupportedLanguageError, match="'ko'.*translates into: de"):
        plan_target(tokenizer, config, "ko")


def test_single_target_marian_target_read_from_hub_name(loaded: dict) -> None:
    tokenizer, config = loaded["my-marian"]  # no target_lang, uninformative folder name
    name = "Helsinki-NLP/opus-mt-tc-big-en-ko"
    assert plan_target(tokenizer, config, "kor", model_name=name).target == "ko"
    with pytest.raises(UnsupportedLanguageError, match="opus-mt-tc-big-en-ko"):
        plan_target(tokenizer, config, "ja", model_name=name)
    cache = "/cache/models--Helsinki-NLP--opus-mt-en-de/snapshots/abc123"
    with pytest.raises(UnsupportedLanguageError, match="'ko'"):
        plan_target(tokenizer, config, "ko", model_name=cache)
    tok_ko, config_ko = loaded["opus-mt-tc-big-en-ko"]  # folder named like the hub model
    assert plan_target(tok_ko, config_ko, "ko").prefix == ""
    with pytest.raises(UnsupportedLanguageError):
        plan_target(tok_ko, config_ko, "de")


def test_single_target_marian_unknown_target_is_accepted_with_warning(
    loaded: dict, caplog: pytest.LogCaptureFixture
) -> None:
    tokenizer, config = loaded["my-marian"]
    with caplog.at_level(logging.WARNING, logger="summarize.languages"):
        plan = plan_target(tokenizer, config, "ko", model_name="acme/news-translator")
    assert plan.prefix == "" and plan.model_code is None
    assert "cannot tell" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="summarize.languages"):
        plan_target(tokenizer, config, "fr", model_name="Helsinki-NLP/opus-mt-en-ROMANCE")
    assert "cannot tell" in caplog.text


# --- supported_targets ------------------------------------------------------------------


def test_supported_targets(loaded: dict) -> None:
    def targets(name: str) -> list[str] | None:
        tokenizer, config = loaded[name]
        return supported_targets(tokenizer, config)

    assert targets("nllb") == ["en", "ja", "ko"]
    assert targets("opus-mt-en-mul") == ["de", "ja", "ko", "zh", "zh-Hant"]
    assert targets("madlad") == ["de", "en", "ja", "ko", "zh", "zh-Hant"]
    assert targets("t5") == ["de", "fr", "ro"]
    assert targets("opus-mt-en-de") is None
    assert len(targets("m2m100")) == 100
    assert len(targets("mbart50")) == 52
    assert all(normalize_lang(code) == code for code in targets("m2m100"))


def test_supported_targets_wmt21_m2m100(tmp_path: Path) -> None:
    tokenizer, config = _load(build_m2m100_tokenizer(tmp_path / "wmt21", language_codes="wmt21"))
    assert supported_targets(tokenizer, config) == ["cs", "de", "en", "ha", "is", "ja", "ru", "zh"]
    with pytest.raises(UnsupportedLanguageError, match="'ko'"):
        plan_target(tokenizer, config, "ko")


# --- the mapping reaches generation -----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lang_models")
    return {
        "m2m100": build_tiny_model(build_m2m100_tokenizer(root / "m2m100")),
        "nllb": build_tiny_model(build_nllb_tokenizer(root / "nllb")),
        "mbart50": build_tiny_model(build_mbart50_tokenizer(root / "mbart50")),
    }


@pytest.mark.parametrize(("name", "target"), [("m2m100", "ko"), ("nllb", "jpn"), ("mbart50", "ko")])
def test_forced_bos_reaches_generation(tiny_models: dict, name: str, target: str) -> None:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    path = tiny_models[name]
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    plan = plan_target(tokenizer, model.config, target, source="en", model_name=str(path))
    if plan.src_lang is not None:
        tokenizer.src_lang = plan.src_lang
    batch = tokenizer([plan.prefix + "The quick brown fox."], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=3, do_sample=False,
                             forced_bos_token_id=plan.forced_bos_token_id)
    assert out[0, 0].item() == model.config.decoder_start_token_id
    assert out[0, 1].item() == plan.forced_bos_token_id
    assert tokenizer.convert_ids_to_tokens(out[0, 1].item()) == plan.model_code


# --- import hygiene ---------------------------------------------------------------------


def test_module_does_not_import_torch_or_transformers() -> None:
    code = (
        "import sys, summarize.languages; "
        "bad = {'torch', 'transformers'} & set(sys.modules); "
        "print(*sorted(bad)); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
