"""Hostile inputs and models: each test checks what the user sees (message, exit status, records).

Most tests run the real command line with the fake backend in place of the models
(``summarize.run.pipeline.load_models`` is replaced), so they are fast; the tests about model
folders (pickle weights, remote code) load the tiny real models.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.inputs import find_files
from summarize.inputs import read as inputs_read
from summarize.outputs.writers import OWN_NAMES
from summarize.run import overlap, pipeline
from summarize.run.pipeline import run_batch
from summarize.settings import RunConfig
from tests.fakes import fake_loader, read_jsonl

runner = CliRunner()

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(md|html)")
GENERATION_TOML = "[summarizer]\nmax_new_tokens = 6\n[translator]\nmax_new_tokens = 6\n"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Rich wraps at the terminal width; a wide one keeps each message on one line."""
    monkeypatch.setenv("COLUMNS", "500")


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def run_fake(monkeypatch, tmp_path: Path, *args: object, loader=None):
    """``summarize batch ARGS`` with the fake models; returns (result, loader)."""
    loader = loader or fake_loader()
    monkeypatch.setattr(pipeline, "load_models", loader)
    result = invoke("batch", *args, "--models-dir", tmp_path / "no-models")
    return result, loader


def records_by_id(out: Path) -> dict[str, dict]:
    records = read_jsonl(out / "results.jsonl")
    assert len(records) == len({r["id"] for r in records})
    return {r["id"]: r for r in records}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def story(i: int) -> str:
    return f"Police arrested {i} men after a robbery in the city centre. Markets rose."


def snapshot(root: Path, exclude: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p != exclude and exclude not in p.parents}


def assert_pages_inside(out: Path, records: dict[str, dict]) -> None:
    """Every page of every record is a plain, safely named file directly in OUT/articles."""
    articles = (out / "articles").resolve()
    stems = set()
    for record in records.values():
        page = (out / record["page"]).resolve()
        assert page.parent == articles, record["page"]
        assert SAFE_NAME.fullmatch(page.name), page.name
        assert page.is_file()
        html = page.with_suffix(".html")
        assert html.is_file() and html.parent == articles
        stems.add(page.stem)
    assert len(stems) == len(records)  # no two ids share a page


# --- oversized, vanishing and unreadable files -------------------------------------------


def test_file_over_max_bytes_fails_alone_without_being_read(
    article_dir, tmp_path, monkeypatch
):
    big = article_dir / "big.txt"
    big.write_bytes(b"All work and no play makes Jack a dull boy. " * 45455)  # ~2 MB
    size = big.stat().st_size
    opened: list[str] = []
    real_open = open

    def spying_open(file, *args, **kwargs):
        opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(inputs_read, "open", spying_open, raising=False)
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, article_dir, "--out", out,
                         "--max-bytes", 1_000_000)
    assert result.exit_code == 1, result.output
    message = f"file is {size} bytes, over the limit of 1000000 (raise --max-bytes)"
    assert f"big.txt: {message}" in result.stderr
    assert "Traceback" not in result.output
    records = records_by_id(out)
    assert records["big.txt"]["status"] == "error"
    assert records["big.txt"]["error"] == message
    assert [r["status"] for rid, r in records.items() if rid != "big.txt"] == ["ok"] * 3
    # refused from its size alone: never opened, so never held in memory
    assert str(big) not in opened and len(opened) == 3


@pytest.mark.parametrize(
    ("mischief", "message"),
    [
        ("delete", "cannot read file: no such file or directory"),
        ("folder", "cannot read file: is a directory"),
    ],
)
def test_file_that_vanishes_after_discovery_fails_alone(
    tmp_path, monkeypatch, mischief, message
):
    src = tmp_path / "in"
    for i in range(5):
        write(src / f"n{i}.txt", story(i))
    real_read_file = overlap.read_file

    def read_file(source, max_bytes):
        if source.rel == "n2.txt":
            source.path.unlink()  # gone between discovery and reading
            if mischief == "folder":
                source.path.mkdir()
        return real_read_file(source, max_bytes)

    monkeypatch.setattr(overlap, "read_file", read_file)  # every loop reads through it
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out, "--group-size", "2")
    assert result.exit_code == 1, result.output
    assert f"n2.txt: {message}" in result.stderr
    records = records_by_id(out)
    assert records["n2.txt"]["status"] == "error"
    assert records["n2.txt"]["error"] == message
    assert {rid for rid, r in records.items() if r["status"] == "ok"} == {
        "n0.txt", "n1.txt", "n3.txt", "n4.txt"}


def test_permission_denied_file_and_folder_fail_alone(tmp_path, monkeypatch):
    # Tests run as root, where chmod does not stop reading: raise the error instead.
    src = tmp_path / "in"
    write(src / "good.txt", story(1))
    secret = write(src / "secret.txt", story(2))
    private = src / "private"
    write(private / "inside.txt", story(3))
    write(src / "z_after.txt", story(4))
    real_open, real_scandir = open, os.scandir

    def guarded_open(file, *args, **kwargs):
        if Path(file) == secret:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def guarded_scandir(path="."):
        if Path(path) == private:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(inputs_read, "open", guarded_open, raising=False)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 1, result.output
    assert "secret.txt: cannot read file: permission denied" in result.stderr
    assert "private: cannot read folder: permission denied" in result.stderr
    records = records_by_id(out)
    assert records["secret.txt"]["error"] == "cannot read file: permission denied"
    assert records["private"]["error"] == "cannot read folder: permission denied"
    assert records["good.txt"]["status"] == records["z_after.txt"]["status"] == "ok"
    assert "Traceback" not in result.output


def test_special_files_are_skipped_not_read(tmp_path, monkeypatch):
    src = tmp_path / "in"
    write(src / "good.txt", story(1))
    os.mkfifo(src / "pipe.txt")  # reading it would block forever
    (src / "zero.txt").symlink_to("/dev/zero")  # reading it would never end
    (src / "broken.txt").symlink_to(src / "nowhere.txt")
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 1, result.output
    records = records_by_id(out)
    assert records["good.txt"]["status"] == "ok"
    assert records["broken.txt"]["error"] == "cannot read file: broken symbolic link"
    assert "pipe.txt" not in records and "zero.txt" not in records
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert {Path(s["source"]).name: s["reason"] for s in stats["skipped"]} == {
        "pipe.txt": "not a regular file",
        # a link out of the input tree is not followed at all (--follow-symlinks would)
        "zero.txt": "symbolic link leading outside the input folder "
                    "(pass --follow-symlinks to read it)"}


# --- names and ids ------------------------------------------------------------------------

NAMES = [
    "with space.txt",
    "한국어 기사.txt",
    "café.md",  # NFC
    "cafe\u0301.md",  # the same name in NFD: a different file
    "new\nline.txt",
    "tab\tand 'quotes\".txt",
    "back\\slash.txt",
    "-starts-with-dash.txt",
    "emoji 📰.txt",
    "日本語.html",
]


def test_unusual_file_names_are_processed_with_safe_page_names(tmp_path, monkeypatch):
    src = tmp_path / "in"
    for i, name in enumerate(NAMES):
        if name.endswith(".html"):
            write(src / name, f"<html><body><p>{story(i)}</p></body></html>")
        else:
            write(src / name, story(i))
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 0, result.output
    records = records_by_id(out)
    assert set(records) == set(NAMES)  # ids are the names, verbatim
    assert all(r["status"] == "ok" for r in records.values())
    assert_pages_inside(out, records)


HOSTILE_IDS = [
    "../../etc/x",
    "/tmp/evil",
    "nul\x00id",
    "new\nline",
    "..",
    ".",
    "C:\\Windows\\evil",
    "a/../../b",
    "%2e%2e%2fx",
    "~root/.bashrc",
    "x" * 5000,
    "<script>alert(1)</script>",
]


def test_hostile_record_ids_stay_inside_the_output_folder(tmp_path, monkeypatch):
    src = tmp_path / "in"
    lines = [json.dumps({"id": rid, "text": story(i)}) for i, rid in enumerate(HOSTILE_IDS)]
    write(src / "records.jsonl", "\n".join(lines) + "\n")
    out = tmp_path / "out"
    outside = snapshot(tmp_path, exclude=out)
    evil = [Path("/tmp/evil"), Path("/tmp/evil.md"), Path("/etc/x"), Path("/etc/x.md")]
    existed = [p.exists() for p in evil]
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 0, result.output
    records = records_by_id(out)
    assert list(records) == HOSTILE_IDS  # kept verbatim, in order
    assert all(r["status"] == "ok" for r in records.values())
    assert_pages_inside(out, records)
    assert snapshot(tmp_path, exclude=out) == outside
    assert [p.exists() for p in evil] == existed
    top = {p.name for p in out.iterdir()}
    assert top <= OWN_NAMES, top


def test_record_id_with_a_lone_surrogate_does_not_crash_the_run(tmp_path, monkeypatch):
    src = tmp_path / "in"
    write(src / "records.jsonl",
          '{"id": "bad\\ud800id", "text": "Markets rose sharply."}\n'
          f'{json.dumps({"id": "fine", "text": story(1)})}\n')
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    records = read_jsonl(out / "results.jsonl")
    assert len(records) == 2
    assert next(r for r in records if r["id"] == "fine")["status"] == "ok"
    # a rerun must not crash either (the folder would otherwise never complete)
    rerun, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert rerun.exit_code in (0, 1), rerun.output


def test_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, monkeypatch):
    # `summarize batch . --out outputs` from inside the news folder does exactly this
    src = tmp_path / "news"
    for i in range(3):
        write(src / f"n{i}.txt", story(i))
    out = src / "outputs"
    first, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert first.exit_code == 0, first.output
    second, loader = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert second.exit_code == 0, second.output
    assert set(records_by_id(out)) == {"n0.txt", "n1.txt", "n2.txt"}
    assert not loader.summarizer.batches
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["articles"]["total"] == stats["articles"]["resumed"] == 3


@pytest.mark.parametrize("below", [False, True], ids=["file", "under-a-file"])
def test_out_naming_a_file_is_a_usage_error(tmp_path, monkeypatch, below):
    src = tmp_path / "in"
    write(src / "n0.txt", story(0))
    taken = write(tmp_path / "notes.txt", "my notes")
    out = taken / "sub" if below else taken
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 2, result.output
    assert str(taken) in result.stderr and "Traceback" not in result.output
    assert taken.read_text("utf-8") == "my notes"


def test_record_text_with_a_lone_surrogate_gets_a_plain_outcome(tmp_path, monkeypatch):
    src = tmp_path / "in"
    write(src / "records.jsonl",
          '{"id": "odd", "text": "Markets rose \\udc80 sharply."}\n'
          f'{json.dumps({"id": "fine", "text": story(1)})}\n')
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    records = records_by_id(out)
    assert records["fine"]["status"] == "ok"
    odd = records["odd"]
    assert odd["status"] == "ok" or "Error" not in odd["error"], odd["error"]


# --- scale ----------------------------------------------------------------------------------


def test_ten_thousand_small_files(tmp_path, monkeypatch, capsys):
    src = tmp_path / "in"
    n = 10_000
    src.mkdir()
    for i in range(n):
        (src / f"n{i:05d}.txt").write_text(f"Item {i}: police arrested {i} men.", "utf-8")
    t0 = time.perf_counter()
    files, skipped, failures = find_files([src])
    discovery_s = time.perf_counter() - t0
    assert len(files) == n and not skipped and not failures
    assert [f.rel for f in files[:2]] == ["n00000.txt", "n00001.txt"]

    # Durability is not what this test is about: each page (.md and .html) is fsynced on its
    # own, which on this file system costs 20-40 s for 10,000 articles. Skip the fsyncs.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    loader = fake_loader()
    t0 = time.perf_counter()
    result = run_batch(RunConfig(inputs=(str(src),), out_dir=str(tmp_path / "out")),
                       loader=loader)
    run_s = time.perf_counter() - t0
    assert (result.n_ok, result.n_failed, result.exit_code) == (n, 0, 0)
    records = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert len(records) == n and len({r["id"] for r in records}) == n
    assert len(list((tmp_path / "out" / "articles").glob("*.md"))) == n
    summarized = sum(len(b) for b in loader.summarizer.batches)
    assert summarized == n
    with capsys.disabled():
        print(f"\n10,000 files: discovery {discovery_s:.2f} s, fake run {run_s:.1f} s")


# --- duplicates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dedupe", "group_size"),
    [
        (False, 8),
        (False, 1),
        (True, 8),
        pytest.param(True, 1),
    ],
    ids=["default-one-group", "default-groups-of-1", "dedupe-one-group",
         "dedupe-groups-of-1"],
)
def test_identical_articles_under_different_names(tmp_path, dedupe, group_size):
    src = tmp_path / "in"
    same = "The same wire story was filed twice by two desks. Markets rose sharply."
    write(src / "a_first.txt", same)
    write(src / "b_other.txt", story(7))
    write(src / "c_copy.txt", same)
    out = tmp_path / "out"
    loader = fake_loader()
    config = RunConfig(inputs=(str(src),), out_dir=str(out), dedupe=dedupe,
                       group_size=group_size)
    result = run_batch(config, loader=loader)
    assert (result.n_ok, result.exit_code) == (3, 0)
    records = records_by_id(out)
    first, copy = records["a_first.txt"], records["c_copy.txt"]
    assert first["status"] == copy["status"] == "ok"
    assert first["summary"] == copy["summary"] and first["summary"]
    assert first["translations"] == copy["translations"]
    assert first["source"] != copy["source"] and first["page"] != copy["page"]
    seen = [t for batch in loader.summarizer.batches for t in batch]
    assert seen.count(same) == (1 if dedupe else 2)
    assert_pages_inside(out, records)
    # both resume on the next run
    again = run_batch(config, loader=fake_loader())
    assert again.n_resumed == 3 and not again.models_loaded


# --- model folders ----------------------------------------------------------------------------


def model_args(tmp_path: Path, summarizer: Path, translator: Path) -> list[object]:
    toml = tmp_path / "gen.toml"
    toml.write_text(GENERATION_TOML, encoding="utf-8")
    return ["--summarizer", summarizer, "--translator", translator, "--config", toml,
            "--models-dir", tmp_path / "no-models", "-q"]


def test_model_without_safetensors_needs_allow_pickle(article_dir, tmp_path, tiny_bart,
                                                      tiny_marian):
    import torch
    from safetensors.torch import load_file

    pickled = tmp_path / "pickled-mt"
    shutil.copytree(tiny_marian, pickled)
    state = load_file(pickled / "model.safetensors")
    (pickled / "model.safetensors").unlink()
    torch.save(state, pickled / "pytorch_model.bin")
    out = tmp_path / "out"
    args = ["batch", article_dir, "--out", out, *model_args(tmp_path, tiny_bart, pickled)]

    refused = invoke(*args)
    assert refused.exit_code == 2, refused.output
    assert "--allow-pickle" in refused.stderr and str(pickled) in refused.stderr
    assert "Traceback" not in refused.output
    assert not (out / "results.jsonl").exists()

    allowed = invoke(*args, "--allow-pickle")
    assert allowed.exit_code == 0, allowed.output
    assert [r["status"] for r in read_jsonl(out / "results.jsonl")] == ["ok"] * 3


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json"])
def test_model_with_remote_code_is_refused_and_never_run(
    article_dir, tmp_path, tiny_bart, tiny_marian, where
):
    remote = tmp_path / "remote-mt"
    shutil.copytree(tiny_marian, remote)
    marker = tmp_path / "REMOTE_CODE_RAN"
    (remote / "modeling_x.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "class XModel: pass\nclass XConfig: pass\nclass XTokenizer: pass\n",
        encoding="utf-8",
    )
    data = json.loads((remote / where).read_text("utf-8"))
    data["auto_map"] = {
        "AutoConfig": "modeling_x.XConfig",
        "AutoModelForSeq2SeqLM": "modeling_x.XModel",
        "AutoTokenizer": ["modeling_x.XTokenizer", None],
    }
    (remote / where).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("batch", article_dir, "--out", out,
                    *model_args(tmp_path, tiny_bart, remote))
    assert not marker.exists(), "the model's own code was imported"
    assert "Traceback" not in result.output
    if where == "config.json":
        assert result.exit_code == 2, result.output
        assert "--trust-remote-code" in result.stderr and str(remote) in result.stderr
        assert not (out / "results.jsonl").exists()
    else:
        # The tokenizer's auto_map is ignored: the built-in Marian tokenizer is used.
        assert result.exit_code == 0, result.output


def test_markdown_pages_keep_hostile_ids_and_text_literal(tmp_path):
    from summarize.outputs.markdown import render_markdown
    from summarize.records import ArticleResult

    evil = "x\n\n<img src=x onerror=alert(1)>\n# heading\n`code` [link](http://e) &amp;\x1b[2J"
    page = render_markdown(ArticleResult(id=evil, source=evil, status="ok", title=evil,
                                         text=evil, summary=evil))
    assert not re.search(r"(?<!\\)[<>`\[]", page)  # every tag, code and link char escaped
    assert "\\<img" in page
    assert "\x1b" not in page
    assert "\n# heading" not in page  # no heading made from data
    header = page.split("\n## ", 1)[0]
    # the id, source and title stay on their own line each
    assert sum(line.startswith("- id: ") for line in header.splitlines()) == 1
    assert "\\&amp;" in page


def test_console_neutralises_control_characters_in_file_names(monkeypatch, tmp_path):
    src = tmp_path / "in"
    write(src / "ok.txt", story(1))
    (src / "evil\x1b]0;pwned\x07\x1b[2J.txt").write_text("", "utf-8")  # fails: empty
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J.txt" in result.stderr


def test_a_folder_without_articles_is_a_usage_error(monkeypatch, tmp_path):
    src = tmp_path / "in"
    write(src / "notes.pdf", "x")
    write(src / "image.png", "x")
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "no article files in" in result.stderr and "2 file(s) skipped" in result.stderr
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    result, _ = run_fake(monkeypatch, tmp_path, empty, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "no files" in result.stderr


# --- the output folder is the tool's own ---------------------------------------------------


def test_out_equal_to_an_input_folder_is_refused(monkeypatch, tmp_path):
    site = tmp_path / "site"
    write(site / "story.txt", story(1))
    index = write(site / "index.html", "<html>my own site</html>")
    result, _ = run_fake(monkeypatch, tmp_path, site, "--out", site)
    assert result.exit_code == 2
    assert "is also an input folder" in result.stderr
    assert index.read_text() == "<html>my own site</html>"
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "story.txt"]


def test_a_folder_with_files_the_tool_did_not_write_is_refused(monkeypatch, tmp_path):
    src = tmp_path / "in"
    write(src / "story.txt", story(1))
    out = tmp_path / "site"
    index = write(out / "index.html", "<html>mine</html>")
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 2
    assert "holds files this tool did not write (index.html)" in result.stderr
    assert index.read_text() == "<html>mine</html>" and sorted(os.listdir(out)) == ["index.html"]
    # its own folder, and an empty one, are fine; a rerun resumes
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", tmp_path / "fresh")
    assert result.exit_code == 0
    assert (tmp_path / "fresh" / ".summarize-output").is_file()
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", tmp_path / "fresh")
    assert result.exit_code == 0 and "1 already done" in result.stderr.replace("\n", " ")


def test_an_output_folder_of_an_earlier_version_is_adopted(monkeypatch, tmp_path):
    src = tmp_path / "in"
    write(src / "story.txt", story(1))
    out = tmp_path / "out"
    run_fake(monkeypatch, tmp_path, src, "--out", out)
    (out / ".summarize-output").unlink()  # as written before the marker existed
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 0 and (out / ".summarize-output").is_file()


@pytest.mark.parametrize("damage", ["results-dir", "stats-dir", "articles-file",
                                    "dangling-link", "read-only"])
def test_output_folder_problems_are_one_line_before_any_work(monkeypatch, tmp_path, damage):
    src = tmp_path / "in"
    write(src / "story.txt", story(1))
    out = tmp_path / "out"
    if damage == "dangling-link":
        out.symlink_to(tmp_path / "gone")
    else:
        out.mkdir()
        (out / ".summarize-output").write_text("{}")
    if damage == "results-dir":
        (out / "results.jsonl").mkdir()
    elif damage == "stats-dir":
        (out / "stats.json").mkdir()
    elif damage == "articles-file":
        (out / "articles").write_text("x")
    elif damage == "read-only":
        real_mkstemp = tempfile.mkstemp

        def refuse(*args, **kwargs):  # root ignores chmod, so refuse the write itself
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr("summarize.outputs.writers.tempfile.NamedTemporaryFile", refuse)
        monkeypatch.setattr("summarize.outputs.writers.tempfile.mkstemp", refuse)
        assert real_mkstemp
    loader = fake_loader()
    calls = []
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out,
                         loader=lambda config: calls.append(1) or loader(config))
    assert result.exit_code == 2, result.output
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith("summarize: error: --out ")
    assert "Traceback" not in result.output and calls == []


def test_disk_full_mid_run_keeps_finished_records_and_says_how_to_resume(monkeypatch, tmp_path):
    src = tmp_path / "in"
    for i in range(6):
        write(src / f"s{i}.txt", story(i))
    out = tmp_path / "out"
    from summarize.outputs import writers

    real_append = writers.ResultsLog.append
    appended = []

    def append(self, records):
        if appended:
            raise OSError(errno.ENOSPC, "No space left on device")
        appended.append(1)
        real_append(self, records)

    monkeypatch.setattr(writers.ResultsLog, "append", append)
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out, "--group-size", "2")
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr and "run the same command again" in (
        result.stderr.replace("\n", " "))
    assert "Traceback" not in result.output
    assert len(read_jsonl(out / "results.jsonl")) == 2  # the first group is kept
    monkeypatch.setattr(writers.ResultsLog, "append", real_append)
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out, "--group-size", "2")
    assert result.exit_code == 0 and len(read_jsonl(out / "results.jsonl")) == 6


def test_a_report_that_cannot_be_written_is_an_error(monkeypatch, tmp_path):
    src = tmp_path / "in"
    write(src / "story.txt", story(1))

    def broken(out_dir):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("summarize.outputs.report.write_report", broken)
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "could not write the HTML report" in result.stderr
    assert "summarize report" in result.stderr.replace("\n", " ")


def test_no_readable_article_is_a_usage_error(monkeypatch, tmp_path):
    src = tmp_path / "in"
    write(src / "empty.txt", "")
    write(src / "binary.txt", "\x00\x01\x02")
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "no readable article in" in result.stderr and "2 input(s) failed" in result.stderr


# --- bounded work in flight, whatever the input shape -------------------------------------


def test_a_big_jsonl_is_written_group_by_group(monkeypatch, tmp_path):
    """150 records with --group-size 8: records reach results.jsonl as each group finishes,
    so a kill after a few groups keeps them (here: a failure injected at the 4th group)."""
    src = tmp_path / "in"
    lines = [json.dumps({"id": f"r{i:03d}", "text": story(i)}) for i in range(150)]
    write(src / "feed.jsonl", "\n".join(lines) + "\n")
    out = tmp_path / "out"
    from summarize.outputs import writers

    real_append = writers.ResultsLog.append
    groups = []

    def append(self, records):
        groups.append(len(records))
        if len(groups) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, records)

    monkeypatch.setattr(writers.ResultsLog, "append", append)
    result, loader = run_fake(monkeypatch, tmp_path, src, "--out", out, "--group-size", "8")
    assert result.exit_code == 1 and "No space left" in result.stderr
    assert groups[:3] == [8, 8, 8]
    assert len(read_jsonl(out / "results.jsonl")) == 24  # three whole groups were kept
    # the summarizer saw one group at a time, not the whole file
    assert max(len(b) for b in loader.summarizer.batches) <= 8


def test_an_unparsable_jsonl_line_fails_that_line_alone(monkeypatch, tmp_path):
    src = tmp_path / "in"
    huge = "1" * 5000  # over Python's int-string limit: json.loads raises ValueError
    write(src / "feed.jsonl", "\n".join([
        json.dumps({"id": "a", "text": story(1)}),
        '{"id": "b", "text": "x", "n": ' + huge + "}",
        '{"id": "c", "text": ' + "[" * 100_000 + "}",
        json.dumps({"id": "d", "text": story(2)}),
    ]) + "\n")
    out = tmp_path / "out"
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 1, result.output
    records = records_by_id(out)
    assert records["a"]["status"] == "ok" and records["d"]["status"] == "ok"
    assert records["feed.jsonl#2"]["status"] == "error"
    assert "line 2" in records["feed.jsonl#2"]["error"]
    assert records["feed.jsonl#3"]["status"] == "error"
    assert "Traceback" not in result.output


def test_models_download_without_the_hub_does_not_advise_itself(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("models", "download", "Helsinki-NLP/opus-mt-en-de", "--models-dir",
                    tmp_path / "models")
    assert result.exit_code == 2
    line = " ".join(result.stderr.split())
    assert "cannot download 'Helsinki-NLP/opus-mt-en-de'" in line
    assert "summarize models download" not in line
    assert not (tmp_path / "models" / "Helsinki-NLP" / "opus-mt-en-de").exists()


def test_a_folder_holding_only_a_placeholder_is_empty(monkeypatch, tmp_path):
    """The repository's own outputs/ holds .gitkeep: the default --out must work."""
    src = tmp_path / "in"
    write(src / "story.txt", story(1))
    out = tmp_path / "outputs"
    write(out / ".gitkeep", "")
    result, _ = run_fake(monkeypatch, tmp_path, src, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / ".gitkeep").read_text() == ""  # never touched


class PanicException(BaseException):
    """How pyo3 extensions (tokenizers, sentencex) raise a Rust panic: not an Exception."""


@pytest.mark.parametrize("where", ["summarizer", "translator"])
def test_a_tokenizer_panic_on_one_article_fails_that_article_alone(tmp_path, where):
    from tests.fakes import FakeBackend

    class Panicking(FakeBackend):
        def count_tokens(self, requests):
            if any("PANIC" in r.text.upper() for r in requests):
                raise PanicException("byte index 7 is not a char boundary")
            return super().count_tokens(requests)

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name in ("a", "b", "c"):
        text = f"Story {name} about the city council. It met on Monday to vote."
        if name == "b":
            text += " The word panic appears here."
        (src / f"{name}.txt").write_text(text, "utf-8")
    backends = {"summarizer": FakeBackend("summarize"), "translator": FakeBackend("translate")}
    backends[where] = Panicking("summarize" if where == "summarizer" else "translate")
    loader = fake_loader(summarizer=backends["summarizer"], translator=backends["translator"])
    result = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), translate="both"),
                       loader=loader)
    got = records_by_id(out)
    assert got["a.txt"]["status"] == got["c.txt"]["status"] == "ok"
    assert got["b.txt"]["status"] == "error" and "char boundary" in got["b.txt"]["error"]
    assert "\n" not in got["b.txt"]["error"]
    assert (result.n_ok, result.n_failed) == (2, 1)
