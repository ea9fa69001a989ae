"""A deterministic backend whose outputs are predictable from its inputs.

Translation of ``text`` is ``"<" + text.upper() + ">"``; a summary is the first
``summary_words`` words of its input. Tokens are whitespace words plus one end token.
Every batch is recorded so tests can check pooling and ordering.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from summarize.backends import BackendInfo, BatchOutOfMemory, Generated, Request, TaskDefaults
from summarize.run.models import LoadedModels, build_tasks
from summarize.settings import RunConfig


class FakeBackend:
    """Implements the Backend contract with predictable outputs (see module doc)."""

    translation_unit = "sentence"

    def __init__(self, kind: str, *, max_input_tokens: int = 512, summary_words: int = 6,
                 oom_above: int | None = None, fail_on: str | None = None,
                 confidence: Callable[[str], tuple[float, float]] | None = None):
        self.info = BackendInfo(model_id=f"fake-{kind}", path="", revision=None, license="test",
                                family="fake", engine="fake", device="cpu", device_name="fake",
                                dtype="float32")
        self.kind = kind
        self.max_input_tokens = max_input_tokens
        self.max_output_tokens = None
        self.summary_words = summary_words
        self.oom_above = oom_above
        self.fail_on = fail_on
        self.confidence = confidence  # input text -> (mean, min) score; None: no scores
        self.batches: list[list[str]] = []
        #: The (source, target) languages of each batch's requests.
        self.pairs: list[list[tuple[str, str]]] = []

    def task_defaults(self, task: str) -> TaskDefaults:
        return TaskDefaults()

    def input_limit(self, task: str, max_new_tokens: int) -> int:
        return self.max_input_tokens

    def summarizes(self, lang: str) -> bool:
        return lang == "en"

    def check_languages(self, task: str, source: str, target: str) -> None:
        pass

    def count_tokens(self, requests: Sequence[Request]) -> list[int]:
        return [len(r.text.split()) + 1 for r in requests]

    def prompt_tokens(self, request: Request) -> int:
        return 0

    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        texts = [r.text for r in requests]
        if self.oom_above is not None and len(texts) > self.oom_above:
            raise BatchOutOfMemory("fake OOM")
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise RuntimeError("fake failure")
        self.batches.append(list(texts))
        self.pairs.append([(r.source_lang, r.target_lang) for r in requests])
        outs, hits = self.outputs(texts, max_new_tokens)
        n_in = sum(self.count_tokens(requests))
        scores = [self.confidence(t) for t in texts] if self.confidence else None
        return Generated(outs, n_in, sum(len(o.split()) for o in outs), hits, scores)

    def outputs(self, texts: Sequence[str], max_new_tokens: Sequence[int]
                ) -> tuple[list[str], list[bool]]:
        """The outputs and whether each hit its limit (subclasses script faults here)."""
        if self.kind == "translate":
            outs = [f"<{t.upper()}>" for t in texts]
        else:
            outs = [" ".join(t.split()[: self.summary_words]) for t in texts]
        return outs, [False] * len(outs)

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


class ScriptedTranslator(FakeBackend):
    """A fake translator that "translates" by reversing every word (numbers kept, the
    ``glossary`` applied) and commits one fault on the sentences that contain a trigger.

    Args:
        faults: ``{trigger substring: fault}``; faults are ``copy``, ``truncate`` (a quarter
            of the output, reported as stopped at the token limit), ``repeat``,
            ``drop_number`` and ``miss_glossary``.
        glossary: ``{source word: target word}`` it applies (unless ``miss_glossary``).
        confidence: As for :class:`FakeBackend`.
    """

    def __init__(self, faults: Mapping[str, str], glossary: Mapping[str, str] | None = None,
                 confidence: Callable[[str], tuple[float, float]] | None = None):
        super().__init__("translate", confidence=confidence)
        self.faults = dict(faults)
        self.glossary = {k.lower(): v for k, v in (glossary or {}).items()}

    def translate(self, source: str) -> tuple[str, bool]:
        import re

        fault = next((f for trigger, f in self.faults.items() if trigger in source), "clean")
        if fault == "copy":
            return source, False

        def word(match: re.Match[str]) -> str:
            w = match.group()
            if w.lower() in self.glossary and fault != "miss_glossary":
                return self.glossary[w.lower()]
            return w[::-1]

        out = re.sub(r"[A-Za-z]+", word, source)
        if fault == "truncate":
            return out[: len(out) // 4], True
        if fault == "repeat":
            tail = " ".join(out.split()[-4:-1])
            return f"{out} {tail} {tail} {tail} {tail}", False
        if fault == "drop_number":
            numbers = list(re.finditer(r"\d+(?:[.,:]\d+)*", out))
            longest = max(numbers, key=lambda m: len(m.group()))
            return out[: longest.start()] + out[longest.end():], False
        return out, False

    def outputs(self, texts: Sequence[str], max_new_tokens: Sequence[int]
                ) -> tuple[list[str], list[bool]]:
        done = [self.translate(t) for t in texts]
        return [o for o, _ in done], [h for _, h in done]


class SimulatedDevice:
    """One accelerator shared by backends: a batch holds it and sleeps per token.

    ``time.sleep`` releases the GIL as a GPU kernel does, so CPU work in other threads
    and processes goes on meanwhile; the lock serializes batches as one device queue does.
    Busy time is measured here, inside the device.

    Args:
        seconds_per_token: Sleep per token of a batch (padded input plus output).
        batch_s: Fixed cost of every batch (a kernel launch, a copy).
    """

    def __init__(self, seconds_per_token: float, batch_s: float = 0.0):
        import threading

        self.seconds_per_token = seconds_per_token
        self.batch_s = batch_s
        self.lock = threading.Lock()
        self.busy_s = 0.0
        self.n_batches = 0
        self.tokens = 0
        self.first_start: float | None = None
        self.last_end: float | None = None

    def run(self, tokens: int) -> None:
        """Hold the device for ``tokens`` tokens' worth of time."""
        import time

        with self.lock:
            t0 = time.perf_counter()
            if self.first_start is None:
                self.first_start = t0
            time.sleep(self.batch_s + tokens * self.seconds_per_token)
            self.last_end = time.perf_counter()
            self.busy_s += self.last_end - t0
            self.n_batches += 1
            self.tokens += tokens

    def busy_fraction(self) -> float:
        """Busy time over the span from the first batch's start to the last one's end."""
        if self.first_start is None or self.last_end is None:
            return 0.0
        return self.busy_s / max(1e-9, self.last_end - self.first_start)


class SimulatedBackend:
    """The Backend contract on a :class:`SimulatedDevice` (the shape of
    tests/test_contract.py's ProtocolBackend), with deterministic outputs.

    A summary is the first ``summary_words`` words of its input; a translation is the
    input upper-cased between ``<>``. Tokens are whitespace words plus one end token. Each
    batch costs ``len(batch) * longest input + output words`` tokens of device time. It
    keeps no per-batch log, so memory does not grow with the run.
    """

    def __init__(self, kind: str, device: SimulatedDevice, *, max_input_tokens: int = 512,
                 summary_words: int = 30):
        self.info = BackendInfo(model_id=f"sim-{kind}", path="", revision=None,
                                license="test", family="sim", engine="sim", device="sim:0",
                                device_name="simulated device", dtype="bfloat16")
        self.kind = kind
        self.device = device
        self.max_input_tokens = max_input_tokens
        self.max_output_tokens = None
        self.summary_words = summary_words

    translation_unit = "sentence"

    def task_defaults(self, task: str) -> TaskDefaults:
        return TaskDefaults(settings={}, max_new_tokens=self.summary_words + 8)

    def input_limit(self, task: str, max_new_tokens: int) -> int:
        return self.max_input_tokens

    def summarizes(self, lang: str) -> bool:
        return lang == "en"

    def check_languages(self, task: str, source: str, target: str) -> None:
        pass

    def count_tokens(self, requests: Sequence[Request]) -> list[int]:
        return [len(r.text.split()) + 1 for r in requests]

    def prompt_tokens(self, request: Request) -> int:
        return 0

    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        texts = [r.text for r in requests]
        lengths = self.count_tokens(requests)
        if self.kind == "translate":
            outs = [f"<{t.upper()}>" for t in texts]
        else:
            outs = [" ".join(t.split()[: min(self.summary_words, limit)])
                    for t, limit in zip(texts, max_new_tokens, strict=True)]
        n_out = sum(len(o.split()) for o in outs)
        self.device.run(len(texts) * max(lengths, default=0) + n_out)
        return Generated(outs, sum(lengths), n_out, [False] * len(texts))

    def close(self) -> None:
        pass
