"""Nothing lost: reruns resume, crashes and Ctrl-C lose no finished work, one run per folder.

Most tests drive :func:`summarize.run.pipeline.run_batch` with the fake backend and count the
model loads and generate calls of each run. The crash and Ctrl-C tests start the real
``summarize batch`` command in a subprocess on the tiny models, kill or interrupt it while
it works (polling ``results.jsonl`` so the signal lands mid-run, after the slow imports),
rerun it, and check the invariants of the output folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.errors import OutputLockedError, UsageError
from summarize.outputs.markdown import render_markdown
from summarize.records import result_from_json
from summarize.run import pipeline
from summarize.run.pipeline import run_batch
from summarize.settings import RoleConfig, RunConfig
from tests.fakes import FakeBackend, fake_loader

runner = CliRunner()

# Short outputs keep the tiny random models fast and inside their 64/128 positions.
GENERATION_TOML = "[summarizer]\nmax_new_tokens = 6\n[translator]\nmax_new_tokens = 6\n"
RESUME_HINT = "run the same command again to resume"


# --- helpers ------------------------------------------------------------------------------


def body(i: int) -> str:
    return (
        f"Officials said on Monday that talks number {i} would continue next week. "
        f"Markets rose sharply after announcement {i} by the central bank."
    )


def write_articles(root: Path, n: int, start: int = 0) -> dict[str, str]:
    """Write ``n`` small articles (a title line and one paragraph); returns id -> body."""
    root.mkdir(parents=True, exist_ok=True)
    ids = {}
    for i in range(start, start + n):
        name = f"a{i:03d}.txt"
        (root / name).write_text(f"Story {i}\n\n{body(i)}\n", encoding="utf-8")
        ids[name] = body(i)
    return ids


class CountingLoader:
    """Wraps :func:`fake_loader`, counting how often the run loads models."""

    def __init__(self, **backends: FakeBackend):
        self.inner = fake_loader(**backends)
        self.summarizer: FakeBackend = self.inner.summarizer
        self.translator: FakeBackend = self.inner.translator
        self.calls = 0

    def __call__(self, config: RunConfig):
        self.calls += 1
        return self.inner(config)

    def summarized(self) -> list[str]:
        return [text for batch in self.summarizer.batches for text in batch]

    def n_batches(self) -> int:
        return len(self.summarizer.batches) + len(self.translator.batches)


def config_for(src: Path, out: Path, **kw) -> RunConfig:
    return RunConfig(inputs=(str(src),), out_dir=str(out), group_size=3, **kw)


def results_lines(out: Path) -> list[bytes]:
    return (out / "results.jsonl").read_bytes().splitlines(keepends=True)


def check_results_file(out: Path) -> dict[str, dict]:
    """Every line is whole JSON, one line per id; returns the records by id."""
    lines = results_lines(out)
    records = [json.loads(line) for line in lines]
    assert all(line.endswith(b"\n") for line in lines)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "results.jsonl holds an id twice"
    return {r["id"]: r for r in records}


def stats_of(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text("utf-8"))


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def snapshot(root: Path, exclude: Path | None = None) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of every file under ``root`` outside ``exclude``."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if exclude is not None and (here == exclude or exclude in here.parents):
            dirnames[:] = []
            continue
        for name in filenames:
            st = (here / name).stat()
            found[str((here / name).relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


# --- rerun, change, force -----------------------------------------------------------------


def test_rerun_with_unchanged_inputs_loads_no_model_and_generates_nothing(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 7)
    config = config_for(src, out)
    first_loader = CountingLoader()
    first = run_batch(config, loader=first_loader)
    assert (first.n_ok, first.n_resumed, first.exit_code) == (7, 0, 0)
    assert first_loader.calls == 1 and first.models_loaded and first.generate_calls > 0
    before = (out / "results.jsonl").read_bytes()

    loader = CountingLoader()
    second = run_batch(config, loader=loader)
    assert loader.calls == 0 and not second.models_loaded
    assert second.generate_calls == 0 and loader.n_batches() == 0
    assert (second.n_ok, second.n_resumed, second.n_failed, second.exit_code) == (7, 7, 0, 0)
    # nothing was rewritten: one record per article, byte for byte the first run's
    assert (out / "results.jsonl").read_bytes() == before
    assert set(check_results_file(out)) == set(ids)
    stats = stats_of(out)
    assert stats["articles"] == {"total": 7, "ok": 7, "failed": 0, "skipped": 0, "resumed": 7}
    # the run that did the work keeps its figures on top; the instant rerun joins the history
    assert stats["models_loaded"] is True and stats["interrupted"] is False
    assert stats["wall_s"] == first.stats.wall_s
    assert stats["stages"]["summarize"]["n_items"] == first.stats.stages["summarize"].n_items
    assert [r["processed"] for r in stats["runs"]] == [7, 0]
    assert stats["runs"][0]["run"] == stats["run"] == first.stats.run
    assert {r["run"] for r in check_results_file(out).values()} == {first.stats.run}


def test_cli_rerun_resumes_with_tiny_models(article_dir, tmp_path, tiny_bart, tiny_marian):
    out = tmp_path / "out"
    toml = tmp_path / "gen.toml"
    toml.write_text(GENERATION_TOML, encoding="utf-8")
    args = ["batch", article_dir, "--out", out, "--summarizer", tiny_bart,
            "--translator", tiny_marian, "--config", toml, "--models-dir", tmp_path / "m", "-q"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    before = (out / "results.jsonl").read_bytes()
    models = stats_of(out)["models"]
    assert models

    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert "3 ok (3 already done)" in second.stderr
    assert (out / "results.jsonl").read_bytes() == before
    stats = stats_of(out)
    assert stats["articles"]["resumed"] == 3 and stats["articles"]["ok"] == 3
    assert [r["processed"] for r in stats["runs"]] == [3, 0]  # the rerun did nothing
    assert stats["models"] == models  # the models that made the results are still named

    forced = invoke(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert "3 ok (0 already done)" in forced.stderr
    assert stats_of(out)["articles"]["resumed"] == 0
    assert len(check_results_file(out)) == 3


def test_changed_article_alone_is_recomputed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 6)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    old = check_results_file(out)

    new_body = "Police arrested two men after a robbery in the city centre."
    (src / "a002.txt").write_text(f"Story 2\n\n{new_body}\n", encoding="utf-8")
    loader = CountingLoader()
    result = run_batch(config, loader=loader)
    assert (result.n_ok, result.n_resumed) == (6, 5)
    assert loader.calls == 1
    assert loader.summarized() == [new_body]
    translated = [t for batch in loader.translator.batches for t in batch]
    # the changed article's body and its headline, nothing of the others
    assert translated and all(t in new_body or t == "Story 2" for t in translated)

    records = check_results_file(out)
    assert len(records) == 6
    assert records["a002.txt"]["text"] == new_body
    assert records["a002.txt"]["key"] != old["a002.txt"]["key"]
    for rid in set(records) - {"a002.txt"}:
        assert records[rid] == old[rid]
    assert new_body in (out / records["a002.txt"]["page_md"]).read_text("utf-8")


def test_new_file_alone_is_processed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 4)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    added = write_articles(src, 1, start=4)
    loader = CountingLoader()
    result = run_batch(config, loader=loader)
    assert (result.n_ok, result.n_resumed) == (5, 4)
    assert loader.summarized() == list(added.values())
    assert len(check_results_file(out)) == 5


def test_missing_page_or_failed_record_is_recomputed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 5)
    config = config_for(src, out)
    first = run_batch(config, loader=CountingLoader(summarizer=FakeBackend(
        "summarize", fail_on="number 3")))
    assert (first.n_ok, first.n_failed) == (4, 1)
    records = check_results_file(out)
    assert records["a003.txt"]["status"] == "error"
    (out / records["a001.txt"]["page_md"]).unlink()

    loader = CountingLoader()
    second = run_batch(config, loader=loader)
    assert (second.n_ok, second.n_failed, second.n_resumed) == (5, 0, 3)
    assert sorted(loader.summarized()) == sorted([ids["a001.txt"], ids["a003.txt"]])
    records = check_results_file(out)
    assert all(r["status"] == "ok" for r in records.values()) and len(records) == 5
    assert (out / records["a001.txt"]["page_md"]).is_file()


@pytest.mark.parametrize(
    "change",
    [
        {"targets": ("ko", "ja")},
        {"translator": RoleConfig(settings={"num_beams": 2})},
        {"summarizer": RoleConfig(settings={"max_new_tokens": 5})},
        {"translate": "both"},
        {"force": True},
    ],
    ids=["targets", "translator-setting", "summarizer-setting", "translate-both", "force"],
)
def test_changed_setting_or_force_recomputes_everything(tmp_path, change):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 5)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    old = check_results_file(out)

    loader = CountingLoader()
    result = run_batch(replace(config, **change), loader=loader)
    assert (result.n_ok, result.n_resumed) == (5, 0)
    assert sorted(loader.summarized()) == sorted(ids.values())
    records = check_results_file(out)  # one line per id...
    assert set(records) == set(ids)
    assert len(results_lines(out)) == 5
    for rid, record in records.items():  # ...the latest one
        if not change.get("force"):
            assert record["key"] != old[rid]["key"]
        if "targets" in change:
            assert set(record["translations"]) == {"ko", "ja"}
        if change.get("translate") == "both":
            assert set(record["translations"]["ko"]) - {"title"} == {"summary", "article"}

    # and the new settings resume in turn
    again = run_batch(replace(config, **{**change, "force": False}), loader=CountingLoader())
    assert again.n_resumed == 5 and not again.models_loaded


# --- results.jsonl repair -----------------------------------------------------------------


def test_torn_last_line_is_repaired_without_losing_records(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 5)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    with (out / "results.jsonl").open("ab") as handle:
        handle.write(b'{"id": "x", "sta')

    loader = CountingLoader()
    result = run_batch(config, loader=loader)
    assert (result.n_ok, result.n_resumed, result.n_failed) == (5, 5, 0)
    assert loader.calls == 0
    records = check_results_file(out)
    assert set(records) == set(ids) and "x" not in records
    assert all(r["status"] == "ok" for r in records.values())


@pytest.mark.parametrize("garbage", [b"not json at all\n", b"[1, 2, 3]\n",
                                     b'{"id": "x", "from": "another program"}\n'])
def test_lines_that_are_not_records_are_never_deleted(tmp_path, garbage):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 3)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    path = out / "results.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + garbage + b"".join(lines[1:]))
    before = path.read_bytes()
    loader = CountingLoader()
    result = runner.invoke(app, ["batch", str(src), "--out", str(out), "-q"])
    assert result.exit_code == 2
    assert f"{path} line 2 is not a record of summarize" in result.stderr
    assert path.read_bytes() == before  # refused, untouched
    with pytest.raises(UsageError, match="line 2 is not a record"):
        run_batch(config, loader=loader)
    assert loader.calls == 0 and path.read_bytes() == before


def test_duplicate_lines_compact_to_the_latest_record(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 4)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    records = check_results_file(out)
    newer = {**records["a001.txt"], "status": "error", "error": "boom", "key": None}
    with (out / "results.jsonl").open("ab") as handle:
        handle.write((json.dumps(newer) + "\n").encode())

    loader = CountingLoader()
    result = run_batch(config, loader=loader)
    # the latest record of a001 (an error) wins, so a001 alone is computed again
    assert loader.summarized() == [ids["a001.txt"]]
    assert (result.n_ok, result.n_resumed) == (4, 3)
    assert len(results_lines(out)) == 4
    assert all(r["status"] == "ok" for r in check_results_file(out).values())


def test_stale_temp_files_of_a_crash_are_removed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 3)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    # what a SIGKILL between mkstemp and os.replace leaves behind
    stale = [
        out / "articles" / ".a000.txt-0123456789.md.k3j2h1.tmp",
        out / "articles" / ".a000.txt-0123456789.html.x9y8z7.tmp",
        out / ".stats.json.abc123.tmp",
        out / ".results.jsonl.def456.tmp",
    ]
    for path in stale:
        path.write_text("half a fi", encoding="utf-8")
    run_batch(config, loader=CountingLoader())
    assert [p.name for p in stale if p.exists()] == []


# --- the lock -----------------------------------------------------------------------------


def test_locked_output_folder_exits_2_and_touches_nothing(tmp_path, monkeypatch):
    from filelock import FileLock

    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 2)
    config = config_for(src, out)
    run_batch(config, loader=CountingLoader())
    before = (out / "results.jsonl").read_bytes()
    monkeypatch.setattr(pipeline, "load_models", CountingLoader())
    lock = FileLock(str(out / ".lock"))
    with lock.acquire(timeout=5):
        result = invoke("batch", src, "--out", out, "--force", "--models-dir",
                        tmp_path / "m", "-q")
        assert result.exit_code == 2, result.output
        assert "another summarize run" in result.stderr and str(out) in result.stderr
        assert "Traceback" not in result.output
        with pytest.raises(OutputLockedError):
            run_batch(replace(config, force=True), loader=CountingLoader())
    assert (out / "results.jsonl").read_bytes() == before
    # once the lock is free the same command runs
    assert invoke("batch", src, "--out", out, "--models-dir", tmp_path / "m", "-q").exit_code == 0


# --- Ctrl-C -------------------------------------------------------------------------------


def interrupting_loader(on: str = "number 3") -> CountingLoader:
    """Fake models that press Ctrl-C (SIGINT to this process) when ``on`` is summarized.

    With groups of 3 that is during the second group: the first is saved, the second not.
    """

    class Interrupting(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            if any(on in t for t in (r.text for r in requests)):
                os.kill(os.getpid(), signal.SIGINT)
            return super().generate(requests, settings, max_new_tokens)

    return CountingLoader(summarizer=Interrupting("summarize"))


@pytest.mark.parametrize(
    "quiet",
    [
        False,
        pytest.param(True),
    ],
    ids=["bars", "quiet"],
)
def test_ctrl_c_in_process_stops_cleanly_and_tells_how_to_resume(tmp_path, monkeypatch, quiet):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 9)
    monkeypatch.setattr(pipeline, "load_models", interrupting_loader())
    args = ["batch", src, "--out", out, "--group-size", "3", "--models-dir", tmp_path / "m"]
    result = invoke(*args, *(["-q"] if quiet else []))
    assert result.exit_code == 1, result.output
    stats = stats_of(out)
    assert stats["interrupted"] is True
    assert stats["articles"]["ok"] == len(check_results_file(out)) == 3
    assert RESUME_HINT in result.stderr


def test_ctrl_c_exit_code_is_1_and_rerun_finishes(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 9)
    config = config_for(src, out)
    handler = signal.getsignal(signal.SIGINT)
    result = run_batch(config, loader=interrupting_loader(), handle_sigint=True)
    assert result.interrupted and result.exit_code == 1
    # the group being worked on when Ctrl-C came is dropped, never half-written
    assert result.n_ok == 3 and set(check_results_file(out)) == {"a000.txt", "a001.txt",
                                                                  "a002.txt"}
    assert signal.getsignal(signal.SIGINT) is handler  # the caller's handler is back
    loader = CountingLoader()
    again = run_batch(config, loader=loader, handle_sigint=True)
    assert (again.n_ok, again.n_resumed, again.exit_code, again.interrupted) == (9, 3, 0, False)
    assert len(loader.summarized()) == 6


def test_second_ctrl_c_aborts_with_130_and_keeps_the_folder_valid(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 9)

    class PressedTwice(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            if any("number 3" in t for t in (r.text for r in requests)):
                os.kill(os.getpid(), signal.SIGINT)  # stop after this batch...
                os.kill(os.getpid(), signal.SIGINT)  # ...no: abort now
            return super().generate(requests, settings, max_new_tokens)

    monkeypatch.setattr(pipeline, "load_models",
                        CountingLoader(summarizer=PressedTwice("summarize")))
    args = ["batch", src, "--out", out, "--group-size", "3", "--models-dir", tmp_path / "m"]
    result = invoke(*args)
    assert result.exit_code == 130, result.output
    assert "aborted; run the same command again to resume" in result.stderr
    assert set(check_results_file(out)) == {"a000.txt", "a001.txt", "a002.txt"}
    # the lock was released and the rerun finishes the job
    monkeypatch.setattr(pipeline, "load_models", CountingLoader())
    again = invoke(*args, "-q")
    assert again.exit_code == 0, again.output
    assert set(check_results_file(out)) == set(ids)
    assert stats_of(out)["articles"]["resumed"] == 3


def test_output_files_get_normal_permissions(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_articles(src, 2)
    old_umask = os.umask(0o022)
    try:
        run_batch(config_for(src, out), loader=CountingLoader())
        with (out / "results.jsonl").open("ab") as handle:
            handle.write(b'{"torn')  # so the next run compacts (rewrites) results.jsonl
        run_batch(config_for(src, out), loader=CountingLoader())
    finally:
        os.umask(old_umask)
    modes = {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777)
             for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert set(modes.values()) == {"0o644"}, modes


# --- real subprocesses: SIGKILL and SIGINT --------------------------------------------------


def n_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def start(cmd: list[str], cwd: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def wait_for_lines(proc: subprocess.Popen, results: Path, k: int, limit: float = 90) -> None:
    """Poll until results.jsonl has at least ``k`` lines (or the process ended)."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and n_lines(results) < k:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {k} lines in results.jsonl after {limit} s")
        time.sleep(0.005)


@pytest.fixture()
def subprocess_run(tmp_path, tiny_bart, tiny_marian):
    """Inputs, a command line and the output folder for a real `summarize batch` run."""
    src, out = tmp_path / "in", tmp_path / "out"
    ids = write_articles(src, 24)
    toml = tmp_path / "gen.toml"
    toml.write_text(GENERATION_TOML, encoding="utf-8")
    cmd = [sys.executable, "-m", "summarize", "batch", str(src), "--out", str(out),
           "--summarizer", str(tiny_bart), "--translator", str(tiny_marian),
           "--group-size", "2", "--config", str(toml), "--models-dir", str(tmp_path / "m")]
    return src, out, ids, cmd


def check_output_folder(out: Path, ids: dict[str, str]) -> list[str]:
    """The invariants of a finished folder; returns stale hidden temp files found."""
    records = check_results_file(out)
    assert set(records) == set(ids)
    for record in records.values():
        assert record["status"] == "ok", record
        page = out / record["page_md"]
        assert page.parent == out / "articles"
        # complete, not torn
        assert page.read_text("utf-8") == render_markdown(result_from_json(record))
    articles = out / "articles"
    pages = {p.name for p in articles.glob("*.md")}
    assert pages == {Path(r["page_md"]).name for r in records.values()}
    html = sorted(articles.glob("*.html"))
    assert {p.stem for p in html} == {Path(r["page"]).stem for r in records.values()}
    for page in html:
        assert page.read_text("utf-8").rstrip().endswith("</html>")
    temps = sorted(str(p.relative_to(out)) for p in out.rglob("*.tmp"))
    assert all(Path(t).name.startswith(".") for t in temps), temps
    stats = stats_of(out)
    assert stats["articles"]["ok"] == len(ids) and stats["articles"]["failed"] == 0
    assert stats["interrupted"] is False
    return temps


def test_sigkill_at_any_point_loses_nothing(subprocess_run, tmp_path, tiny_bart, tiny_marian):
    src, out, ids, cmd = subprocess_run
    results = out / "results.jsonl"
    outside = snapshot(tmp_path, exclude=out)
    models = {p: snapshot(p) for p in (tiny_bart, tiny_marian)}

    # 1: during the imports, before anything is written
    proc = start(cmd, tmp_path)
    time.sleep(0.3)
    proc.kill()
    proc.communicate()
    killed_at = []
    # 2-4: right after the run's first group lands, mid-run, and a little before the end
    for extra, at_least in ((1, 0), (7, 0), (1, len(ids) - 4)):
        base = n_lines(results)
        proc = start(cmd, tmp_path)
        wait_for_lines(proc, results, max(base + extra, at_least))
        proc.kill()
        proc.communicate()
        killed_at.append((n_lines(results), proc.returncode))
    print("killed at (lines, returncode):", killed_at)
    assert any(code == -signal.SIGKILL for _, code in killed_at), killed_at
    done_before = {rid for rid, r in check_results_file(out).items() if r["status"] == "ok"}
    assert done_before  # the kills landed mid-run, after some groups were saved

    final = start(cmd, tmp_path)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()
    temps = check_output_folder(out, ids)
    stats = stats_of(out)
    # nothing finished before a kill was computed again
    assert stats["articles"]["resumed"] == len(done_before)
    # nothing was written outside the output folder but the CTranslate2 conversions that
    # --backend auto keeps in the models folder (its cache; complete despite the kills), and
    # the models were not touched
    after = snapshot(tmp_path, exclude=out)
    cache = {k for k in after if k.startswith("m/.ct2/")}
    assert {k: v for k, v in after.items() if k not in cache} == outside
    done = {k.split("/")[2] for k in cache if k.endswith("/.complete")}
    assert all(k.split("/")[2].lstrip(".").removesuffix(".lock") in done
               for k in cache if "/" not in k[len("m/.ct2/"):])
    assert {p: snapshot(p) for p in (tiny_bart, tiny_marian)} == models
    # Stale hidden temp files depend on where a kill landed; they are reported, not failed
    # here (see test_stale_temp_files_of_a_crash_are_removed).
    if temps:
        print("stale temp files left by the kills:", temps)


def test_sigint_subprocess_stops_after_the_batch_and_rerun_finishes(subprocess_run, tmp_path):
    src, out, ids, cmd = subprocess_run
    results = out / "results.jsonl"
    proc = start(cmd, tmp_path)
    wait_for_lines(proc, results, 1)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr_bytes = proc.communicate(timeout=60)
    stderr = stderr_bytes.decode()
    assert proc.returncode == 1, stderr
    assert RESUME_HINT in stderr and "Traceback" not in stderr
    records = check_results_file(out)
    assert 0 < len(records) < len(ids)
    assert all(r["status"] == "ok" for r in records.values())
    stats = stats_of(out)
    assert stats["interrupted"] is True and stats["articles"]["ok"] == len(records)

    # the rerun (same command, in-process to save a second torch import) finishes the job
    again = invoke(*cmd[3:], "-q")
    assert again.exit_code == 0, again.output
    check_output_folder(out, ids)
    assert stats_of(out)["articles"]["resumed"] == len(records)
