"""The pipelined engine (``overlap="full"``: translations in a thread of their own) under
Ctrl-C, errors, a model shared by both stages, and LRU eviction while routing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from summarize.errors import UsageError
from summarize.run.pipeline import run_batch
from summarize.settings import RunConfig
from tests.fakes import FakeBackend, fake_loader


def body(i: int) -> str:
    return (f"Officials said on day {i} that the talks would continue next week. The report "
            f"number {i} comes before the election. Markets rose after the announcement.")


def write_inputs(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"a{i:03d}.txt").write_text(f"Story {i}\n\n{body(i)}\n", encoding="utf-8")


# -- a second Ctrl-C aborts -------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["io", "full"])
def test_second_ctrl_c_aborts_in_every_mode(tmp_path, mode):
    """Ctrl-C once sets stop; Ctrl-C again raises KeyboardInterrupt ("abort"). The
    translating thread, mid-batch, then raises Interrupted; the abort must win over it
    (not turn into a clean "interrupted" run)."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 12)
    translating = threading.Event()
    aborted = threading.Event()

    class Translator(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            if mode == "full" and any("day 1 " in t for t in (r.text for r in requests)):
                translating.set()  # group 1 in the translating thread, mid-batch
                aborted.wait(5)
            return super().generate(requests, settings, max_new_tokens)

    class Summarizer(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            if any("day 4 " in t for t in (r.text for r in requests)):  # group 2, main thread
                if mode == "full":
                    assert translating.wait(5)
                try:
                    os.kill(os.getpid(), signal.SIGINT)  # stop
                    time.sleep(0.05)
                    os.kill(os.getpid(), signal.SIGINT)  # abort: KeyboardInterrupt here
                    time.sleep(0.5)
                finally:
                    aborted.set()
            return super().generate(requests, settings, max_new_tokens)

    config = RunConfig(inputs=(str(src),), out_dir=str(out), group_size=3, overlap=mode)
    with pytest.raises(KeyboardInterrupt):
        run_batch(config, loader=fake_loader(summarizer=Summarizer("summarize"),
                                             translator=Translator("translate")),
                  handle_sigint=True)


# -- stage seconds do not count the wait for another thread's model lock -----------------------
class Slow(FakeBackend):
    """One backend serving both roles (a multilingual model); each batch takes 30 ms."""

    def __init__(self):
        super().__init__("summarize")
        self.busy = 0.0
        self._lock = threading.Lock()

    def generate(self, requests, settings, max_new_tokens):
        t0 = time.perf_counter()
        time.sleep(0.03)
        out = super().generate(requests, settings, max_new_tokens)
        with self._lock:
            self.busy += time.perf_counter() - t0
        return out


@pytest.mark.parametrize("mode", ["off", "full"])
def test_stage_seconds_do_not_count_waiting_for_the_other_stage(tmp_path, mode):
    """With one backend behind both stages (or on MPS, where every model shares one lock),
    the time one stage waits for the other's batch is not its own: summarize + translate
    seconds stay near the model's busy time (they were 1.76 times it when the clocks
    started before the lock)."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 40)
    shared = Slow()
    result = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=4,
                                 batch_tokens=24, overlap=mode),
                       loader=fake_loader(summarizer=shared, translator=shared))
    assert result.n_ok == 40
    stages = result.stats.stages
    counted = stages["summarize"].seconds + stages["translate"].seconds
    print(f"{mode}: busy {shared.busy:.2f} s, stages {counted:.2f} s, "
          f"wall {result.stats.wall_s:.2f} s")
    assert counted <= shared.busy * 1.5 + 0.2


# -- the translating thread fails while the main thread keeps summarizing ---------------------
def test_a_fatal_error_in_the_translating_thread_surfaces_once_without_deadlock(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 40)
    calls = {"summarize": 0, "after": None}

    class Broken(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            if any("day 1 " in t for t in (r.text for r in requests)):
                time.sleep(0.2)  # the main thread fills the translating thread's queue
                calls["after"] = calls["summarize"]
                raise UsageError("fatal translator error")
            return super().generate(requests, settings, max_new_tokens)

    class Counting(FakeBackend):
        def generate(self, requests, settings, max_new_tokens):
            calls["summarize"] += 1
            return super().generate(requests, settings, max_new_tokens)

    t0 = time.perf_counter()
    with pytest.raises(UsageError, match="fatal translator error"):
        run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=2,
                            batch_tokens=512, overlap="full"),
                  loader=fake_loader(summarizer=Counting("summarize"),
                                     translator=Broken("translate")))
    assert time.perf_counter() - t0 < 30  # no deadlock (the run itself takes a second)
    print(f"summarize batches when it failed: {calls['after']}, in all: {calls['summarize']}")
    assert not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_text()


# -- LRU eviction while routing does not close a model that is then used ----------------------
def test_routing_one_pass_does_not_use_a_model_it_just_evicted(monkeypatch):
    """_translate routes every job first (translation_task may load a model and evict the
    least recently used), then runs each model: a model evicted by a later job's routing is
    routed (loaded) again before it runs, never used closed."""
    from dataclasses import replace as dc_replace

    from summarize.records import Article
    from summarize.run import models as loading
    from summarize.run.process import GroupProcessor
    from summarize.run.stats import StatsCollector
    from summarize.run.work import Pending

    class Closable(FakeBackend):
        def __init__(self, name):
            super().__init__("translate")
            self.info = dc_replace(self.info, model_id=name)
            self.closed = False

        def close(self):
            self.closed = True

        def generate(self, requests, settings, max_new_tokens):
            if self.closed:
                raise RuntimeError(f"{self.info.model_id} was closed")
            return super().generate(requests, settings, max_new_tokens)

    monkeypatch.setattr(loading, "default_translator", lambda s, t: f"m-{s}-{t}")
    config = RunConfig(inputs=("x",), out_dir="y", targets=("ko",), translate="summary",
                       pivot="never", batch_tokens=64, max_loaded_models=2)
    models = loading.build_tasks(config, FakeBackend("summarize"),
                                 {"ko": Closable("m-en-ko")})
    models.config = config
    models.max_loaded = 2
    models.load_backend = Closable
    items = [Pending(Article(id=f"{lang}.txt", source=f"{lang}.txt",
                             text=f"Ein Satz {lang} hier. Noch einer.", title="",
                             lang=lang), "k", 0.0) for lang in ("de", "fr")]
    records = GroupProcessor(config, models, StatsCollector()).process(items)
    assert [r.error for r in records] == [None, None]


@pytest.mark.parametrize("mode", ["off", "io", "full"])
def test_debug_raises_the_article_error_in_every_mode(tmp_path, mode):
    src, out = tmp_path / "in", tmp_path / "out"
    write_inputs(src, 12)
    with pytest.raises(RuntimeError, match="fake failure"):
        run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), group_size=3,
                            overlap=mode, debug=True),
                  loader=fake_loader(translator=FakeBackend("translate", fail_on="day 7 ")))
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"a{i:03d}.txt" for i in range(6)]
