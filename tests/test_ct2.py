"""The CTranslate2 backend: conversion store, crash safety, settings, and equality with torch.

With float32 weights and greedy decoding CTranslate2 must give, text for text, what the
torch backend gives on the same tiny random models (same tokenizer, same limits).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from summarize.backends import Request, ct2, ct2_convert  # noqa: E402
from summarize.backends import hf_torch as hf  # noqa: E402
from summarize.errors import ConfigError, ModelLoadError  # noqa: E402
from tests import lang_tokenizers as lt  # noqa: E402
from tests import tiny_models  # noqa: E402
from tests.fakes import read_jsonl  # noqa: E402

TEXTS = tiny_models.SENTENCES[:6]


def asks(texts, target: str | None = "ko", source: str = "en") -> list[Request]:
    """Translation requests into ``target``, or summary requests when it is None."""
    if target is None:
        return [Request("summarize", t) for t in texts]
    return [Request("translate", t, source, target) for t in texts]
GREEDY = {"num_beams": 1, "do_sample": False}
LIMITS = [8, 10, 12, 5, 9, 12]


@pytest.fixture(scope="module")
def fam(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ct2_families")


def _build(kind: str, root: Path) -> Path:
    path = root / kind
    if (path / "config.json").is_file() and any(path.glob("*.safetensors")):
        return path
    if kind == "nllb":
        return lt.build_tiny_model(lt.build_nllb_tokenizer(path))
    if kind == "m2m100":
        return lt.build_tiny_model(lt.build_m2m100_tokenizer(path))
    if kind == "mbart50":
        return lt.build_tiny_model(lt.build_mbart50_tokenizer(path))
    if kind == "madlad":
        return lt.build_tiny_model(lt.build_t5_tokenizer(path))
    if kind == "opus-mt-en-mul":  # <pad> is the last id here (the tiny_marian has it at 2)
        return lt.build_tiny_model(lt.build_marian_tokenizer(path))
    from tests.test_families import _spm_summarizer

    return _spm_summarizer(path, kind)  # t5, pegasus


def _pair(model: Path, store: Path):
    torch_b = hf.load_backend(str(model), role="translator", models_dir=store, device="cpu",
                              dtype="float32")
    ct2_b = ct2.load_backend(str(model), role="translator", models_dir=store, device="cpu",
                             quantization="float32", threads=1)
    return torch_b, ct2_b


def _same(torch_b, ct2_b, requests, settings, limits) -> None:
    a = torch_b.generate(requests, settings, limits)
    b = ct2_b.generate(requests, settings, limits)
    assert b.texts == a.texts
    assert b.output_tokens == a.output_tokens
    assert b.input_tokens == a.input_tokens
    assert b.hit_limit == a.hit_limit


@pytest.mark.parametrize("name", ["tiny_bart", "tiny_marian"])
def test_tiny_models_match_torch(request, tmp_path, name):
    model = request.getfixturevalue(name)
    torch_b, ct2_b = _pair(model, tmp_path)
    assert ct2_b.info.engine == "ct2" and ct2_b.info.dtype == "float32"
    assert ct2_b.info.tuning["intra_threads"] == 1 and ct2_b.info.tuning["inter_threads"] == 1
    assert ct2_b.max_input_tokens == torch_b.max_input_tokens
    assert ct2_b.max_output_tokens == torch_b.max_output_tokens
    target = None if name == "tiny_bart" else "ko"
    requests = asks(TEXTS, target)
    assert ct2_b.count_tokens(requests) == torch_b.count_tokens(requests)
    assert ct2_b.task_defaults("summarize") == torch_b.task_defaults("summarize")
    _same(torch_b, ct2_b, requests, GREEDY, [12] * len(TEXTS))
    _same(torch_b, ct2_b, requests, {**GREEDY, "min_new_tokens": 6}, LIMITS)
    # batch-independence: one text alone gives what it gave in the batch
    alone = ct2_b.generate(requests[2:3], GREEDY, [12]).texts
    assert alone == ct2_b.generate(requests, GREEDY, [12] * len(TEXTS)).texts[2:3]


@pytest.mark.parametrize(
    ("kind", "lang"),
    [("nllb", "ko"), ("m2m100", "ja"), ("mbart50", "ko"), ("madlad", "ko"),
     ("opus-mt-en-mul", "kor"), ("t5", None), ("pegasus", None)],
)
def test_families_match_torch_with_language_plan(fam, tmp_path, kind, lang):
    model = _build(kind, fam)
    torch_b, ct2_b = _pair(model, tmp_path)
    if lang:
        assert ct2_b.plan("en", lang) == torch_b.plan("en", lang)
    requests = asks(TEXTS, lang)
    assert ct2_b.count_tokens(requests) == torch_b.count_tokens(requests)
    _same(torch_b, ct2_b, requests, GREEDY, [10] * len(requests))
    _same(torch_b, ct2_b, requests, {**GREEDY, "min_new_tokens": 5}, LIMITS)


def test_marian_multi_target_prefix(tiny_marian_multi, tmp_path):
    torch_b, ct2_b = _pair(tiny_marian_multi, tmp_path)
    plan = torch_b.plan("en", "ja")
    assert plan.model_code == ">>jpn<<" and plan.prefix_token_id is not None
    requests = asks(TEXTS, "ja")
    assert all(ids[0] == plan.prefix_token_id for ids in torch_b._ids(requests)[0])
    _same(torch_b, ct2_b, requests, GREEDY, LIMITS)


def test_count_tokens_leaves_the_source_language_unchanged(fam, tmp_path):
    model = _build("nllb", fam)
    backend = ct2.load_backend(str(model), role="translator", models_dir=tmp_path,
                               quantization="float32")
    before = backend.tokenizer.src_lang
    backend.count_tokens(asks(["東京は日本の首都です。"], "en", "ja"))
    assert backend.tokenizer.src_lang == before
    assert backend.info.tuning["threads"] == os.cpu_count()  # threads=0: every core
    assert backend.info.tuning["inter_threads"] == os.cpu_count()


def test_batch_split_between_workers_gives_the_same_outputs(tiny_marian, tmp_path):
    one = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                           quantization="float32", threads=1)
    three = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                             quantization="float32", threads=3)
    assert three.info.tuning["inter_threads"] == 3
    settings = {**GREEDY, "min_new_tokens": 6}
    a = one.generate(asks(TEXTS), settings, LIMITS)
    b = three.generate(asks(TEXTS), settings, LIMITS)
    assert (b.texts, b.output_tokens, b.hit_limit) == (a.texts, a.output_tokens, a.hit_limit)
    assert b.scores == a.scores  # per-step log-probs land on their own rows
    assert ct2._split([["a"]] * 5, 2) == [(0, 3), (3, 5)]
    assert ct2._split([["a"]], 4) == [(0, 1)]


def test_conversion_is_cached(tiny_marian, tmp_path):
    first = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                             quantization="float32")
    assert first.converted_now
    assert first.converted.parent == tmp_path / ct2_convert.STORE
    assert first.converted.name.endswith("-float32")
    stamp = (first.converted / "model.bin").stat().st_mtime_ns
    second = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                              quantization="float32")
    assert not second.converted_now
    assert second.converted == first.converted
    assert (second.converted / "model.bin").stat().st_mtime_ns == stamp
    marker = json.loads((first.converted / ct2_convert.MARKER).read_text())
    assert marker["quantization"] == "float32" and marker["recipe"] == ct2_convert.RECIPE_VERSION
    # another quantization is another conversion
    other = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                             quantization="int8")
    assert other.converted_now and other.converted != first.converted
    assert other.info.dtype == "int8"


def test_interrupted_conversion_is_redone_not_used(tiny_marian, tmp_path):
    from summarize.backends.hf_torch import resolve_config

    folder, _, config = resolve_config(str(tiny_marian), role="translator",
                                       models_dir=tmp_path, trust_remote_code=False,
                                       allow_pickle=False)
    target = ct2_convert.store_dir(tmp_path, str(tiny_marian), hf.model_revision(folder, config),
                           folder, "float32")
    # a kill after the weights were written but before the marker: a folder without marker
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(b"half-written")
    (target / "config.json").write_text("{}")
    # and a temporary folder left by a dead process (pid 2**22 + 1 does not exist)
    dead = target.parent / f".{target.name}.partial-{2**22 + 1}"
    dead.mkdir()
    (dead / "model.bin").write_bytes(b"junk")
    backend = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                               quantization="float32")
    assert backend.converted_now and backend.converted == target
    assert (target / ct2_convert.MARKER).is_file()
    assert (target / "model.bin").stat().st_size > 100
    assert not dead.exists()
    assert backend.generate(asks(TEXTS[:1]), GREEDY, [4]).output_tokens == 4
    # a marker of another recipe is not trusted either
    (target / ct2_convert.MARKER).write_text(json.dumps({"recipe": -1}))
    again = ct2.load_backend(str(tiny_marian), role="translator", models_dir=tmp_path,
                             quantization="float32")
    assert again.converted_now


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"num_beam_groups": 2, "num_beams": 4}, "num_beam_groups"),
     ({"diversity_penalty": 0.5}, "diversity_penalty"),
     ({"encoder_no_repeat_ngram_size": 3}, "encoder_no_repeat_ngram_size"),
     ({"do_sample": True, "num_beams": 2}, "do_sample"),
     ({"typical_p": 0.9}, "typical_p"),
     ({"cache_implementation": "static"}, "cache_implementation")],
)
def test_unsupported_setting_is_refused(tiny_bart, tmp_path, settings, key):
    backend = ct2.load_backend(str(tiny_bart), role="summarizer", models_dir=tmp_path,
                               quantization="float32")
    with pytest.raises(ConfigError) as err:
        backend.generate(asks(TEXTS[:1], None), settings, [4])
    assert key in str(err.value) and "\n" not in str(err.value)


def test_settings_are_mapped():
    from transformers import GenerationConfig

    gen = GenerationConfig(num_beams=4, length_penalty=2.0, min_length=56,
                           no_repeat_ngram_size=3)
    options = ct2.translation_options({"repetition_penalty": 1.2}, gen)
    assert options["beam_size"] == 4 and options["length_penalty"] == 2.0
    assert options["min_decoding_length"] == 55  # min_length counts the start token
    assert options["no_repeat_ngram_size"] == 3 and options["repetition_penalty"] == 1.2
    sampled = ct2.translation_options({"do_sample": True, "top_k": 5, "temperature": 0.7},
                                      GenerationConfig())
    assert sampled["sampling_topk"] == 5 and sampled["sampling_temperature"] == 0.7


def test_quantization_choice():
    assert ct2.select_quantization("auto", "cpu", "marian") == "int8"
    assert ct2.select_quantization("auto", "cuda", "marian") == "int8_float16"
    assert ct2.select_quantization("auto", "cuda", "t5") == "bfloat16"
    with pytest.raises(ConfigError):
        ct2.select_quantization("int4", "cpu", "marian")
    with pytest.raises(ConfigError):
        ct2.select_device("mps")


def test_pickle_and_unsupported_architecture_are_refused(tmp_path, tiny_bart):
    import shutil

    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_bart, pickled)
    for f in pickled.glob("*.safetensors"):
        f.unlink()
    (pickled / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="pickle"):
        ct2.load_backend(str(pickled), role="summarizer", models_dir=tmp_path)
    from tests.test_families import _led_summarizer

    led = _led_summarizer(tmp_path / "led", tiny_bart)
    with pytest.raises(ModelLoadError, match="backend torch"):
        ct2.load_backend(str(led), role="summarizer", models_dir=tmp_path,
                         quantization="float32")
    assert not list((tmp_path / ct2_convert.STORE).glob(".*partial*"))


def test_pipeline_ct2_matches_torch(article_dir, tmp_path, tiny_bart, tiny_marian):
    from summarize.run.pipeline import run_batch
    from summarize.settings import RoleConfig, RunConfig

    outs = {}
    for engine in ("torch", "ct2"):
        out = tmp_path / engine
        config = RunConfig(inputs=(str(article_dir),), out_dir=str(out),
                           targets=("ko",), translate="both", device="cpu", dtype="float32",
                           backend=engine, models_dir=str(tmp_path),
                           summarizer=RoleConfig(model=str(tiny_bart),
                                                 settings={"num_beams": 1, "max_new_tokens": 12}),
                           translator=RoleConfig(model=str(tiny_marian),
                                                 settings={"num_beams": 1, "max_new_tokens": 10}),
                           backend_options={"quantization": "float32"} if engine == "ct2" else {})
        run_batch(config)
        records = sorted(read_jsonl(out / "results.jsonl"), key=lambda r: r["id"])
        assert records and all(r["status"] == "ok" for r in records)
        outs[engine] = records
        stats = json.loads((out / "stats.json").read_text())
        assert {m["engine"] for m in stats["models"]} == {engine}
    for a, b in zip(outs["torch"], outs["ct2"], strict=True):
        assert b["summary"] == a["summary"]
        assert b["translations"] == a["translations"]


def test_distilbart_style_generation_config_matches_torch(tiny_bart, tmp_path):
    """Forced <s>, no_repeat_ngram_size 3 and a min_length above the output limit."""
    import shutil

    model = tmp_path / "bart-distil"
    shutil.copytree(tiny_bart, model)
    gen_file = model / "generation_config.json"
    gen = json.loads(gen_file.read_text())
    gen.update(forced_bos_token_id=0, forced_eos_token_id=2, no_repeat_ngram_size=3,
               min_length=20)
    gen_file.write_text(json.dumps(gen))
    torch_b, ct2_b = _pair(model, tmp_path)
    requests = asks(TEXTS, None)
    _same(torch_b, ct2_b, requests, GREEDY, LIMITS)  # min_length 20 > every limit: limit wins
    _same(torch_b, ct2_b, requests, {**GREEDY, "min_length": 0}, [30] * len(TEXTS))
