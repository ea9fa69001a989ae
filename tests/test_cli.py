"""The command line end to end on tiny real models: exit codes, files written, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from tests.fakes import read_jsonl

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def models_args(bart: Path, marian: Path) -> list[str]:
    return ["--summarizer", str(bart), "--translator", str(marian)]


def test_help_is_fast_and_imports_no_torch():
    code = (
        "import sys; import summarize.cli; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
        "assert 'summarize.devtools.bench' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # the CTranslate2 engine does not pull in torch either (only its converter does, when
    # a model is converted)
    code = ("import sys; import summarize.backends.ct2; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    result = invoke("--help")
    assert result.exit_code == 0 and "batch" in result.output
    result = invoke("batch", "--help")
    assert "--translate" in result.output and "--to" in result.output


def test_batch_writes_every_output(article_dir, tmp_path, tiny_bart, tiny_marian):
    out = tmp_path / "out"
    result = invoke(
        "batch",
        article_dir,
        "--out",
        out,
        "--to",
        "ko",
        "--translate",
        "both",
        *models_args(tiny_bart, tiny_marian),
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in records) == [
        "crime.txt",
        "science/vaccine.md",
        "world/election.txt",
    ]
    for record in records:
        assert record["status"] == "ok" and record["error"] is None
        for key in ("id", "source", "title", "summary", "translations", "chunks", "timings"):
            assert key in record
        expected = {"summary", "article"} | ({"title"} if record["title"] else set())
        assert set(record["translations"]["ko"]) == expected
        assert record["chunks"] >= 1
        assert record["timings"]["summarize"] > 0 and record["timings"]["translate"] > 0
        assert (out / record["page"]).is_file()
    election = next(r for r in records if r["id"] == "world/election.txt")
    assert election["title"] == "Voters head to the polls"
    # the article was translated sentence by sentence, paragraph structure kept
    pairs = election["alignment"]["ko"]["article"]
    assert [len(p) for p in pairs] == [2, 1]
    assert election["translations"]["ko"]["article"].count("\n\n") == 1
    stats = json.loads((out / "stats.json").read_text())
    assert stats["articles"] == {"total": 3, "ok": 3, "failed": 0, "skipped": 0, "resumed": 0}
    assert stats["device"] == "cpu"  # --backend auto: int8 CTranslate2 where installed
    assert stats["dtype"] == ("int8" if stats["backend"] == "ct2" else "float32")
    assert {m["role"] for m in stats["models"]} == {"summarizer", "translator:ko"}
    for stage in ("summarize", "translate"):
        entry = stats["stages"][stage]
        assert entry["input_tokens"] > 0 and entry["output_tokens"] > 0
        assert entry["output_tokens_per_s"] > 0
    assert stats["peak_rss_mb"] > 0 and stats["packages"]["torch"]
    assert (out / "index.html").is_file()


def test_some_failures_exit_1_and_the_rest_is_written(tmp_path, tiny_bart, tiny_marian):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.txt").write_text("Police arrested two men after a robbery.", encoding="utf-8")
    (src / "empty.txt").write_text("   \n\t\n", encoding="utf-8")
    (src / "bad.jsonl").write_text('{"text": "Markets rose sharply."}\n{oops\n', "utf-8")
    (src / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    out = tmp_path / "out"
    result = invoke("batch", src, "--out", out, *models_args(tiny_bart, tiny_marian))
    assert result.exit_code == 1
    assert "empty.txt" in result.stderr and "bad.jsonl#2" in result.stderr
    assert "Traceback" not in result.output
    records = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert records["good.txt"]["status"] == "ok"
    assert records["bad.jsonl#1"]["status"] == "ok"
    assert records["empty.txt"]["status"] == "error" and records["empty.txt"]["error"]
    assert records["bad.jsonl#2"]["status"] == "error"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["articles"]["failed"] == 2 and stats["articles"]["skipped"] == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--to", "xx"], "xx"),
        (["--translate", "everything"], "'translate' = 'everything'"),
        (["--no-summary"], "--no-summary"),
        (["--device", "tpu"], "tpu"),
    ],
)
def test_bad_usage_exits_2_before_any_work(
    article_dir, tmp_path, tiny_bart, tiny_marian, extra, message
):
    out = tmp_path / "out"
    result = invoke(
        "batch", article_dir, "--out", out, *models_args(tiny_bart, tiny_marian), *extra
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "reading" not in result.stderr  # no progress bars before the error
    assert not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_text()


def test_missing_input_and_unknown_option_exit_2(tmp_path):
    result = invoke("batch", tmp_path / "nope", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "nope" in result.stderr
    result = invoke("batch", tmp_path, "--frobnicate")
    assert result.exit_code == 2


def test_missing_model_exits_2_with_offline_advice(article_dir, tmp_path, tiny_marian):
    out = tmp_path / "out"
    result = invoke(
        "batch",
        article_dir,
        "--out",
        out,
        "--summarizer",
        "nobody/no-such-model",
        "--translator",
        str(tiny_marian),
        "--models-dir",
        tmp_path / "models",
    )
    assert result.exit_code == 2
    assert "nobody/no-such-model" in result.stderr
    assert "summarize models download" in result.stderr
    assert "Traceback" not in result.output
    assert not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_text()


def test_target_the_translator_cannot_produce_exits_2(
    article_dir, tmp_path, tiny_bart, tiny_marian_multi
):
    result = invoke(
        "batch",
        article_dir,
        "--out",
        tmp_path / "out",
        "--to",
        "de",
        *models_args(tiny_bart, tiny_marian_multi),
    )
    assert result.exit_code == 2
    assert "'de'" in result.stderr or "de" in result.stderr


def test_multi_target_and_config_file(article_dir, tmp_path, tiny_bart, tiny_marian_multi):
    config = tmp_path / "run.toml"
    config.write_text(
        'to = ["ko"]\ntranslate = "summary"\n'
        f'[summarizer]\nmodel = "{tiny_bart}"\nnum_beams = 2\nmax_new_tokens = 5\n'
        f'[translator]\nmodel = "{tiny_marian_multi}"\nmax_new_tokens = 4\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    # the flag --to wins over the file's `to`
    result = invoke("batch", article_dir, "--out", out, "--config", config, "--to", "ko,jpn")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "results.jsonl")
    for record in records:
        assert set(record["translations"]) == {"ko", "ja"}
        assert set(record["translations"]["ko"]) - {"title"} == {"summary"}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["config"]["summarizer"]["settings"]["num_beams"] == 2
    assert stats["targets"] == ["ko", "ja"]


def test_bad_config_file_exits_2(article_dir, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[summarizer]\nbeams = 3\n", encoding="utf-8")
    result = invoke("batch", article_dir, "--config", config)
    assert result.exit_code == 2 and "beams" in result.stderr


def test_no_summary_translates_article_only(article_dir, tmp_path, tiny_marian):
    out = tmp_path / "out"
    result = invoke(
        "batch",
        article_dir,
        "--out",
        out,
        "--no-summary",
        "--translate",
        "article",
        "--translator",
        tiny_marian,
        "-q",
    )
    assert result.exit_code == 0, result.output
    for record in read_jsonl(out / "results.jsonl"):
        assert record["summary"] is None
        assert set(record["translations"]["ko"]) - {"title"} == {"article"}


def test_models_list_shows_defaults_and_store(tmp_path, tiny_marian):
    store = tmp_path / "models"
    (store / "org").mkdir(parents=True)
    import shutil

    shutil.copytree(tiny_marian, store / "org" / "tiny-mt")
    result = invoke("models", "list", "--models-dir", store)
    assert result.exit_code == 0
    assert "Helsinki-NLP/opus-mt-tc-big-en-ko" in result.output
    assert "sshleifer/distilbart-cnn-12-6" in result.output
    assert "org/tiny-mt" in result.output


def test_model_under_models_dir_is_used_by_id(article_dir, tmp_path, tiny_bart, tiny_marian):
    import shutil

    store = tmp_path / "models"
    shutil.copytree(tiny_marian, store / "Helsinki-NLP" / "opus-mt-tc-big-en-ko")
    out = tmp_path / "out"
    # no --translator: the default id for ko resolves to the stored copy, no download
    result = invoke(
        "batch", article_dir, "--out", out, "--summarizer", tiny_bart, "--models-dir", store, "-q"
    )
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    translator = next(m for m in stats["models"] if m["role"] == "translator:ko")
    assert translator["model_id"] == "Helsinki-NLP/opus-mt-tc-big-en-ko"
    assert translator["license"] == "cc-by-4.0"


def test_report_command_rebuilds_html(article_dir, tmp_path, tiny_bart, tiny_marian):
    out = tmp_path / "out"
    assert (
        invoke(
            "batch", article_dir, "--out", out, *models_args(tiny_bart, tiny_marian), "-q"
        ).exit_code
        == 0
    )
    (out / "index.html").unlink()
    result = invoke("report", out)
    assert result.exit_code == 0 and (out / "index.html").is_file()


def test_models_download_offline_says_what_to_do(tmp_path):
    result = invoke("models", "download", "Helsinki-NLP/opus-mt-en-de", "--models-dir",
                    tmp_path / "models")
    assert result.exit_code == 2
    assert "Helsinki-NLP/opus-mt-en-de" in result.stderr and "HF_HUB_OFFLINE" in result.stderr
    assert not (tmp_path / "models" / "Helsinki-NLP" / "opus-mt-en-de").exists()
    result = invoke("models", "download", "../../etc", "--models-dir", tmp_path / "models")
    assert result.exit_code == 2 and "hub model id" in result.stderr


def test_version():
    from summarize import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"summarize {__version__}"


def test_batch_help_reads_cleanly_at_80_columns():
    result = CliRunner().invoke(app, ["batch", "--help"], terminal_width=80,
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0
    text = result.output
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "[summarizer]/[translator]" in text  # brackets are not eaten as markup
    for default in ("[default: outputs]", "[default: ko]", "[default: 64]",
                    "[default: sshleifer/distilbart-cnn-12-6]", "[default: auto]"):
        assert default in " ".join(text.split()), default
    assert "<list[" not in text and "<bool>" not in text and "{" not in text
    assert "--trust-remote-code" in text and "--max-loaded-models" in text  # names whole
    assert "batch [OPTIONS] INPUT...\n" in text
