"""The CTranslate2 backend: conversion store, crash safety, settings, and equality with torch.

With float32 weights and greedy decoding CTranslate2 must give, text for text, what the
torch backend gives on the same tiny random models (same tokenizer, same limits).
"""

from __future__ import annotations

import errno
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


# --- a damaged conversion is verified, repaired or named; a full disk is one line ----------


def _load(model: Path, store: Path):
    return ct2.load_backend(str(model), role="translator", models_dir=store,
                            quantization="float32", threads=1)


def _outputs(backend) -> tuple[list[str], list[int]]:
    out = backend.generate(asks(TEXTS), GREEDY, LIMITS)
    return out.texts, out.output_tokens


@pytest.fixture(scope="module")
def converted_marian(tiny_marian, tmp_path_factory) -> tuple[Path, str, tuple]:
    """A store holding one verified conversion of the tiny Marian, and its outputs."""
    store = tmp_path_factory.mktemp("ct2_store")
    backend = _load(tiny_marian, store)
    assert backend.converted_now
    return store, backend.converted.name, _outputs(backend)


def _store_copy(converted_marian, root: Path) -> Path:
    import shutil

    store, name, _ = converted_marian
    shutil.copytree(store / ct2_convert.STORE, root / ct2_convert.STORE)
    folder = root / ct2_convert.STORE / name
    assert ct2_convert.conversion_problem(folder) is None
    return folder


def _rewrite(path: Path, edit) -> None:
    path.write_bytes(edit(path.read_bytes()))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:]


def _vocabulary(folder: Path) -> Path:
    return next(folder.glob("*vocabulary*.json"))


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


DAMAGE = {
    "model.bin truncated": lambda f: _rewrite(f / "model.bin", lambda d: d[: len(d) // 2]),
    "model.bin one byte changed": lambda f: _rewrite(f / "model.bin",
                                                     lambda d: _flip(d, len(d) // 2)),
    "model.bin garbage appended": lambda f: _rewrite(f / "model.bin",
                                                     lambda d: d + b"\0garbage" * 100),
    "model.bin empty": lambda f: (f / "model.bin").write_bytes(b""),
    "model.bin missing": lambda f: (f / "model.bin").unlink(),
    "vocabulary deleted": lambda f: _vocabulary(f).unlink(),
    "vocabulary one byte changed": lambda f: _rewrite(_vocabulary(f), lambda d: _flip(d, 40)),
    "config.json truncated": lambda f: _rewrite(f / "config.json", lambda d: d[: len(d) // 3]),
    "config.json emptied": lambda f: (f / "config.json").write_bytes(b""),
    "marker without its file list": lambda f: _rewrite(
        f / ct2_convert.MARKER,
        lambda d: json.dumps({k: v for k, v in json.loads(d).items() if k != "files"}).encode()),
    "marker truncated": lambda f: _rewrite(f / ct2_convert.MARKER, lambda d: d[:30]),
    "model.bin replaced by a FIFO": lambda f: _fifo(f / "model.bin"),
    "marker replaced by a FIFO": lambda f: _fifo(f / ct2_convert.MARKER),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_conversion_is_repaired(converted_marian, tiny_marian, tmp_path, damage,
                                        caplog):
    if "FIFO" in damage and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    folder = _store_copy(converted_marian, tmp_path)
    DAMAGE[damage](folder)
    assert ct2_convert.conversion_problem(folder) is not None  # never a hang on a FIFO
    caplog.set_level("INFO", logger=ct2_convert.__name__)
    backend = _load(tiny_marian, tmp_path)
    assert backend.converted_now and backend.converted == folder
    assert f"{folder} " in caplog.text and "converting it again" in caplog.text
    assert _outputs(backend) == converted_marian[2]
    assert ct2_convert.conversion_problem(folder) is None
    leftovers = [p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == [folder.name]  # no temporary or replaced folder stays behind
    assert not _load(tiny_marian, tmp_path).converted_now  # repaired once, then used


def test_large_files_are_sampled_until_their_stat_changes(tiny_marian, tmp_path,
                                                          monkeypatch):
    """Above FULL_HASH_BYTES a file is sampled while its inode, mtime and ctime are those
    recorded; any write changes ctime, and then the whole file is hashed again."""
    monkeypatch.setattr(ct2_convert, "FULL_HASH_BYTES", 1024)
    monkeypatch.setattr(ct2_convert, "_BLOCK", 64)  # 16 x 64 bytes: most bytes unsampled
    first = _load(tiny_marian, tmp_path)
    folder, before = first.converted, _outputs(first)
    marker = json.loads((folder / ct2_convert.MARKER).read_text())
    record = marker["files"]["model.bin"]
    assert record["bytes"] > 1024 and record["sampled_sha256"] and len(record["stat"]) == 3
    assert "stat" not in marker["files"]["config.json"]  # small: hashed whole every time

    full_hashes: list[str] = []
    real_full = ct2_convert._full_sha256
    monkeypatch.setattr(ct2_convert, "_full_sha256",
                        lambda p: full_hashes.append(Path(p).name) or real_full(p))
    assert ct2_convert.conversion_problem(folder) is None
    assert "model.bin" not in full_hashes  # sampled

    # a byte changed outside the sampled blocks, mtime put back: ctime still tells
    model_bin = folder / "model.bin"
    st = model_bin.stat()
    _rewrite(model_bin, lambda d: _flip(d, 100))
    os.utime(model_bin, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert "has changed" in ct2_convert.conversion_problem(folder)
    again = _load(tiny_marian, tmp_path)
    assert again.converted_now and _outputs(again) == before

    # touched (as a copy or a backup restore does), content intact: hashed whole once,
    # the record's stat refreshed, sampled again after that
    os.utime(model_bin, ns=(1, 1))
    full_hashes.clear()
    assert ct2_convert.conversion_problem(folder) is None and "model.bin" in full_hashes
    full_hashes.clear()
    assert ct2_convert.conversion_problem(folder) is None and "model.bin" not in full_hashes

    # damage that leaves the stat as recorded (media, a raw device write) in a sampled
    # block: the sampled hash tells
    _rewrite(model_bin, lambda d: _flip(d, 10))
    marker = json.loads((folder / ct2_convert.MARKER).read_text())
    marker["files"]["model.bin"]["stat"] = ct2_convert._stat_key(model_bin.stat())
    (folder / ct2_convert.MARKER).write_text(json.dumps(marker))
    assert "has changed" in ct2_convert.conversion_problem(folder)
    assert _load(tiny_marian, tmp_path).converted_now


class _EditedWrites:
    """A file opened for writing by CTranslate2's converter whose writes go through
    ``edit(path, data)``: it may change the bytes or raise as a full disk does."""

    def __init__(self, handle, path, edit):
        self._handle, self._path, self._edit = handle, str(path), edit

    def write(self, data):
        return self._handle.write(self._edit(self._path, data))

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


def _edit_converter_writes(monkeypatch, edit) -> None:
    """Route the real converter's file writes (model.bin, config, vocabulary) via ``edit``."""
    from ctranslate2.specs import model_spec

    def patched_open(path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        return _EditedWrites(handle, path, edit) if "w" in mode else handle

    monkeypatch.setattr(model_spec, "open", patched_open, raising=False)


def test_corruption_that_survives_conversion_names_the_folder(converted_marian, tiny_marian,
                                                              tmp_path, monkeypatch):
    folder = _store_copy(converted_marian, tmp_path)
    DAMAGE["model.bin truncated"](folder)
    written = {"model.bin": 0}

    def cut(path, data):  # the converter writes a model.bin cut short: 2 kB in, the rest lost
        if path.endswith("model.bin"):
            keep = max(0, min(len(data), 2048 - written["model.bin"]))
            written["model.bin"] += len(data)
            return data[:keep]
        return data

    _edit_converter_writes(monkeypatch, cut)
    with pytest.raises(ModelLoadError) as err:
        _load(tiny_marian, tmp_path)
    message = str(err.value)
    assert f"{folder}:" in message and "delete that folder" in message
    assert "\n" not in message
    assert ct2_convert.conversion_problem(folder) is None  # it is what the converter wrote
    monkeypatch.undo()
    import shutil

    shutil.rmtree(folder)  # what the message says
    backend = _load(tiny_marian, tmp_path)
    assert backend.converted_now and _outputs(backend) == converted_marian[2]


def _disk_error(code: int, after: int, name: str):
    written = {"n": 0}

    def edit(path, data):
        if path.endswith(name):
            written["n"] += len(data)
            if written["n"] > after:
                raise OSError(code, os.strerror(code), path)
        return data

    return edit


@pytest.mark.parametrize(
    ("code", "name", "words"),
    [(errno.ENOSPC, "model.bin", "the disk is full"),
     (errno.ENOSPC, "vocabulary.json", "the disk is full"),
     (errno.ENOSPC, "config.json", "the disk is full"),
     (errno.EDQUOT, "model.bin", "the disk quota is exceeded")],
)
def test_full_disk_during_conversion_is_one_line(tiny_marian, tmp_path, monkeypatch, code,
                                                 name, words):
    _edit_converter_writes(monkeypatch, _disk_error(code, 100, name))
    with pytest.raises(ModelLoadError) as err:
        _load(tiny_marian, tmp_path)
    message = str(err.value)
    store = tmp_path / ct2_convert.STORE
    assert message.startswith(words) and f"into {store} " in message
    assert "needs about" in message and "free" in message and "--backend torch" not in message
    assert "\n" not in message
    assert [p.name for p in store.iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.undo()
    assert _load(tiny_marian, tmp_path).converted_now  # space back: it converts


def test_full_disk_while_repairing_keeps_nothing_partial(converted_marian, tiny_marian,
                                                         tmp_path, monkeypatch):
    """A full disk at the last step (syncing the marker) while a damaged folder is redone."""
    folder = _store_copy(converted_marian, tmp_path)
    DAMAGE["model.bin one byte changed"](folder)
    real_fsync = os.fsync

    def fsync(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".complete"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell which file is synced")
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ModelLoadError, match="^the disk is full"):
        _load(tiny_marian, tmp_path)
    assert [p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")] == \
        [folder.name]
    monkeypatch.undo()
    backend = _load(tiny_marian, tmp_path)
    assert backend.converted_now and _outputs(backend) == converted_marian[2]


@pytest.mark.parametrize(("code", "words"), [(errno.EIO, "Input/output error"),
                                             (errno.EACCES, "Permission denied")])
def test_other_write_errors_say_what_failed(tiny_marian, tmp_path, monkeypatch, code, words):
    _edit_converter_writes(monkeypatch, _disk_error(code, 0, "model.bin"))
    with pytest.raises(ModelLoadError) as err:
        _load(tiny_marian, tmp_path)
    message = str(err.value)
    store = tmp_path / ct2_convert.STORE
    assert message.startswith(f"cannot write the CTranslate2 conversion of '{tiny_marian}' "
                              f"into {store}: {words} (")
    assert "model.bin" in message and "disk is full" not in message and "\n" not in message
    assert [p.name for p in store.iterdir() if not p.name.endswith(".lock")] == []


def test_needed_bytes_counts_the_weights(tiny_marian):
    from safetensors import safe_open

    with safe_open(str(tiny_marian / "model.safetensors"), "pt") as weights:
        count = sum(weights.get_tensor(k).numel() for k in weights.keys())  # noqa: SIM118
    assert ct2_convert.needed_bytes(str(tiny_marian), "float32") == int(count * 4 * 1.1)
    assert ct2_convert.needed_bytes(str(tiny_marian), "int8") == int(count * 1.1)
    assert ct2_convert.needed_bytes("no/such-model-anywhere", "int8") is None


_RACER = """
import sys, time
from pathlib import Path
from summarize.backends import Request, ct2
start = Path(sys.argv[3])
Path(sys.argv[4]).touch()
while not start.exists():
    time.sleep(0.01)
b = ct2.load_backend(sys.argv[1], role="translator", models_dir=Path(sys.argv[2]),
                     quantization="float32", threads=1)
print("converted" if b.converted_now else "reused",
      b.generate([Request("translate", "Hello there.", "en", "ko")], {"num_beams": 1},
                 [6]).texts[0])
b.close()  # a Translator left to interpreter shutdown may abort the process (exit 134)
"""


def test_two_processes_repair_one_folder_once(converted_marian, tiny_marian, tmp_path):
    import subprocess
    import sys

    folder = _store_copy(converted_marian, tmp_path)
    DAMAGE["model.bin truncated"](folder)
    start = tmp_path / "start"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(tiny_marian), str(tmp_path),
                                str(start), str(tmp_path / f"ready{i}")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env) for i in range(2)]
    import time

    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(r.poll() is None for r in racers)
        time.sleep(0.05)
    start.touch()
    results = [r.communicate(timeout=120) for r in racers]
    assert all(r.returncode == 0 for r in racers), [err[-2000:] for _, err in results]
    said = sorted(out.split()[0] for out, _ in results)
    assert said == ["converted", "reused"]  # the second waited for the first, then used it
    assert len({out.split(" ", 1)[1] for out, _ in results}) == 1
    assert ct2_convert.conversion_problem(folder) is None


def test_load_error_names_the_folder_only_for_file_problems(tmp_path):
    folder = tmp_path / ct2_convert.STORE / "m-rev-int8"
    folder.mkdir(parents=True)
    files = [RuntimeError("Variable 'decoder/embeddings/weight' has an invalid payload size"),
             RuntimeError("File model.bin is incomplete: failed to read a buffer of size 37"),
             RuntimeError("[json.exception.parse_error.101] parse error at line 1\nmore"),
             RuntimeError("Cannot load the target vocabulary from the model directory")]
    for exc in files:
        message = str(ct2_convert.load_error(folder, exc))
        assert message.startswith(f"CTranslate2 cannot load the conversion in {folder}: ")
        assert message.endswith("; delete that folder to convert the model again")
        assert "\n" not in message
    settings = [ValueError("Requested float16 compute type, but the target device or backend "
                           "do not support efficient float16 computation."),
                RuntimeError("CUDA failed with error out of memory")]
    for exc in settings:  # deleting the conversion would not help
        message = str(ct2_convert.load_error(folder, exc))
        assert "delete" not in message and str(exc) in message
    (folder / ct2_convert.MARKER).write_text(json.dumps({"ctranslate2": "0.1.0"}))
    message = str(ct2_convert.load_error(folder, files[0]))
    assert "converted by CTranslate2 0.1.0" in message and "delete that folder" in message
