"""The throughput benchmark on tiny models: both sides run, do the same work, report sanely.

No timing is asserted: the numbers of a tiny model on a shared machine mean nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from summarize.devtools import bench
from tests import tiny_models

SENTENCES = tiny_models.SENTENCES[:5]
ARTICLES = [
    " ".join(tiny_models.SENTENCES[:6]),
    " ".join(tiny_models.SENTENCES[2:6] * 6),  # longer than the tiny BART's 128 positions
]


@pytest.fixture(autouse=True)
def _bench_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built models and CTranslate2 conversions go to a temporary cache, not ~/.cache."""
    monkeypatch.setenv("SUMMARIZE_BENCH_DIR", str(tmp_path / "bench-cache"))


def _check_stage(stage: dict, n_items: int) -> None:
    naive, engine = stage["naive"], stage["engine"]
    for side in (naive, engine):
        assert side["items"] == n_items
        assert side["seconds"] > 0
        assert side["output_tokens"] > 0
        assert side["peak_rss_mb"] > 0
        assert side["tokens_per_s"] == pytest.approx(
            side["output_tokens"] / side["seconds"], rel=0.001, abs=0.06)
    assert naive["output_tokens"] == engine["output_tokens"]
    assert naive["input_tokens"] == engine["input_tokens"]
    assert stage["same_work"] is True
    assert stage["ratio"] == round(engine["tokens_per_s"] / naive["tokens_per_s"], 2)
    assert stage["compared"] == n_items
    assert 0 <= stage["identical"] <= n_items
    assert "outputs" not in naive and "outputs" not in engine


def test_translate_stage_in_process(tiny_marian: Path) -> None:
    stage = bench.run_stage("translate", str(tiny_marian), SENTENCES, new_tokens=6,
                            target="ko", isolate=False, threads=1)
    _check_stage(stage, len(SENTENCES))
    assert stage["naive"]["output_tokens"] == 6 * len(SENTENCES)  # every output forced to 6
    assert stage["naive"]["generate_calls"] == len(SENTENCES)
    assert stage["engine"]["generate_calls"] < len(SENTENCES)  # batched


def test_summarize_stage_chunks_both_sides_alike(tiny_bart: Path) -> None:
    stage = bench.run_stage("summarize", str(tiny_bart), ARTICLES, new_tokens=5,
                            isolate=False, threads=1)
    _check_stage(stage, len(ARTICLES))
    assert stage["naive"]["windows"] == stage["engine"]["windows"] > len(ARTICLES)
    assert stage["naive"]["generate_calls"] > stage["engine"]["generate_calls"]


def test_side_in_a_subprocess_reports_its_own_peak(tiny_marian: Path) -> None:
    spec = {"side": "engine", "stage": "translate", "model": str(tiny_marian),
            "items": SENTENCES[:2],
            "kwargs": {"new_tokens": 3, "target": "ko", "threads": 1, "device": "cpu",
                       "dtype": "auto"}}
    result = bench.run_side_subprocess(spec, threads=1)
    assert result["rss_method"] == "ru_maxrss"
    assert result["peak_rss_mb"] > 50
    assert result["output_tokens"] == 6


def test_cli_writes_json_and_prints_the_same_numbers(tiny_marian: Path, tmp_path: Path
                                                     ) -> None:
    app = typer.Typer()
    app.command()(bench.bench)
    out = tmp_path / "bench.json"
    # Short sentences the tiny model's 64 positions hold, wherever the test runs.
    data = tmp_path / "data"
    ntrex = data / bench.NTREX_SENTENCES
    ntrex.parent.mkdir(parents=True)
    ntrex.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, [
        "--stage", "translate", "--translator", str(tiny_marian), "--to", "ko",
        "--sentences", "4", "--new-tokens", "4", "--threads", "1", "--in-process",
        "--json", str(out), "--data", str(data),
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text("utf-8"))
    stage = report["stages"]["translate"]
    _check_stage(stage, 4)
    assert f"ratio engine/naive (tok/s): {stage['ratio']}x" in result.output
    for side in ("naive", "engine"):
        assert f"{stage[side]['tokens_per_s']:.1f}" in result.output


def test_sentences_are_single_segments_and_distinct() -> None:
    from summarize.text import segment_text

    sentences = bench.load_sentences(40)
    assert len(sentences) == len(set(sentences)) > 0
    for sentence in sentences:
        assert segment_text(sentence, "en") == [[sentence]]


def test_memory_inputs_are_unique(tmp_path: Path) -> None:
    folder = bench.write_memory_inputs(tmp_path / "in", 7)
    texts = [p.read_text("utf-8") for p in sorted(folder.iterdir())]
    assert len(texts) == len(set(texts)) == 7


def test_format_report_of_a_memory_stage() -> None:
    report = {"machine": {"threads": 2}, "stages": {"memory": {
        "summarizer": "/m/bart", "translator": "/m/opus-mt-en-de", "limit": 1.3,
        "runs": [{"articles": 200, "peak_rss_mb": 500.0, "wall_s": 6.0, "articles_per_s": 33.0},
                 {"articles": 2000, "peak_rss_mb": 550.0, "wall_s": 30.0,
                  "articles_per_s": 66.0}],
        "ratio": 1.1, "ok": True}}}
    text = bench.format_report(report)
    assert "ratio 2000/200: 1.100 (limit 1.3: ok)" in text


def test_torch_and_ct2_columns_with_agreement(tiny_marian: Path) -> None:
    pytest.importorskip("ctranslate2")
    stage = bench.run_stage("translate", str(tiny_marian), SENTENCES, new_tokens=6,
                            target="ko", isolate=False, threads=1, backends="torch,ct2",
                            quantization="int8")
    _check_stage(stage, len(SENTENCES))
    for side in ("torch", "ct2", "ct2_float32"):
        assert stage[side]["output_tokens"] == stage["naive"]["output_tokens"]
        assert stage[side]["input_tokens"] == stage["naive"]["input_tokens"]
        assert stage["ratios"][side] == round(
            stage[side]["tokens_per_s"] / stage["naive"]["tokens_per_s"], 2)
    assert stage["ct2"]["engine"] == "ct2" and stage["ct2"]["dtype"] == "int8"
    assert stage["ct2_float32"]["dtype"] == "float32"
    assert stage["ct2_over_torch"] == round(
        stage["ct2"]["tokens_per_s"] / stage["torch"]["tokens_per_s"], 2)
    agree = stage["ct2_agreement"]
    assert agree["compared"] == len(SENTENCES) and 0 <= agree["identical"] <= len(SENTENCES)
    # float32 CTranslate2 computes what torch computes: every output identical
    assert stage["identical_to_naive"]["ct2_float32"]["identical"] == len(SENTENCES)
    text = bench.format_report({"machine": {"threads": 1}, "stages": {"translate": stage}})
    assert "ratio ct2/torch engine (tok/s)" in text and "identical to ct2 float32" in text


def test_text_file_and_shipped_sample(tmp_path: Path) -> None:
    sample = bench.load_articles(100)
    assert len(sample) >= 12 and all(len(a.split()) > 100 for a in sample)
    assert len(bench.load_sentences(300)) == 300
    assert (bench.SAMPLE_TEXT.parent / "ATTRIBUTION").is_file()
    given = tmp_path / "t.txt"
    given.write_text("One sentence here.\nAnother one there.\n\nA second article.\n", "utf-8")
    assert bench.load_articles(5, text=given) == [
        "One sentence here. Another one there.", "A second article."]
    assert bench.load_sentences(5, text=given) == [
        "One sentence here.", "Another one there.", "A second article."]
    one_per_line = tmp_path / "lines.txt"
    one_per_line.write_text("First article.\nSecond article.\n", "utf-8")
    assert bench.load_articles(5, text=one_per_line) == ["First article.", "Second article."]


def test_importing_bench_imports_no_engine() -> None:
    import subprocess
    import sys

    code = ("import sys, summarize.devtools.bench, summarize.devtools.tinymodels; "
            "print(sorted(m for m in ('torch', 'transformers', 'sentencepiece', "
            "'ctranslate2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="--backend"):
        bench.run_stage("translate", "x", SENTENCES, new_tokens=2, backends="onnx")


def test_the_gpu_pipeline_script_runs_every_mode_on_cpu(tmp_path: Path) -> None:
    """benchmarks/gpu_pipeline.py (issue 11's GPU figure) dry-runs on CPU with tiny models, so
    a session with a GPU spends its device time measuring, not debugging the script."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "figures.json"
    env = {**os.environ, "SUMMARIZE_BENCH_DIR": str(tmp_path / "cache"),
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "gpu_pipeline.py"), "--device", "cpu",
         "--dtype", "float32", "--size", "tiny", "--articles", "10", "--modes", "off,full",
         "--summary-tokens", "4", "--translation-tokens", "4", "--warmup", "2",
         "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text("utf-8"))
    assert [r["mode"] for r in figures["rows"]] == ["off", "full"]
    assert all(r["ok"] == 10 and r["articles_per_s"] > 0 for r in figures["rows"])
    assert figures["identical"] == {"full": [10, 10]}
    if shutil.which("nvidia-smi") is None:
        assert figures["rows"][0]["busy_fraction"] is None  # not measured without it


# --- chat models: the same stages through a chat template -----------------------------------


def test_chat_translate_stage_in_process(tiny_chat) -> None:
    stage = bench.run_stage("translate", str(tiny_chat("llama")), SENTENCES[:4], new_tokens=5,
                            target="de", isolate=False, threads=1)
    _check_stage(stage, 4)
    assert stage["naive"]["output_tokens"] == 5 * 4
    assert stage["naive"]["generate_calls"] == 4
    assert stage["engine"]["generate_calls"] == 1  # one batch
    assert stage["engine"]["family"] == "llama"
    # greedy, same prompts, same lengths: the engine answers as the documented loop does
    assert stage["identical"] == 4


def test_chat_summarize_stage_windows_both_sides_alike(tmp_path: Path) -> None:
    """A chat model whose context window is shorter than an article: both sides summarize
    the same windows, then the joined partial summaries."""
    from summarize.devtools.tinychat import build_chat_model

    path = build_chat_model(tmp_path / "qwen3-short", "qwen3", max_positions=400)
    stage = bench.run_stage("summarize", str(path), ARTICLES, new_tokens=4, isolate=False,
                            threads=1)
    _check_stage(stage, len(ARTICLES))
    assert stage["naive"]["windows"] == stage["engine"]["windows"] > len(ARTICLES)
    assert stage["naive"]["generate_calls"] > stage["engine"]["generate_calls"]


def test_run_bench_chat_stages_report_the_machine(tiny_chat) -> None:
    report = bench.run_bench(stage="chat", chat=str(tiny_chat("qwen3")), sentences=3,
                             articles=2, new_tokens=3, threads=1, isolate=False)
    assert list(report["stages"]) == ["chat-translate", "chat-summarize"]
    for name, n in (("chat-translate", 3), ("chat-summarize", 2)):
        _check_stage(report["stages"][name], n)
    machine = report["machine"]
    assert machine["cpu"] and isinstance(machine["cpu_features"], list)
    text = bench.format_report(report)
    assert text.startswith(f"machine: {machine['cpu']} (")
    assert "chat-translate  (3 sentences" in text and "chat-summarize  (2 articles" in text
    assert text.count("ratio engine/naive (tok/s)") == 2


def test_built_chat_model_is_cached(tmp_path: Path) -> None:
    first = bench.ensure_chat_model("tiny", tmp_path)
    assert (first / ".complete").is_file() and (first / "config.json").is_file()
    assert bench.ensure_chat_model("tiny", tmp_path) == first
    with pytest.raises(ValueError, match="--chat"):
        bench.ensure_chat_model("gpt-9", tmp_path)
    from summarize.devtools.bench.models import chat_model

    assert chat_model(str(first), tmp_path) == str(first)  # a folder is used as given


@pytest.mark.parametrize("args, hint", [
    (["--stage", "chat-translate", "--backend", "ct2"], "torch engine only"),
    (["--stage", "chat-sum"], "expected one of"),
    (["--stage", "chat", "--data", "/nonexistent-folder"], "neither"),
])
def test_cli_refuses_bad_chat_options_in_one_line(args: list[str], hint: str) -> None:
    app = typer.Typer()
    app.command()(bench.bench)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert hint in result.output and "Traceback" not in result.output


def test_cpu_info_names_the_processor() -> None:
    from summarize.devtools.bench.harness import CPU_FEATURES, cpu_info

    info = cpu_info()
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert set(info["cpu_features"]) <= set(CPU_FEATURES)


def test_chat_memory_stage_runs_summarize_batch_with_one_model_for_both_roles(
        tiny_chat, tmp_path: Path) -> None:
    text = tmp_path / "news.txt"
    text.write_text("\n\n".join(" ".join(tiny_models.SENTENCES[i:i + 3]) for i in range(4)),
                    "utf-8")
    report = bench.run_bench(stage="chat-memory", chat=str(tiny_chat("qwen3")),
                             memory_counts=(2, 4), text=text, threads=1)
    st = report["stages"]["chat-memory"]
    assert st["summarizer"] == st["translator"] == str(tiny_chat("qwen3"))
    assert [(r["articles"], r["ok"], r["failed"]) for r in st["runs"]] == [(2, 2, 0), (4, 4, 0)]
    assert st["ratio"] == round(st["runs"][1]["peak_rss_mb"] / st["runs"][0]["peak_rss_mb"], 3)
    name = Path(st["summarizer"]).name
    assert f"chat-memory  (summarize batch, models {name} (both roles))" in \
        bench.format_report(report)
