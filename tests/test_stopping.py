"""Signals and helper processes, on a real ``summarize batch`` in a subprocess.

One Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or one SIGTERM (what
``kill``, systemd, Kubernetes and batch schedulers send) stops a run after its current
batch on every engine: exit 1, every finished group written whole, stats.json and the
report written, no traceback, and the rerun finishes the job. On Ray, a killed helper
actor (the ledger: restarted; the queue: a clean stop) ends the same way, Ray's own log
lines stay off the console, and a replica plan the machine cannot hold is refused (exit 2,
one line) before any replica starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_resume import GENERATION_TOML, RESUME_HINT, write_articles

N = 24


def lines_of(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def batch_cmd(tmp_path: Path, bart: Path, marian: Path, *extra: str) -> list[str]:
    src, out = tmp_path / "in", tmp_path / "out"
    if not src.exists():
        write_articles(src, N)
        (tmp_path / "gen.toml").write_text(GENERATION_TOML, encoding="utf-8")
    return [sys.executable, "-m", "summarize", "batch", str(src), "--out", str(out),
            "--summarizer", str(bart), "--translator", str(marian), "--group-size", "2",
            "--config", str(tmp_path / "gen.toml"), "--models-dir", str(tmp_path / "m"),
            "-q", *extra]


def start(cmd: list[str], cwd: Path) -> subprocess.Popen:
    """The command in a session of its own: its process group is the one a terminal's
    Ctrl-C would reach."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", COLUMNS="300")  # no line wrapped
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def wait_until(proc: subprocess.Popen, ready, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while proc.poll() is None and not ready():
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"not ready after {limit} s")
        time.sleep(0.01)


def send(proc: subprocess.Popen, signum: int) -> None:
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # the terminal's way: every process of the group
    else:
        proc.send_signal(signum)  # kill's way: the run's process only


def finish(proc: subprocess.Popen, limit: float = 240) -> str:
    """Wait for the run; returns its stderr (its stdout is checked to hold nothing of Ray's
    on the way)."""
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the run did not end within {limit} s of the signal")
    assert foreign_lines(out.decode("utf-8", "replace")) == [], out
    return err.decode("utf-8", "replace")


def check_stopped(out: Path, stderr: str, returncode: int) -> dict[str, dict]:
    """A cleanly stopped run: exit 1, whole records, stats and report written, no trace of
    a crash; returns the records by id."""
    assert returncode == 1, stderr
    assert RESUME_HINT in stderr, stderr
    for crash in ("Traceback", "*** SIGTERM received", "PC: @", "aborted"):
        assert crash not in stderr, stderr
    raw = (out / "results.jsonl").read_bytes() if (out / "results.jsonl").exists() else b""
    assert raw == b"" or raw.endswith(b"\n")
    records = {}
    for line in raw.splitlines():
        record = json.loads(line)
        assert record["id"] not in records
        records[record["id"]] = record
    assert all(r["status"] == "ok" for r in records.values())
    assert len(records) < N
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["interrupted"] is True and stats["articles"]["ok"] == len(records)
    assert (out / "index.html").is_file()
    return records


def check_rerun_finishes(cmd: list[str], tmp_path: Path, done: int) -> str:
    proc = start(cmd, tmp_path)
    stderr = finish(proc)
    assert proc.returncode == 0, stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text("utf-8"))
    assert stats["articles"]["ok"] == N and stats["articles"]["resumed"] == done
    assert stats["interrupted"] is False
    return stderr


#: The tool's own stderr lines with ``-q``: notes and errors, the timing table, the counts.
TOOL_LINE = re.compile(r"^(summarize: |[┏┃┡│└]|articles: |wall |outputs: |nothing left|\s*$)")


def foreign_lines(stderr: str) -> list[str]:
    """The stderr lines the tool did not write (Ray's warnings, native log lines)."""
    return [line for line in stderr.splitlines() if not TOOL_LINE.match(line)]


# -- the local engine ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("signum", "at"), [
    (signal.SIGINT, 1), (signal.SIGINT, 7), (signal.SIGINT, 13),
    (signal.SIGTERM, 1), (signal.SIGTERM, 7), (signal.SIGTERM, 13)],
    ids=["sigint-1", "sigint-7", "sigint-13", "sigterm-1", "sigterm-7", "sigterm-13"])
def test_one_signal_stops_the_local_engine_cleanly(tmp_path, tiny_bart, tiny_marian, signum,
                                                   at):
    """Several points of the run (after the first record, mid-run, late): SIGINT to the
    process group (the reader processes get it too) and SIGTERM to the run."""
    cmd = batch_cmd(tmp_path, tiny_bart, tiny_marian, "--read-workers", "2")
    out = tmp_path / "out"
    proc = start(cmd, tmp_path)
    wait_until(proc, lambda: lines_of(out / "results.jsonl") >= at)
    assert proc.poll() is None, "the run ended before the signal"
    send(proc, signum)
    stderr = finish(proc)
    records = check_stopped(out, stderr, proc.returncode)
    assert "stopping after the current batch" in stderr
    check_rerun_finishes(cmd, tmp_path, len(records))


def test_a_second_sigterm_aborts(tmp_path, tiny_bart, tiny_marian):
    cmd = batch_cmd(tmp_path, tiny_bart, tiny_marian)
    out = tmp_path / "out"
    proc = start(cmd, tmp_path)
    wait_until(proc, lambda: lines_of(out / "results.jsonl") >= 1)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    stderr = finish(proc)
    assert proc.returncode in (1, 130), stderr  # the second may land after the stop
    assert "Traceback" not in stderr
    raw = (out / "results.jsonl").read_bytes()
    assert raw.endswith(b"\n") and all(json.loads(line) for line in raw.splitlines())


# -- the Ray engine -----------------------------------------------------------------------------
def descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every process below ``pid``."""
    parent_of, cmdline = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent_of[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(
                b"\0", b" ").decode("utf-8", "replace")
        except (OSError, IndexError, ValueError):
            continue
    found, todo = {}, [pid]
    while todo:
        here = todo.pop()
        for child, parent in parent_of.items():
            if parent == here and child not in found:
                found[child] = cmdline.get(child, "")
                todo.append(child)
    return found


ray_tests = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or __import__("importlib").util.find_spec("ray")
    is None, reason="needs Ray and /proc")


@ray_tests
@pytest.mark.slow
@pytest.mark.parametrize(("signum", "when"), [
    (signal.SIGINT, "starting"), (signal.SIGINT, "running"), (signal.SIGTERM, "running")],
    ids=["sigint-while-ray-starts", "sigint-mid-run", "sigterm-mid-run"])
def test_one_signal_stops_the_ray_engine_cleanly(tmp_path, tiny_bart, tiny_marian, signum,
                                                 when):
    """While Ray starts (the replicas not there yet) or after the first group is written;
    the rerun of the mid-run SIGINT finishes, and its console holds only the tool's lines
    (no token-auth warning, no native ``core_worker.cc`` line)."""
    cmd = batch_cmd(tmp_path, tiny_bart, tiny_marian, "--engine", "ray", "--replicas", "1")
    out = tmp_path / "out"
    proc = start(cmd, tmp_path)
    if when == "starting":  # Ray's processes are up, no record yet
        wait_until(proc, lambda: any("raylet" in c for c in descendants(proc.pid).values()))
        assert lines_of(out / "results.jsonl") == 0
    else:
        wait_until(proc, lambda: lines_of(out / "results.jsonl") >= 1)
    assert proc.poll() is None, "the run ended before the signal"
    send(proc, signum)
    stderr = finish(proc)
    records = check_stopped(out, stderr, proc.returncode)
    assert foreign_lines(stderr) == [], stderr
    if signum == signal.SIGINT and when == "running":
        assert foreign_lines(check_rerun_finishes(cmd, tmp_path, len(records))) == []


@ray_tests
@pytest.mark.slow
@pytest.mark.parametrize("helper", ["ray::Ledger", "ray::_QueueActor"])
def test_a_killed_ray_helper_actor_ends_the_run_cleanly(tmp_path, tiny_bart, tiny_marian,
                                                        helper):
    """The ledger is restarted and the run finishes; without its queue the run stops
    cleanly (stats and report written, one line) and the rerun resumes."""
    cmd = batch_cmd(tmp_path, tiny_bart, tiny_marian, "--engine", "ray", "--replicas", "1")
    out = tmp_path / "out"
    proc = start(cmd, tmp_path)
    wait_until(proc, lambda: lines_of(out / "results.jsonl") >= 1)
    victims = [pid for pid, cmdline in descendants(proc.pid).items()
               if cmdline.startswith(helper)]
    assert victims, descendants(proc.pid)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    stderr = finish(proc)
    assert "Traceback" not in stderr and foreign_lines(stderr) == [], stderr
    if helper == "ray::Ledger":
        assert proc.returncode == 0, stderr
        assert lines_of(out / "results.jsonl") == N
        return
    assert "summarize: error: the Ray run failed" in stderr
    records = check_stopped(out, stderr, proc.returncode)
    check_rerun_finishes(cmd, tmp_path, len(records))


@ray_tests
@pytest.mark.slow
@pytest.mark.parametrize(("option", "words"), [
    (("--gpus-per-replica", "1"), "GPU"), (("--replicas", "50"), "CPU")],
    ids=["gpus-without-gpus", "replicas-beyond-cpus"])
def test_a_replica_plan_ray_cannot_hold_is_refused_up_front(tmp_path, tiny_bart, tiny_marian,
                                                            option, words):
    cmd = batch_cmd(tmp_path, tiny_bart, tiny_marian, "--engine", "ray", *option)
    proc = start(cmd, tmp_path)
    stderr = finish(proc, limit=120)
    assert proc.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("summarize: error: "), stderr
    assert "cannot place its replicas on this machine" in lines[0] and words in lines[0]
    assert not (tmp_path / "out" / "results.jsonl").exists() or lines_of(
        tmp_path / "out" / "results.jsonl") == 0
