"""The backend contract alone is enough: backends written only from the protocol run the
whole pipeline (one asked like a seq2seq model, one that takes prompts), and one failing
article keeps its group-mates' pooled batches."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from summarize.backends import Backend, BackendInfo, Generated, Request, TaskDefaults
from summarize.run.pipeline import run_batch
from summarize.settings import RunConfig


class ProtocolBackend:
    """Implements exactly what Backend declares, nothing else (plus a call log): its input
    is the text itself, one sentence per translation request."""

    translation_unit = "sentence"

    def __init__(self, name: str, fail_on: str | None = None):
        self.info = BackendInfo(model_id=name, path="", revision="r1", license="mit",
                                family="toy", engine="toy", device="cpu", device_name="toy",
                                dtype="float32")
        self.max_output_tokens = None
        self.fail_on = fail_on
        self.calls: list[int] = []

    def task_defaults(self, task: str) -> TaskDefaults:
        return TaskDefaults(settings={}, max_new_tokens=8)

    def input_limit(self, task: str, max_new_tokens: int) -> int:
        return 64

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
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise RuntimeError("cannot handle this text")
        self.calls.append(len(texts))
        outs = [" ".join(t.split()[:limit])[::-1] for t, limit in zip(texts, max_new_tokens,
                                                                       strict=True)]
        return Generated(outs, sum(self.count_tokens(requests)),
                         sum(len(o.split()) for o in outs), [False] * len(texts))

    def close(self) -> None:
        pass


class PromptBackend:
    """A model that takes one prompt per request (instruction and text in one string, as a
    chat model does), written from the contract alone: it translates paragraphs, summarizes
    any language in that language, and its prompt's words do not count toward an output's
    length. Its "model" answers a summary with the text's first words and a translation
    with the text in brackets, tagged with the target language.
    """

    translation_unit = "paragraph"

    def __init__(self) -> None:
        self.info = BackendInfo(model_id="toy-chat", path="", revision=None, license="mit",
                                family="toychat", engine="toy", device="cpu",
                                device_name="toy", dtype="float32")
        self.max_output_tokens = None
        self.prompts: list[str] = []
        self.limits: list[int] = []

    def prompt(self, request: Request) -> str:
        if request.task == "summarize":
            return (f"Summarize in {request.target_lang} the article titled "
                    f"'{request.title}':\n{request.text}")
        return f"Translate from {request.source_lang} to {request.target_lang}:\n{request.text}"

    def task_defaults(self, task: str) -> TaskDefaults:
        return TaskDefaults(settings={}, max_new_tokens=6 if task == "summarize" else 64)

    def input_limit(self, task: str, max_new_tokens: int) -> int:
        return 200 - max_new_tokens  # one context window shared by input and output

    def summarizes(self, lang: str) -> bool:
        return True

    def check_languages(self, task: str, source: str, target: str) -> None:
        pass

    def count_tokens(self, requests: Sequence[Request]) -> list[int]:
        return [len(self.prompt(r).split()) for r in requests]

    def prompt_tokens(self, request: Request) -> int:
        return len(self.prompt(Request(request.task, "", request.source_lang,
                                       request.target_lang, request.title)).split())

    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        outs = []
        for request, limit in zip(requests, max_new_tokens, strict=True):
            prompt = self.prompt(request)
            self.prompts.append(prompt)
            self.limits.append(limit)
            text = prompt.split("\n", 1)[1]  # what the model was asked about
            if request.task == "summarize":
                outs.append(" ".join(text.split()[:limit]))
            else:
                outs.append(f"[{request.target_lang}] {text}")
        return Generated(outs, sum(self.count_tokens(requests)),
                         sum(len(o.split()) for o in outs), [False] * len(requests))

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
    assert isinstance(summarizer, Backend)
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


def test_a_backend_that_takes_prompts_runs_the_whole_pipeline(tmp_path):
    """One prompt-taking backend serves both roles: a Korean article is summarized in
    Korean (no pivot through English), paragraphs are translated whole, and the output
    limit is sized by the text, not by the prompt around it."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "en.txt").write_text("Budget talks\n\nThe council met on Monday. It agreed on the "
                                "budget.\n\nTaxes stay the same.", "utf-8")
    (src / "ko.json").write_text(json.dumps({"id": "ko1", "lang": "ko", "title": "예산",
                                             "text": "의회는 월요일에 만났다. 예산에 합의했다."}),
                                 "utf-8")
    chat = PromptBackend()
    assert isinstance(chat, Backend)
    out = tmp_path / "out"
    result = run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), targets=("ko", "en"),
                                 translate="both"),
                       backends={"summarizer": chat, "translator": chat})
    assert result.exit_code == 0 and result.n_ok == 2
    records = {r["id"]: r for r in
               (json.loads(line) for line in (out / "results.jsonl").read_text().splitlines())}
    en, ko = records["en.txt"], records["ko1"]
    assert en["summary"] == "The council met on Monday. It"  # 6 tokens
    assert en["routes"]["summary"] == "direct"
    # the Korean article is summarized in Korean, directly; its Korean text is copied
    assert ko["routes"]["summary"] == "direct"
    assert ko["summary"] == "의회는 월요일에 만났다. 예산에 합의했다."
    assert ko["translations"]["ko"]["article"] == ko["text"]
    assert ko["routes"]["ko.article"] == "copy"
    assert ko["translations"]["en"]["summary"].startswith("[en] ")
    # paragraphs, not sentences: one alignment pair per paragraph
    pairs = en["alignment"]["ko"]["article"]
    assert [[src for src, _ in p] for p in pairs] == [
        ["The council met on Monday. It agreed on the budget."], ["Taxes stay the same."]]
    assert en["translations"]["ko"]["article"] == (
        "[ko] The council met on Monday. It agreed on the budget.\n\n[ko] Taxes stay the same.")
    assert en["translations"]["ko"]["title"] == "[ko] Budget talks"
    # the prompt asked for the title and the language; output limits count the text alone
    assert any("titled 'Budget talks'" in p for p in chat.prompts)
    assert any(p.startswith("Summarize in ko the article titled '예산'") for p in chat.prompts)
    assert 3 * 4 + 16 in chat.limits  # "Taxes stay the same." is 4 words


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
