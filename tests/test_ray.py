"""The Ray engine on one local Ray instance: same records as the local engine, a dead
replica, a poison article, resume.

One Ray instance (two CPUs) serves the whole module; no other test file starts Ray.
Each run uses two CPU replicas over the tiny real models.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from summarize import ray_engine  # noqa: E402
from summarize.pipeline import run_batch  # noqa: E402
from summarize.records import RunConfig  # noqa: E402

#: Fields that differ between two runs of the same work.
VOLATILE = ("timings", "finished_at", "run")
N_ARTICLES = 30
GROUP = 5


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def articles(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ray_in")
    for i in range(N_ARTICLES):
        words = " ".join(["markets", "rose", "after", "the", "bank"][: 1 + i % 5])
        (root / f"a{i:03d}.txt").write_text(
            f"Story {i}\n\nOfficials said talks number {i} would continue. "
            f"The {words} said so.\n", encoding="utf-8")
    return root


def config(src: Path, out: Path, bart: Path, marian: Path, **kw) -> RunConfig:
    base = {"inputs": (str(src),), "out_dir": str(out), "summarizer": str(bart),
            "translator": str(marian), "targets": ("ko",), "source_lang": "en",
            "summarizer_generation": {"max_new_tokens": 6, "num_beams": 1},
            "translator_generation": {"max_new_tokens": 6, "num_beams": 1},
            "group_size": GROUP, "models_dir": str(out.parent / "models"), "threads": 1}
    return RunConfig(**{**base, **kw})


def records(out: Path) -> dict[str, dict]:
    """results.jsonl by id, without the fields that change from run to run."""
    found: dict[str, dict] = {}
    for line in (out / "results.jsonl").read_text("utf-8").splitlines():
        data = json.loads(line)
        assert data["id"] not in found, f"{data['id']} recorded twice"
        found[data["id"]] = {k: v for k, v in data.items() if k not in VOLATILE}
    return found


@pytest.fixture(scope="module")
def local_records(articles, tmp_path_factory, tiny_bart, tiny_marian) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local") / "out"
    result = run_batch(config(articles, out, tiny_bart, tiny_marian))
    assert result.exit_code == 0 and result.n_ok == N_ARTICLES
    return records(out)


@pytest.fixture(scope="module")
def ray_run(ray_instance, articles, tmp_path_factory, tiny_bart, tiny_marian):
    out = tmp_path_factory.mktemp("ray") / "out"
    cfg = config(articles, out, tiny_bart, tiny_marian, engine="ray", replicas=2)
    return cfg, run_batch(cfg), out


def test_records_equal_the_local_engine(ray_run, local_records):
    _, result, out = ray_run
    assert result.exit_code == 0
    assert (result.n_ok, result.n_failed) == (N_ARTICLES, 0)
    got = records(out)
    assert sorted(got) == sorted(local_records)
    for key, want in local_records.items():
        assert got[key] == want, key
    for rec in got.values():
        assert (out / rec["page_md"]).is_file()
    assert (out / "index.html").is_file()


def test_stats_name_the_models_and_each_replica(ray_run):
    _, result, out = ray_run
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert {m["role"] for m in stats["models"]} >= {"summarizer", "translator:ko"}
    assert stats["device"] == "cpu"
    replicas = stats["replicas"]
    assert 1 <= len(replicas) <= 2
    assert sum(r["articles"] for r in replicas) == N_ARTICLES
    assert sum(r["batches"] for r in replicas) == N_ARTICLES // GROUP
    for rep in replicas:
        assert rep["seconds"] > 0 and rep["input_tokens"] > 0 and rep["output_tokens"] > 0
        assert rep["load_s"] > 0 and rep["restarts"] == 0
    assert stats["stages"]["translate"]["n_batches"] > 0
    assert stats["stages"]["summarize"]["input_tokens"] == sum(
        r["input_tokens"] for r in replicas) - stats["stages"]["translate"]["input_tokens"]
    assert result.generate_calls > 0


def test_rerun_sends_nothing_to_ray(ray_run, monkeypatch):
    cfg, _, out = ray_run
    before = (out / "results.jsonl").read_bytes()

    def no_ray(*args, **kwargs):
        raise AssertionError("a resumed run sent work to Ray")

    monkeypatch.setattr(ray.data, "from_items", no_ray)
    again = run_batch(cfg)
    assert again.exit_code == 0
    assert (again.n_ok, again.n_resumed, again.n_failed) == (N_ARTICLES, N_ARTICLES, 0)
    assert not again.models_loaded
    assert (out / "results.jsonl").read_bytes() == before


def test_dead_replica_is_restarted_and_every_article_recorded_once(
        ray_instance, articles, tmp_path, tiny_bart, tiny_marian, monkeypatch):
    marker = tmp_path / "died"
    monkeypatch.setenv(ray_engine.FAULT_ENV, str(marker))
    out = tmp_path / "out"
    result = run_batch(config(articles, out, tiny_bart, tiny_marian, engine="ray",
                              replicas=2))
    assert marker.is_file()  # a replica did die
    assert result.exit_code == 0, result.failures
    got = records(out)  # asserts no id twice
    assert len(got) == N_ARTICLES and all(r["status"] == "ok" for r in got.values())
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert sum(r["restarts"] for r in stats["replicas"]) == 1
    assert sum(r["retried_batches"] for r in stats["replicas"]) == 1
    assert sum(r["articles"] for r in stats["replicas"]) == N_ARTICLES


@pytest.mark.slow
def test_article_that_kills_every_replica_is_an_error_not_a_crash(
        ray_instance, articles, tmp_path, tiny_bart, tiny_marian, monkeypatch):
    monkeypatch.setenv(ray_engine.POISON_ENV, "a007.txt")
    out = tmp_path / "out"
    result = run_batch(config(articles, out, tiny_bart, tiny_marian, engine="ray",
                              replicas=2))
    assert result.exit_code == 1
    got = records(out)
    assert len(got) == N_ARTICLES
    bad = [k for k, r in got.items() if r["status"] != "ok"]
    assert bad == ["a007.txt"]
    assert "replica processing this article died" in got["a007.txt"]["error"]
    assert [f.id for f in result.failures] == ["a007.txt"]


def test_replica_plan_follows_gpus_and_cpus():
    plan = ray_engine.plan_replicas
    cpu = RunConfig(inputs=("x",))
    assert plan(cpu, {"CPU": 2.0}, 10) == ray_engine.ReplicaPlan(2, 0.0, 1.0, 1)
    assert plan(RunConfig(inputs=("x",), replicas=1), {"CPU": 8.0}, 10).threads == 8
    assert plan(cpu, {"CPU": 16.0, "GPU": 4.0}, 10).replicas == 4
    assert plan(cpu, {"CPU": 16.0, "GPU": 4.0}, 2).replicas == 2  # no more than groups
    half = RunConfig(inputs=("x",), gpus_per_replica=0.5)
    assert plan(half, {"CPU": 16.0, "GPU": 2.0}, 10) == ray_engine.ReplicaPlan(4, 0.5, 1.0, 1)
