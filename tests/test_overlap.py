"""The overlapped engine: reader processes ahead, a writer thread behind, same records.

Compared with the synchronous loop (``overlap="off"``) record for record on the tiny
models; killed with SIGKILL in a real subprocess (only whole records, no reader process
left behind); stopped with Ctrl-C (everything finished is written); a failing disk still
keeps what was finished; and a simulated device is kept busy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from summarize.errors import OutputWriteError
from summarize.run import local as engine_module
from summarize.run import overlap
from summarize.run.pipeline import run_batch
from summarize.settings import RoleConfig, RunConfig
from tests.fakes import FakeBackend, SimulatedBackend, SimulatedDevice, fake_loader

HTML = """<!doctype html><html><head><title>Harbour {i} reopens</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Harbour {i} reopens</h1>
<p>The harbour number {i} reopened on Monday after repairs that took two years.</p>
<p>Officials said ships would return within weeks, and traders welcomed the news.</p>
<p>The works cost more than planned, the city council said in a statement.</p>
</article><footer>Copyright the paper</footer></body></html>"""


def body(i: int) -> str:
    return (f"Officials said on day {i} that the talks would continue next week. The report "
            f"number {i} comes before the election. Markets rose after the announcement.")


def write_inputs(root: Path, n_txt: int, n_html: int = 0, jsonl: bool = False) -> None:
    """Text articles, HTML pages and (optionally) a JSONL file whose ids repeat."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_txt):
        (root / f"a{i:03d}.txt").write_text(f"Story {i}\n\n{body(i)}\n", encoding="utf-8")
    for i in range(n_html):
        (root / f"page{i:02d}.html").write_text(HTML.format(i=i), encoding="utf-8")
    if jsonl:
        rows = [{"id": "dup", "text": body(100)}, {"id": "dup", "text": body(101)},
                {"id": "x", "title": "T", "text": body(102)}]
        (root / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n",
                                         encoding="utf-8")
    (root / "empty.txt").write_text("", encoding="utf-8")  # a failure record too


def records(out: Path) -> list[dict]:
    """results.jsonl in file order, without what differs between runs."""
    rows = []
    for line in (out / "results.jsonl").read_bytes().splitlines(keepends=True):
        assert line.endswith(b"\n")
        row = json.loads(line)
        for key in ("timings", "finished_at", "run"):
            row.pop(key, None)
        rows.append(row)
    return rows


@pytest.fixture()
def force_pool(monkeypatch) -> dict:
    """Reader processes even for a handful of files (the tests' inputs are small): the
    settings to add to the run's config."""
    monkeypatch.setattr(overlap, "POOL_MIN_FILES", 1)
    return {"read_workers": 2}


def test_overlapped_records_equal_the_synchronous_ones_on_tiny_models(
        tmp_path, monkeypatch, force_pool, tiny_bart, tiny_marian):
    src = tmp_path / "in"
    write_inputs(src, 9, n_html=3, jsonl=True)
    outs = {}
    finishing_threads = []
    real_finish = engine_module.Engine._finish_job

    def finish(self, job, writer):
        finishing_threads.append(threading.current_thread().name)
        return real_finish(self, job, writer)

    monkeypatch.setattr(engine_module.Engine, "_finish_job", finish)
    # off: one stage after another; io: reading and writing beside the model; full: the
    # translations of a group in their own thread too (auto does that on a GPU only)
    for mode in ("off", "io", "full"):
        out = tmp_path / f"out-{mode}"
        result = run_batch(RunConfig(
            inputs=(str(src),), out_dir=str(out), targets=("ko",), translate="both", group_size=4,
            models_dir=str(tmp_path / "m"), overlap=mode, **force_pool,
            summarizer=RoleConfig(model=str(tiny_bart), settings={"max_new_tokens": 6}),
            translator=RoleConfig(model=str(tiny_marian), settings={"max_new_tokens": 6})))
        assert (result.n_ok, result.n_failed) == (15, 1), result.failures
        outs[mode] = out
    assert set(finishing_threads) == {"summarize-translate"}  # "full" only, in its thread
    sync = records(outs["off"])
    for mode in ("io", "full"):
        assert records(outs[mode]) == sync, mode  # the same records, in the same order
    ids = [r["id"] for r in sync]
    assert "dup" in ids and "dup~2" in ids  # repeated ids de-duplicated as before
    assert any(r["id"].endswith(".html") and r["status"] == "ok" for r in sync)
    names = [p.name for p in sorted((outs["off"] / "articles").glob("*.md"))]
    for mode in ("io", "full"):  # and the same pages, timings aside
        assert [p.name for p in sorted((outs[mode] / "articles").glob("*.md"))] == names
        for name in names:
            assert (re.sub(r"\d+\.\d+", "N", (outs[mode] / "articles" / name)
                           .read_text("utf-8"))
                    == re.sub(r"\d+\.\d+", "N", (outs["off"] / "articles" / name)
                              .read_text("utf-8"))), (mode, name)
    stats = {mode: json.loads((outs[mode] / "stats.json").read_text("utf-8"))
             for mode in ("off", "full")}
    for stage in ("summarize", "translate"):  # both threads' batches are counted
        assert (stats["full"]["stages"][stage]["n_batches"]
                == stats["off"]["stages"][stage]["n_batches"] > 0)


def test_ctrl_c_stops_after_the_batch_with_every_finished_group_written(
        tmp_path, force_pool):
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 12)

    class Interrupting(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            # the third group (of 3 articles)
            if any("day 7 " in r.text for r in requests):
                os.kill(os.getpid(), signal.SIGINT)
            return super().generate(requests, settings, max_new_tokens)

    result = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=3,
                                 **force_pool),
                       loader=fake_loader(summarizer=Interrupting("summarize")),
                       handle_sigint=True)
    assert result.interrupted and result.exit_code == 1
    # the two groups finished before are written whole; the interrupted one is not
    assert [r["id"] for r in records(out)] == [f"a{i:03d}.txt" for i in range(6)]
    assert result.n_ok == 6
    again = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=3),
                      loader=fake_loader())
    assert (again.n_ok, again.n_resumed, again.n_failed) == (12, 6, 1)


def test_ctrl_c_in_the_pipelined_engine_keeps_whole_groups_and_resumes(tmp_path):
    """With the translations in their own thread, Ctrl-C stops both threads after their
    batch: the groups written are whole and first, and the rerun does the rest."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 12)

    class Interrupting(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            # the third group's summaries
            if any("day 7 " in r.text for r in requests):
                os.kill(os.getpid(), signal.SIGINT)
            return super().generate(requests, settings, max_new_tokens)

    config = RunConfig(inputs=(str(src),), out_dir=str(out), group_size=3, overlap="full")
    result = run_batch(config, loader=fake_loader(summarizer=Interrupting("summarize")),
                       handle_sigint=True)
    assert result.interrupted and result.exit_code == 1
    ids = [r["id"] for r in records(out)]
    assert ids in ([f"a{i:03d}.txt" for i in range(3)], [f"a{i:03d}.txt" for i in range(6)])
    again = run_batch(config, loader=fake_loader())
    assert (again.n_ok, again.n_resumed, again.n_failed) == (12, len(ids), 1)
    assert sorted(r["id"] for r in records(out) if r["status"] == "ok") == sorted(
        f"a{i:03d}.txt" for i in range(12))


@pytest.mark.parametrize("mode", ["io", "full"])
def test_a_write_error_surfaces_and_keeps_what_was_written(tmp_path, monkeypatch, force_pool,
                                                          mode):
    import errno

    from summarize.outputs import writers

    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 8)
    real_append = writers.ResultsLog.append
    calls = []

    def append(self, recs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, recs)

    monkeypatch.setattr(writers.ResultsLog, "append", append)
    with pytest.raises(OutputWriteError, match="No space left on device.*resume"):
        run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=2,
                            overlap=mode, **force_pool), loader=fake_loader())
    assert len(records(out)) == 2  # the first group, whole
    monkeypatch.setattr(writers.ResultsLog, "append", real_append)
    again = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=2),
                      loader=fake_loader())
    assert (again.n_ok, again.n_resumed) == (8, 2)


def test_a_simulated_device_is_kept_busy(tmp_path):
    """Device-bound (each article costs ~0.1 s of device time, its CPU work ~2 ms): the
    device works at least 90% of the time between its first batch and its last."""
    src = tmp_path / "in"
    write_inputs(src, 12)
    device = SimulatedDevice(seconds_per_token=1.5e-3)
    result = run_batch(
        RunConfig(inputs=(str(src),), out_dir=str(tmp_path / "out"), group_size=3,
                  batch_tokens=512, targets=("ko",)),
        backends={"summarizer": SimulatedBackend("summarize", device),
                  "translator": SimulatedBackend("translate", device)})
    assert result.n_ok == 12
    print(f"busy {device.busy_s:.2f} s, {device.busy_fraction():.1%} of the device's span")
    assert device.busy_fraction() >= 0.9


def _children(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("mode", ["io", "full"])
def test_sigkill_mid_run_leaves_whole_records_and_no_reader_processes(
        tmp_path, tiny_bart, tiny_marian, mode):
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 24)
    toml = tmp_path / "gen.toml"
    toml.write_text("[summarizer]\nmax_new_tokens = 6\n[translator]\nmax_new_tokens = 6\n",
                    encoding="utf-8")
    cmd = [sys.executable, "-m", "summarize", "batch", str(src), "--out", str(out),
           "--summarizer", str(tiny_bart), "--translator", str(tiny_marian),
           "--group-size", "2", "--config", str(toml), "--models-dir", str(tmp_path / "m"),
           "--overlap", mode, "--read-workers", "2", "-q"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    results = out / "results.jsonl"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    readers: set[int] = set()
    while proc.poll() is None and time.monotonic() < deadline:
        readers |= _children(proc.pid)
        if results.exists() and results.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read().decode()
    readers |= _children(proc.pid)
    proc.kill()
    proc.wait()
    assert readers, "the run started no reader process"
    lines = results.read_bytes().splitlines(keepends=True)
    assert 3 <= len(lines) < 25
    assert all(line.endswith(b"\n") and json.loads(line)["status"] for line in lines)
    # the reader processes notice that the run is gone and exit
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in readers):
        time.sleep(0.05)
    alive = [p for p in readers if Path(f"/proc/{p}/stat").exists()
             and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
    assert not alive, f"reader processes left running: {alive}"
    # and the rerun resumes: nothing finished is computed again
    final = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert final.returncode == 1, final.stderr.decode()  # empty.txt fails
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    done = {json.loads(line)["id"] for line in lines}
    assert stats["articles"]["resumed"] == len(done - {"empty.txt"})
    assert len(records(out)) == 25


def test_models_on_mps_share_one_lock_and_auto_does_not_pipeline_there(tmp_path):
    """PyTorch's MPS backend crashes when two threads run operations at once, so every
    model on MPS takes the same lock, and ``auto`` keeps the stages in one thread there."""
    from dataclasses import replace

    from summarize.run.models import ModelLocks

    class OnMPS(FakeBackend):
        def __init__(self, kind):
            super().__init__(kind)
            self.info = replace(self.info, device="mps")

    locks = ModelLocks()
    a, b, c = OnMPS("summarize"), OnMPS("translate"), FakeBackend("translate")
    assert locks.model(a) is locks.model(b)
    assert locks.model(c) is not locks.model(a) and locks.model(c) is locks.model(c)

    src = tmp_path / "in"
    write_inputs(src, 6)
    threads = set()
    real = engine_module.Engine._finish_job

    def spy(self, job, writer):
        threads.add(threading.current_thread().name)
        return real(self, job, writer)

    engine_module.Engine._finish_job = spy
    try:
        for mode, pipelined in (("auto", False), ("full", True)):
            threads.clear()
            result = run_batch(
                RunConfig(inputs=(str(src),), out_dir=str(tmp_path / mode), group_size=2,
                          overlap=mode),
                loader=fake_loader(summarizer=OnMPS("summarize"),
                                   translator=OnMPS("translate")))
            assert result.n_ok == 6
            assert bool(threads) is pipelined, mode
    finally:
        engine_module.Engine._finish_job = real
