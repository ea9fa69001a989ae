"""The throughput benchmark on tiny models: both sides run, do the same work, report sanely.

No timing is asserted: the numbers of a tiny model on a shared machine mean nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from summarize import bench
from tests import tiny_models

SENTENCES = tiny_models.SENTENCES[:5]
ARTICLES = [
    " ".join(tiny_models.SENTENCES[:6]),
    " ".join(tiny_models.SENTENCES[2:6] * 6),  # longer than the tiny BART's 128 positions
]


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
        "--json", str(out), "--data-dir", str(data),
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
