"""A deterministic backend whose outputs are predictable from its inputs.

Translation of ``text`` is ``"<" + text.upper() + ">"``; a summary is the first
``summary_words`` words of its input. Tokens are whitespace words plus one end token.
Every batch is recorded so tests can check pooling and ordering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from summarize.backends import BackendInfo, BatchOutOfMemory, Generated, TaskDefaults
from summarize.languages import LangPlan
from summarize.loading import LoadedModels, build_tasks
from summarize.records import RunConfig


class FakeBackend:
    """Implements the Seq2SeqBackend contract with predictable outputs (see module doc)."""

    def __init__(self, kind: str, *, max_input_tokens: int = 512, summary_words: int = 6,
                 oom_above: int | None = None, fail_on: str | None = None):
        self.info = BackendInfo(model_id=f"fake-{kind}", path="", revision=None, license="test",
                                family="fake", engine="fake", device="cpu", device_name="fake",
                                dtype="float32")
        self.kind = kind
        self.max_input_tokens = max_input_tokens
        self.max_output_tokens = None
        self.summary_words = summary_words
        self.oom_above = oom_above
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.plans: list[LangPlan | None] = []

    def task_defaults(self, task: str) -> TaskDefaults:
        return TaskDefaults()

    def plan_language(self, target: str, source: str) -> LangPlan:
        return LangPlan("generic", target, None, "", source, None)

    def count_tokens(self, texts: Sequence[str], plan: LangPlan | None = None) -> list[int]:
        return [len(t.split()) + 1 for t in texts]

    def generate(self, texts: Sequence[str], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int], plan: LangPlan | None = None) -> Generated:
        if self.oom_above is not None and len(texts) > self.oom_above:
            raise BatchOutOfMemory("fake OOM")
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise RuntimeError("fake failure")
        self.batches.append(list(texts))
        self.plans.append(plan)
        if self.kind == "translate":
            outs = [f"<{t.upper()}>" for t in texts]
        else:
            outs = [" ".join(t.split()[: self.summary_words]) for t in texts]
        n_in = sum(self.count_tokens(texts))
        return Generated(outs, n_in, sum(len(o.split()) for o in outs), [False] * len(outs))

    def close(self) -> None:
        pass


def fake_loader(summarizer: FakeBackend | None = None, translator: FakeBackend | None = None,
                budget_tokens: int = 64):
    """A ``loader`` for run_batch that builds the tasks over fake backends."""
    summ = summarizer or FakeBackend("summarize")
    trans = translator or FakeBackend("translate")

    def load(config: RunConfig) -> LoadedModels:
        if config.batch_tokens is None:
            config = replace(config, batch_tokens=budget_tokens)
        targets = config.targets if config.translate != "none" else ()
        return build_tasks(config, summ, dict.fromkeys(targets, trans))

    load.summarizer = summ  # type: ignore[attr-defined]
    load.translator = trans  # type: ignore[attr-defined]
    return load


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
