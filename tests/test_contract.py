"""The backend contract alone is enough: a backend written only from the protocol runs the
whole pipeline, and one failing article keeps its group-mates' pooled batches."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from summarize.backends import BackendInfo, Generated, LangPlan, Seq2SeqBackend, TaskDefaults
from summarize.records import RunConfig
from summarize.run.pipeline import run_batch


class ProtocolBackend:
    """Implements exactly what Seq2SeqBackend declares, nothing else (plus a call log)."""

    def __init__(self, name: str, fail_on: str | None = None):
        self.info = BackendInfo(model_id=name, path="", revision="r1", license="mit",
                                family="toy", engine="toy", device="cpu", device_name="toy",
                                dtype="float32")
        self.max_input_tokens = 64
        self.max_output_tokens = None
        self.fail_on = fail_on
        self.calls: list[int] = []

    def task_defaults(self, task: str) -> TaskDefaults:
        return TaskDefaults(prefix="", settings={}, max_new_tokens=8)

    def plan_language(self, target: str, source: str) -> LangPlan:
        return LangPlan("generic", target, None, "", None, None)

    def count_tokens(self, texts: Sequence[str], plan: LangPlan | None = None) -> list[int]:
        return [len(t.split()) + 1 for t in texts]

    def generate(self, texts: Sequence[str], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int], plan: LangPlan | None = None) -> Generated:
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise RuntimeError("cannot handle this text")
        self.calls.append(len(texts))
        outs = [" ".join(t.split()[:limit])[::-1] for t, limit in zip(texts, max_new_tokens,
                                                                       strict=True)]
        return Generated(outs, sum(self.count_tokens(texts)), sum(len(o.split()) for o in outs),
                         [False] * len(texts))

    def close(self) -> None:
        pass


def _inputs(tmp_path, n=8, bad=None):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(n):
        word = "POISON" if i == bad else f"word{i}"
        (src / f"a{i}.txt").write_text(f"Story {i} has a {word} in it. It ends here.", "utf-8")
    return src


def test_a_protocol_only_backend_runs_the_whole_pipeline(tmp_path):
    summarizer, translator = ProtocolBackend("toy-sum"), ProtocolBackend("toy-tr")
    assert isinstance(summarizer, Seq2SeqBackend)
    out = tmp_path / "out"
    result = run_batch(RunConfig(inputs=(str(_inputs(tmp_path)),), out_dir=str(out),
                                 targets=("ko",), translate="both"),
                       backends={"summarizer": summarizer, "translator": translator})
    assert result.exit_code == 0 and result.n_ok == 8
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["status"] for r in records} == {"ok"}
    first = next(r for r in records if r["id"] == "a0.txt")
    assert first["summary"] == "Story 0 has a word0 in it. It"[::-1]  # the model's 8 tokens
    assert set(first["translations"]["ko"]) == {"summary", "article"}
    stats = json.loads((out / "stats.json").read_text())
    assert [m["model_id"] for m in stats["models"]] == ["toy-sum", "toy-tr"]
    assert stats["models"][0]["engine"] == "toy"
    assert summarizer.calls == [8]  # every article pooled into one batch


def test_one_failing_article_keeps_the_others_pooled(tmp_path):
    summarizer = ProtocolBackend("toy-sum", fail_on="POISON")
    translator = ProtocolBackend("toy-tr")
    out = tmp_path / "out"
    result = run_batch(RunConfig(inputs=(str(_inputs(tmp_path, bad=5)),), out_dir=str(out),
                                 targets=("ko",), group_size=8),
                       backends={"summarizer": summarizer, "translator": translator})
    assert result.n_ok == 7 and result.n_failed == 1
    [failure] = result.failures
    assert failure.id == "a5.txt" and "cannot handle this text" in failure.error
    # the failing batch is halved until the bad article is alone: 8 -> 4 -> 2 -> 1;
    # the successful batches hold every other article, and translation is one batch
    assert sorted(summarizer.calls, reverse=True) == [4, 2, 1]
    assert sum(summarizer.calls) == 7
    assert translator.calls == [7]


def test_titles_are_translated_with_the_article(tmp_path):
    from tests.fakes import fake_loader

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("Voters head to the polls\n\nOfficials said the talks would "
                               "continue. The report comes before the election.", "utf-8")
    out = tmp_path / "out"
    result = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), targets=("ko",)),
                       loader=fake_loader())
    assert result.exit_code == 0
    [record] = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["title"] == "Voters head to the polls"
    assert record["translations"]["ko"]["title"] == "<VOTERS HEAD TO THE POLLS>"
