"""One door into an output folder: ``batch``, ``report`` and ``eval`` claim and lock it the
same way, fail in one line, never touch a folder that is not theirs, and a run that writes
nothing leaves the folder as it found it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from summarize.cli import app
from summarize.errors import OutputLockedError, UsageError
from summarize.outputs.writers import LOCK, MARKER, open_output
from summarize.run.pipeline import run_batch
from summarize.settings import RunConfig
from tests.fakes import fake_loader, read_jsonl

REPO = Path(__file__).resolve().parents[1]
STORY = "Police arrested {n} men after a robbery in the city centre. Markets rose on Monday."


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Rich wraps at the terminal width; a wide one keeps each message on one line."""
    monkeypatch.setenv("COLUMNS", "500")


def _inputs(tmp_path: Path, n: int = 2, text: str = STORY) -> Path:
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    for i in range(n):
        (src / f"s{i}.txt").write_text(text.format(n=i), encoding="utf-8")
    return src


def _tool_folder(tmp_path: Path) -> Path:
    """An output folder written by a real (fake-model) run."""
    out = tmp_path / "out"
    run_batch(RunConfig(inputs=(str(_inputs(tmp_path)),), out_dir=str(out), targets=("ko",)),
              loader=fake_loader())
    return out


def _refs(tmp_path: Path) -> Path:
    refs = tmp_path / "refs.jsonl"
    refs.write_text('{"id": "s0.txt", "summary": "Police arrested men."}\n', encoding="utf-8")
    return refs


def _command(kind: str, out: Path, tmp_path: Path) -> list[str]:
    if kind == "report":
        return ["report", str(out)]
    return ["eval", str(out), "--references", str(_refs(tmp_path))]


def _snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every path under ``root``: a file's bytes and mtime, None for a folder (whose mtime
    the claim's write probe changes)."""
    return {str(p.relative_to(root)): None if p.is_dir() else (p.read_bytes(),
                                                                p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def _one_error_line(result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("summarize: error: "), result.stderr
    return lines[0]


RECORD = json.dumps({"id": "a.txt", "source": "in/a.txt", "status": "ok", "schema_version": 1,
                     "summary": "x"}) + "\n"

#: Folders holding a results.jsonl and a user's own files, which report/eval would overwrite.
FOREIGN = {
    "index.html beside an empty results.jsonl": {"results.jsonl": "",
                                                 "index.html": "<h1>my site</h1>"},
    "eval.json beside an empty results.jsonl": {"results.jsonl": "", "eval.json": "{\"my\": 1}"},
    "articles/x.html beside an empty results.jsonl": {"results.jsonl": "",
                                                      "articles/x.html": "<p>mine</p>"},
    "a results.jsonl that is not the tool's": {"results.jsonl": "{\"mine\": true}\n",
                                               "index.html": "<h1>my site</h1>"},
    "a file of another name": {"results.jsonl": RECORD, "notes.txt": "my notes"},
    "a report.css and stats.json of the user's": {"results.jsonl": "", "report.css": "x",
                                                   "stats.json": "{}"},
}


@pytest.mark.parametrize("kind", ["report", "eval"])
@pytest.mark.parametrize("layout", list(FOREIGN))
def test_report_and_eval_refuse_a_folder_that_is_not_theirs(kind, layout, tmp_path):
    out = tmp_path / "site"
    for name, text in FOREIGN[layout].items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    before = _snapshot(out)
    result = CliRunner().invoke(app, _command(kind, out, tmp_path))
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert f"{out} holds files this tool did not write" in line
    assert _snapshot(out) == before  # nothing written, nothing removed, not even a lock


@pytest.mark.parametrize("kind", ["report", "eval", "batch"])
def test_every_command_refuses_a_locked_folder_in_one_line(kind, tmp_path):
    out = _tool_folder(tmp_path)
    before = _snapshot(out)
    lock = FileLock(str(out / LOCK))
    lock.acquire()
    try:
        if kind == "batch":
            args = ["batch", str(_inputs(tmp_path)), "--out", str(out)]
        else:
            args = _command(kind, out, tmp_path)
        result = CliRunner().invoke(app, args)
    finally:
        lock.release()
    assert result.exit_code == 2, result.output
    assert f"another summarize run is writing to {out}" in _one_error_line(result)
    assert _snapshot(out) == before


@pytest.mark.parametrize("kind", ["report", "eval"])
def test_report_and_eval_work_in_the_tools_own_folder(kind, tmp_path):
    out = _tool_folder(tmp_path)
    (out / "index.html").unlink()
    result = CliRunner().invoke(app, _command(kind, out, tmp_path))
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file()
    assert (out / "eval.json").is_file() == (kind == "eval")


@pytest.mark.parametrize("kind", ["report", "eval"])
def test_report_and_eval_adopt_a_folder_of_an_earlier_version(kind, tmp_path):
    out = _tool_folder(tmp_path)
    (out / MARKER).unlink()  # written before the marker existed
    result = CliRunner().invoke(app, _command(kind, out, tmp_path))
    assert result.exit_code == 0, result.output
    assert (out / MARKER).is_file()


@pytest.mark.parametrize("kind", ["report", "eval"])
def test_report_and_eval_on_a_folder_without_a_run(kind, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    result = CliRunner().invoke(app, _command(kind, out, tmp_path))
    assert result.exit_code == 2
    assert f"{out} has no results.jsonl" in _one_error_line(result)
    assert list(out.iterdir()) == []


def _read_only_runner() -> str | None:
    """How to make a folder really read-only here: ``chmod`` (not root), a read-only bind
    mount in a private mount namespace (root, who ignores modes), or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chmod"
    probe = tempfile.mkdtemp(prefix="summarize-ro-")
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c",
                               f"mount --bind {probe} {probe} && "
                               f"mount -o remount,bind,ro {probe} && ! touch {probe}/x"],
                              capture_output=True, timeout=30)
        return "mount" if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        shutil.rmtree(probe)


READ_ONLY = _read_only_runner()


@pytest.mark.skipif(READ_ONLY is None, reason="no way to make a folder read-only for root")
@pytest.mark.parametrize("kind", ["report", "eval", "batch"])
def test_a_read_only_folder_is_one_line_for_every_command(kind, tmp_path):
    out = _tool_folder(tmp_path)
    if kind == "batch":
        args = ["batch", str(tmp_path / "in"), "--out", str(out), "--force"]
    else:
        args = _command(kind, out, tmp_path)
    before = _snapshot(out)
    if READ_ONLY == "mount":
        env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "COLUMNS": "500"}
        script = (f'mount --bind "{out}" "{out}" && mount -o remount,bind,ro "{out}" && '
                  f'exec "{sys.executable}" -m summarize.cli "$@"')
        done = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *args], env=env,
                              capture_output=True, timeout=300)
        code, stderr = done.returncode, done.stderr.decode()
    else:  # pragma: no cover - non-root CI
        for path in (out, out / "articles"):
            path.chmod(0o555)
        try:
            result = CliRunner().invoke(app, args)
        finally:
            for path in (out, out / "articles"):
                path.chmod(0o755)
        code, stderr = result.exit_code, result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, stderr
    assert lines[0].startswith("summarize: error: ") and "cannot write there" in lines[0]
    assert "Traceback" not in stderr
    assert _snapshot(out) == before


# --- a run that does no work leaves nothing behind (issue 25) ----------------------------


def _fail_to_load(tmp_path: Path, out: Path):
    return CliRunner().invoke(app, ["batch", str(_inputs(tmp_path)), "--out", str(out),
                                    "--summarizer", str(tmp_path / "no-such-model"), "-q"])


def test_a_failed_first_run_leaves_no_folder_behind(tmp_path):
    out = tmp_path / "outputs" / "deep" / "run"
    result = _fail_to_load(tmp_path, out)
    assert result.exit_code == 2, result.output
    assert "no-such-model" in _one_error_line(result)
    assert not (tmp_path / "outputs").exists()  # nor the parents it made


@pytest.mark.parametrize("existing", [[], [".gitkeep"], [".lock"]])
def test_a_failed_run_leaves_an_existing_folder_as_it_was(tmp_path, existing):
    out = tmp_path / "outputs"
    out.mkdir()
    for name in existing:
        (out / name).write_text("")
    before = _snapshot(out)
    assert _fail_to_load(tmp_path, out).exit_code == 2
    assert _snapshot(out) == before


def test_a_failed_run_keeps_what_an_earlier_run_wrote(tmp_path):
    out = _tool_folder(tmp_path)
    (out / LOCK).unlink(missing_ok=True)
    (tmp_path / "in" / "new.txt").write_text(STORY.format(n=9))
    before = _snapshot(out)
    assert _fail_to_load(tmp_path, out).exit_code == 2
    assert _snapshot(out) == before  # the marker, the records, the pages; no lock left


def test_failed_eval_takes_back_only_its_own_lock(tmp_path):
    out = _tool_folder(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    for had_lock in (False, True):
        if not had_lock:
            (out / LOCK).unlink(missing_ok=True)
        else:
            (out / LOCK).write_text("")
        before = _snapshot(out)
        result = CliRunner().invoke(app, ["eval", str(out), "--references", str(bad)])
        assert result.exit_code == 2 and "bad.jsonl:1" in _one_error_line(result)
        assert _snapshot(out) == before


def test_a_folder_something_else_wrote_into_while_open_is_kept(tmp_path):
    out = tmp_path / "new"
    with open_output(out, create=True):
        (out / "user-file.txt").write_text("mine")
    assert (out / "user-file.txt").read_text() == "mine" and (out / MARKER).is_file()
    with open_output(out / "x", create=True):
        (out / "x" / "articles" / "page.md").write_text("a page")
    assert (out / "x" / "articles" / "page.md").is_file()


def test_open_output_errors(tmp_path):
    with pytest.raises(UsageError, match="has no results.jsonl"):
        open_output(tmp_path, create=False, option=None)
    with open_output(tmp_path / "a", create=True), pytest.raises(OutputLockedError,
                                                                 match="--out folder"):
        open_output(tmp_path / "a", create=True)
    src = _inputs(tmp_path)
    with pytest.raises(UsageError, match="is also an input folder"):
        open_output(src, [src], create=True)


# --- the disk fills half-way through a record -------------------------------------------

_FULL_DISK = """
import resource, signal, sys
from tests.fakes import fake_loader
import summarize.cli, summarize.run.pipeline as pipeline

pipeline.load_models = fake_loader()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
summarize.cli.app(sys.argv[2:])
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_counts_the_records_saved_whole(tmp_path):
    """Writes fail for real once results.jsonl would pass a size, in the middle of a record:
    the message counts the whole records, the torn one is taken back, a rerun resumes."""
    long_story = " ".join([STORY] * 12)
    src = _inputs(tmp_path, n=10, text=long_story)
    args = ["batch", str(src), "--group-size", "2", "--read-workers", "0", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "COLUMNS": "500"}

    def run(out: Path, limit: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _FULL_DISK, str(limit), *args, "--out",
                               str(out)], env=env, capture_output=True, timeout=300, cwd=REPO)

    probe = tmp_path / "probe"
    assert run(probe, 1 << 40).returncode == 0
    lines = (probe / "results.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == 10 and min(len(line) for line in lines) > 1000
    for whole in (1, 7):
        out = tmp_path / f"out{whole}"
        limit = sum(map(len, lines[:whole])) + len(lines[whole]) // 2
        done = run(out, limit)
        stderr = done.stderr.decode()
        assert done.returncode == 1, stderr
        [line] = [x for x in stderr.splitlines() if x.startswith("summarize: error")]
        assert f"({whole} by this run)" in line and "run the same command again" in line
        data = (out / "results.jsonl").read_bytes()
        assert data.endswith(b"\n") and len(read_jsonl(out / "results.jsonl")) == whole
        again = run(out, 1 << 40)
        assert again.returncode == 0, again.stderr.decode()
        stats = json.loads((out / "stats.json").read_text())
        assert stats["articles"]["resumed"] == whole and stats["articles"]["ok"] == 10
