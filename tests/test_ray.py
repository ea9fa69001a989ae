"""The Ray engine on one local Ray instance: same records as the local engine, a dead
replica in each stage, a poison article, resume, a bounded window of groups in flight.

One Ray instance (two CPUs) serves the whole module; no other test file starts Ray.
Each run has two model stages (summarize, translate) of CPU replicas over the tiny real
models.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")


from summarize.errors import UsageError  # noqa: E402
from summarize.run import ray_engine, ray_plan  # noqa: E402
from summarize.run.hooks import FaultPlan, Hooks  # noqa: E402
from summarize.run.pipeline import run_batch  # noqa: E402
from summarize.settings import RayConfig, RoleConfig, RunConfig  # noqa: E402

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
    replicas = kw.pop("replicas", None)
    base = {"inputs": (str(src),), "out_dir": str(out),
            "summarizer": RoleConfig(model=str(bart),
                                     settings={"max_new_tokens": 6, "num_beams": 1}),
            "translator": RoleConfig(model=str(marian),
                                     settings={"max_new_tokens": 6, "num_beams": 1}),
            "targets": ("ko",), "source_lang": "en",
            "group_size": GROUP, "models_dir": str(out.parent / "models")}
    if replicas is not None:
        base["ray"] = RayConfig(replicas=replicas)
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


def test_stats_name_the_models_and_each_replica_of_both_stages(ray_run):
    _, result, out = ray_run
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert [m["role"] for m in stats["models"]][:2] == ["summarizer", "translator:ko"]
    assert stats["device"] == "cpu"
    replicas = stats["replicas"]
    assert {r["stage"] for r in replicas} == {"summarize", "translate"}
    for stage in ("summarize", "translate"):
        mine = [r for r in replicas if r["stage"] == stage]
        assert 1 <= len(mine) <= 2
        assert sum(r["articles"] for r in mine) == N_ARTICLES
        assert sum(r["batches"] for r in mine) == N_ARTICLES // GROUP
        assert all(r["num_cpus"] == 0.5 and r["threads"] == 1 for r in mine)
    for rep in replicas:
        assert rep["seconds"] > 0 and rep["input_tokens"] > 0 and rep["output_tokens"] > 0
        assert rep["load_s"] > 0 and rep["restarts"] == 0
    summarize = [r for r in replicas if r["stage"] == "summarize"]
    assert stats["stages"]["summarize"]["input_tokens"] == sum(
        r["input_tokens"] for r in summarize)
    assert stats["stages"]["translate"]["n_batches"] > 0
    assert result.generate_calls > 0


def test_rerun_sends_nothing_to_ray(ray_run, monkeypatch):
    cfg, _, out = ray_run
    before = (out / "results.jsonl").read_bytes()

    def no_ray(*args, **kwargs):
        raise AssertionError("a resumed run sent work to Ray")

    monkeypatch.setattr(ray.data, "read_datasource", no_ray)
    monkeypatch.setattr(ray_engine.RayEngine, "_connect", no_ray)
    again = run_batch(cfg)
    assert again.exit_code == 0
    assert (again.n_ok, again.n_resumed, again.n_failed) == (N_ARTICLES, N_ARTICLES, 0)
    assert not again.models_loaded
    assert (out / "results.jsonl").read_bytes() == before


def test_a_dead_replica_in_each_stage_is_restarted_and_the_window_stays_bounded(
        ray_instance, articles, tmp_path, tiny_bart, tiny_marian, monkeypatch):
    marker = tmp_path / "died"
    flight = {"sent": 0, "written": 0, "peak": 0, "written_before_last_send": 0}
    send, write = ray_engine.RayEngine._send, ray_engine.RayEngine._write_group

    def counting_send(self, pending, rows, credits):
        ok = send(self, pending, rows, credits)
        flight["sent"] += ok
        flight["peak"] = max(flight["peak"], flight["sent"] - flight["written"])
        flight["written_before_last_send"] = flight["written"]
        return ok

    def counting_write(self, records):
        flight["written"] += 1
        return write(self, records)

    monkeypatch.setattr(ray_engine.RayEngine, "_send", counting_send)
    monkeypatch.setattr(ray_engine.RayEngine, "_write_group", counting_write)
    out = tmp_path / "out"
    result = run_batch(config(articles, out, tiny_bart, tiny_marian, engine="ray",
                              replicas=1),
                       hooks=Hooks(faults=FaultPlan(crash_once=str(marker))))
    # a replica of each stage did die
    assert (tmp_path / "died.summarize").is_file() and (tmp_path / "died.translate").is_file()
    assert result.n_failed == 0, result.failures
    got = records(out)  # asserts no id twice
    assert len(got) == N_ARTICLES and all(r["status"] == "ok" for r in got.values())
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    for stage in ("summarize", "translate"):
        mine = [r for r in stats["replicas"] if r["stage"] == stage]
        assert sum(r["restarts"] for r in mine) == 1, stage
        assert sum(r["retried_batches"] for r in mine) == 1, stage
        assert sum(r["articles"] for r in mine) == N_ARTICLES, stage
    # one replica per stage: at most window() groups in flight, fewer than the run's groups,
    # so the last group was read only after the first ones were written
    n_groups = N_ARTICLES // GROUP
    limit = ray_plan.window({s: ray_plan.ReplicaPlan(1, 0.0, 1.0, 1) for s in ray_plan.STAGES})
    assert flight["sent"] == n_groups and limit < n_groups
    assert flight["peak"] <= limit
    assert flight["written_before_last_send"] >= 1


@pytest.mark.slow
def test_article_that_kills_every_replica_is_an_error_not_a_crash(
        ray_instance, articles, tmp_path, tiny_bart, tiny_marian):
    # it dies in the translate stage: after its group's summaries were made
    out = tmp_path / "out"
    result = run_batch(config(articles, out, tiny_bart, tiny_marian, engine="ray",
                              replicas=2),
                       hooks=Hooks(faults=FaultPlan(poison="a007.txt@translate")))
    assert result.n_failed == 1
    got = records(out)
    assert len(got) == N_ARTICLES
    bad = [k for k, r in got.items() if r["status"] != "ok"]
    assert bad == ["a007.txt"]
    assert "replica processing this article (translate stage) died" in got["a007.txt"]["error"]
    assert [f.id for f in result.failures] == ["a007.txt"]


def test_the_two_phases_through_json_give_the_records_of_process(
        articles, tmp_path, tiny_bart, tiny_marian):
    """What a summarize replica hands a translate replica: plain JSON, whole or split by
    article (a retried group), with an article's error carried across."""
    from summarize.records import Article, result_to_json
    from summarize.run.models import load_models
    from summarize.run.pipeline import validate_config
    from summarize.run.process import GroupProcessor
    from summarize.run.stats import StatsCollector
    from summarize.run.work import GroupState, Pending

    cfg = validate_config(config(articles, tmp_path / "out", tiny_bart, tiny_marian))
    models = load_models(cfg)
    proc = GroupProcessor(cfg, models, StatsCollector())
    group = [Pending(Article(id=f"a{i}", source=f"a{i}.txt", title=f"Story {i}",
                             text=f"Officials said talks number {i} would continue.",
                             lang="fr" if i == 2 else "en"),  # fr: no model pivots it
                     key=f"k{i}", read_s=0.0, routes={"lang": "given"}) for i in range(4)]

    def plain(results):
        return [{k: v for k, v in result_to_json(r).items() if k not in VOLATILE + ("key",)}
                for r in results]

    def wire(state):
        return GroupState.from_json(json.loads(json.dumps(state.to_json())))

    want = plain(proc.process(group))
    assert [r["status"] for r in want] == ["ok", "ok", "error", "ok"]
    state = proc.summarize_phase(group)
    assert state.errors[2] and not state.errors[0]
    assert plain(proc.translate_phase(wire(state))) == want
    merged = GroupState.merge([wire(part) for part in state.split()])
    assert plain(proc.translate_phase(merged)) == want
    models.close()


def test_replica_plan_follows_gpus_and_cpus():
    plan = ray_plan.plan_replicas
    cpu = RunConfig(inputs=("x",))
    assert plan(cpu, {"CPU": 2.0}, 10) == ray_plan.ReplicaPlan(2, 0.0, 1.0, 1)
    assert plan(RunConfig(inputs=("x",), ray=RayConfig(replicas=1)), {"CPU": 8.0}, 10).threads == 8
    assert plan(cpu, {"CPU": 16.0, "GPU": 4.0}, 10).replicas == 4
    assert plan(cpu, {"CPU": 16.0, "GPU": 4.0}, 2).replicas == 2  # no more than groups
    half = RunConfig(inputs=("x",), ray=RayConfig(gpus_per_replica=0.5))
    assert plan(half, {"CPU": 16.0, "GPU": 2.0}, 10) == ray_plan.ReplicaPlan(4, 0.5, 1.0, 1)
    # two stages: each GPU holds one replica of each by default; the CPUs are split
    assert plan(cpu, {"CPU": 16.0, "GPU": 4.0}, None, 2) == ray_plan.ReplicaPlan(
        4, 0.5, 1.0, 1)
    assert plan(half, {"CPU": 16.0, "GPU": 2.0}, None, 2).replicas == 2
    assert plan(cpu, {"CPU": 8.0}, None, 2) == ray_plan.ReplicaPlan(4, 0.0, 1.0, 1)
    two = RunConfig(inputs=("x",), ray=RayConfig(replicas=2))
    assert plan(two, {"CPU": 2.0}, None, 2) == ray_plan.ReplicaPlan(2, 0.0, 0.5, 1)
    one = RunConfig(inputs=("x",), ray=RayConfig(replicas=1))
    assert plan(one, {"CPU": 8.0}, None, 2).threads == 4
    assert ray_plan.model_stages(cpu) == ("summarize", "translate")
    assert ray_plan.model_stages(RunConfig(inputs=("x",), summarize=False)) == (
        "translate",)


def test_a_plan_beyond_the_resources_is_named_in_words():
    """GPUs, CPU replicas and memory: what was asked and what exists; None when it fits."""
    gib = 2**30
    fits = {s: ray_plan.ReplicaPlan(2, 0.0, 0.5, 1) for s in ray_plan.STAGES}
    each = dict.fromkeys(ray_plan.STAGES, gib // 2)
    assert ray_plan.shortfall(fits, {"CPU": 2.0, "memory": 8 * gib}, each) is None
    gpus = {s: ray_plan.ReplicaPlan(1, 1.0, 1.0, 1) for s in ray_plan.STAGES}
    said = ray_plan.shortfall(gpus, {"CPU": 2.0}, each)
    assert said.startswith("the replicas ask for 2 GPU(s)") and "Ray has 0 GPU(s)" in said
    assert ray_plan.shortfall(gpus, {"CPU": 2.0, "GPU": 2.0}, each) is None
    many = {s: ray_plan.ReplicaPlan(50, 0.0, 0.02, 1) for s in ray_plan.STAGES}
    said = ray_plan.shortfall(many, {"CPU": 2.0, "memory": 64 * gib}, each)
    assert "--replicas 50 asks for 50 CPU replicas" in said and "Ray has 2 CPU(s)" in said
    big = dict.fromkeys(ray_plan.STAGES, 3 * gib)
    said = ray_plan.shortfall(fits, {"CPU": 2.0, "memory": 8 * gib}, big)
    assert "4 replica(s) (2 stage(s)) need about 12.9 GB" in said and "Ray has 8.6 GB" in said
    # the replicas left to the plan (0) fit the memory instead of being refused
    auto = ray_plan.plan_replicas(
        RunConfig(inputs=("x",)), {"CPU": 64.0, "memory": 8 * gib}, None, 2, 3 * gib)
    assert auto.replicas == 1 and auto.num_cpus == 32.0
    asked = RunConfig(inputs=("x",), ray=RayConfig(replicas=4))
    assert ray_plan.plan_replicas(asked, {"CPU": 64.0, "memory": 8 * gib}, None, 2,
                                  3 * gib).replicas == 4  # asked: checked, then refused


def test_a_replica_estimate_counts_the_local_weights(tiny_bart, tiny_marian, tmp_path):
    cfg = config(tmp_path, tmp_path / "out", tiny_bart, tiny_marian)
    weights = sum(p.stat().st_size for p in Path(tiny_bart).glob("*.safetensors"))
    assert weights > 0
    assert ray_plan.replica_bytes(cfg, "summarize") == ray_plan.REPLICA_BASE_BYTES + weights
    hub = RunConfig(inputs=("x",), summarizer="someone/not-downloaded",
                    models_dir=str(tmp_path))
    assert ray_plan.replica_bytes(hub, "summarize") == ray_plan.REPLICA_BASE_BYTES


def test_gpus_a_cluster_does_not_offer_are_an_error_after_a_bounded_wait(
        ray_instance, articles, tmp_path, tiny_bart, tiny_marian, monkeypatch):
    """On a cluster (here: the module's instance, which this run did not start) the run
    waits for an autoscaler, then names what was asked and what exists; nothing starts."""
    monkeypatch.setattr(ray_engine, "PLACEMENT_WAIT_S", 1.0)
    cfg = config(articles, tmp_path / "out", tiny_bart, tiny_marian, engine="ray")
    cfg = RunConfig(**{**cfg.__dict__, "ray": RayConfig(replicas=1, gpus_per_replica=1.0)})
    t0 = time.monotonic()
    with pytest.raises(UsageError, match=r"cannot place its replicas on the cluster: the "
                       r"replicas ask for 2 GPU\(s\).*Ray has 0 GPU\(s\).*within 1 s"):
        run_batch(cfg)
    assert time.monotonic() - t0 < 60
    assert ray.is_initialized()  # the module's instance is left as it was
    assert not (tmp_path / "out" / "results.jsonl").exists()


@pytest.mark.slow
def test_dedupe_copies_on_ray_equal_the_local_engine(ray_instance, tmp_path, tiny_bart,
                                                     tiny_marian):
    """One book for both engines: a copy in its leader's group, one in a later group (its
    leader in flight or done), each with its own id, name and page."""
    src = tmp_path / "in"
    src.mkdir()
    texts = {f"a{i:02d}.txt": f"Story {i}\n\nOfficials said talks number {i} would go on.\n"
             for i in range(12)}
    # in file order: a01x in a01's group (of 4), a10x and b00 in the last group
    texts.update({"a01x.txt": texts["a01.txt"], "a10x.txt": texts["a01.txt"],
                  "b00.txt": texts["a03.txt"]})
    for name, text in texts.items():
        (src / name).write_text(text, encoding="utf-8")
    got = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        result = run_batch(config(src, out, tiny_bart, tiny_marian, engine=engine,
                                  dedupe=True, group_size=4, replicas=1))
        assert result.n_ok + result.n_failed == len(texts)
        got[engine] = records(out)
    assert got["ray"] == got["local"]
    for copy, leader in (("a01x.txt", "a01.txt"), ("a10x.txt", "a01.txt"),
                         ("b00.txt", "a03.txt")):
        assert got["ray"][copy]["duplicate_of"] == leader
        assert got["ray"][copy]["summary"] == got["ray"][leader]["summary"]
        assert got["ray"][copy]["page_md"] != got["ray"][leader]["page_md"]
    assert sum(1 for r in got["ray"].values() if r.get("duplicate_of")) == 3
