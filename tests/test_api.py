"""The in-memory API (``summarize.load``): load once, summarize and translate lists of texts,
typed results with review signals; and the Python API as quiet as the command line."""

from __future__ import annotations

import json

import pytest

import summarize
from summarize.api import Models, Summary, Translation
from summarize.records import Article
from summarize.settings import RoleConfig, RunConfig

TEXTS = ["The city council approved the new budget on Tuesday. Taxes stay the same.",
         "Heavy rain caused flooding in several villages overnight. Roads were closed."]


@pytest.fixture(scope="module")
def models(tiny_bart, tiny_marian, tmp_path_factory):
    loaded = summarize.load(str(tiny_bart), str(tiny_marian), to="ko",
                            models_dir=str(tmp_path_factory.mktemp("none")))
    yield loaded
    loaded.close()


def test_summaries_come_back_typed_in_input_order(models):
    out = models.summarize(TEXTS + [""])
    assert [type(s) for s in out] == [Summary] * 3
    assert [s.lang for s in out[:2]] == ["en", "en"]
    assert all(s.text and s.error is None and s.route == "direct" for s in out[:2])
    assert all(s.confidence is not None and s.confidence.min <= s.confidence.mean <= 0
               for s in out[:2])
    # the same texts give the same summaries, alone or pooled
    assert models.summarize(TEXTS[1:2])[0].text == out[1].text


def test_translations_come_back_with_alignment_and_signals(models):
    out = models.translate(["The council met on Monday. It approved the plan.", "Rain fell."],
                           to="kor")
    assert [type(t) for t in out] == [Translation] * 2
    first = out[0]
    assert first.target_lang == "ko" and first.source_lang == "en" and first.error is None
    assert [src for src, _ in first.alignment[0]] == ["The council met on Monday.",
                                                     "It approved the plan."]
    assert len(first.confidence[0]) == len(first.flags[0]) == 2
    assert first.model.endswith("opus-mt-en-ko")
    # text already in the target language is copied, not translated
    [copied] = models.translate(["의회는 월요일에 만났다. 예산에 합의했다."], to="ko")
    assert copied.model == "copy" and copied.text == "의회는 월요일에 만났다. 예산에 합의했다."


def test_process_gives_whole_records_and_a_bad_article_fails_alone(models):
    records = models.process([Article("a", "mem", TEXTS[0], title="Budget"),
                              Article("b", "mem", TEXTS[1], lang="klingon"),
                              Article("a", "mem", TEXTS[1])])
    assert [r.id for r in records] == ["a", "b", "a~2"]
    assert records[0].ok and "ko" in records[0].translations
    assert records[0].review is not None
    assert not records[1].ok and "klingon" in records[1].error


def test_a_string_instead_of_a_list_is_refused(models):
    with pytest.raises(TypeError, match="list of texts"):
        models.summarize("one text")


def test_models_is_a_context_manager(tiny_bart, tiny_marian, tmp_path):
    config = RunConfig(inputs=("-",), summarizer=RoleConfig(model=str(tiny_bart)),
                       translate="none", models_dir=str(tmp_path))
    with Models(config) as m:
        assert m.summarize(TEXTS[:1])[0].text


def test_the_python_api_is_as_quiet_as_the_command_line(tmp_path, tiny_bart, tiny_marian,
                                                        article_dir, capfd, caplog):
    """transformers' advice ("Both max_new_tokens and max_length seem to have been set"),
    its progress bars and generate()'s UserWarnings stay off the console, as with the CLI."""
    from summarize.run.pipeline import run_batch

    result = run_batch(RunConfig(
        inputs=(str(article_dir),), out_dir=str(tmp_path / "out"), translate="both",
        models_dir=str(tmp_path),
        summarizer=RoleConfig(model=str(tiny_bart), settings={"num_beams": 2}),
        translator=RoleConfig(model=str(tiny_marian), settings={"num_beams": 2})))
    assert result.exit_code == 0
    captured = capfd.readouterr()
    noise = captured.err + captured.out + caplog.text
    assert "transformers" not in noise and "Loading weights" not in noise, noise[-2000:]
    assert "max_new_tokens" not in noise
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["articles"]["ok"]
