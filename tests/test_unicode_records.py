"""Text UTF-8 cannot hold (lone surrogates, valid in JSON as ``"\\ud800"``) and line breaks
other than ``\\n`` in references and results: eval and report never crash on them."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.outputs.writers import ResultsLog, json_text, read_results, valid_text
from summarize.records import ArticleResult
from summarize.run.pipeline import run_batch
from summarize.settings import RunConfig
from tests.fakes import fake_loader

LONE = ["\ud800", "\udfff", "a\udc80b", "\ud83d"]  # high, low, mid-text, half an emoji


def _tool_folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("The council approved the plan on Monday. Work starts soon.")
    out = tmp_path / "out"
    run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), targets=("ko",)),
              loader=fake_loader())
    return out


def _hand_record(rid: str, text: str) -> str:
    """A results line as a person or another tool might write it, ASCII-escaped JSON."""
    return json.dumps({"id": rid, "source": rid, "status": "ok", "schema_version": 1,
                       "title": text, "summary": text, "lang": "en",
                       "translations": {"ko": {"summary": text}},
                       "alignment": {"ko": {"summary": [[[text, text]]]}}}) + "\n"


@pytest.mark.parametrize("lone", LONE)
def test_eval_and_report_with_lone_surrogates_in_ids_and_texts(tmp_path, lone):
    out = _tool_folder(tmp_path)
    with (out / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(_hand_record(f"zz{lone}", f"The plan {lone} was approved."))
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"id": f"zz{lone}", "summary": f"Plan {lone} approved.",
                                "translations": {"ko": {"summary": f"계획 {lone}"}}}) + "\n"
                    + json.dumps({"id": "a.txt", "summary": "The council approved it."}) + "\n",
                    encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(out), "--references", str(refs)])
    assert result.exit_code == 0, result.output
    assert "matched 2 of 2 articles" in result.output
    data = (out / "eval.json").read_bytes().decode("utf-8")  # valid UTF-8
    assert json.loads(data)["n_matched"] == 2
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    index = (out / "index.html").read_text("utf-8")
    assert valid_text(f"zz{lone}") in index  # shown with U+FFFD


def test_eval_json_keeps_a_lone_surrogate_exactly():
    value = {"id": "zz\ud800", "ok": "한국어"}
    text = json_text(value)
    assert text.encode("utf-8") and "한국어" in text and "\\ud800" in text
    assert json.loads(text) == value


def test_results_log_writes_and_reads_back_a_lone_surrogate(tmp_path):
    log = ResultsLog(tmp_path)
    log.append([ArticleResult(id="x\ud800", source="s", status="ok", summary="y\udfff")])
    assert log.n_written == 1
    raw = (tmp_path / "results.jsonl").read_bytes()
    assert raw.decode("utf-8").endswith("\n")
    assert json.loads(raw)["id"] == "x\ud800"  # exactly what was written
    records, bad = read_results(tmp_path)  # what views read: printable, writable
    assert bad == 0 and list(records) == ["x\ufffd"] and records["x\ufffd"]["summary"] == "y\ufffd"
    assert valid_text({"k\ud800": ["v\udc00", ("t\ud801",)]}) == {
        "k\ufffd": ["v\ufffd", ("t\ufffd",)]}


def test_references_read_like_every_side_file(tmp_path):
    """A BOM, CRLF and a U+2028 inside a JSON string (valid JSON) do not break lines."""
    out = _tool_folder(tmp_path)
    refs = tmp_path / "refs.jsonl"
    line = json.dumps({"id": "a.txt", "summary": "The council\u2028approved\u0085it."},
                      ensure_ascii=False)
    refs.write_bytes(codecs.BOM_UTF8 + (line + "\r\n").encode("utf-8"))
    result = CliRunner().invoke(app, ["eval", str(out), "--references", str(refs)])
    assert result.exit_code == 0, result.output
    assert "matched 1 of 1 articles" in result.output


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "latin1"])
def test_hostile_references_are_one_line(tmp_path, kind):
    out = _tool_folder(tmp_path)
    if kind == "fifo":
        refs = tmp_path / "refs.jsonl"
        os.mkfifo(refs)
    elif kind == "latin1":
        refs = tmp_path / "refs.jsonl"
        refs.write_bytes('{"id": "a.txt", "summary": "Zürich"}\n'.encode("latin-1"))
    else:
        refs = Path(kind)
    result = CliRunner().invoke(app, ["eval", str(out), "--references", str(refs)])
    assert result.exit_code == 2, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and str(refs) in lines[0] and "Traceback" not in result.output
    assert not (out / "eval.json").exists()
