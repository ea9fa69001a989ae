"""Multilingual input on tiny real models: each article is detected, routed to the model of
its language pair, copied when it is already in the target language, pivoted through English
for an English-only summarizer, and failed alone when no configured model covers its pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.backends import catalog as models
from summarize.cli import app
from tests import lang_tokenizers as lt
from tests.fakes import read_jsonl

ENGLISH = ("The city council approved a new transport plan on Tuesday after a long debate. "
           "Work is expected to begin next spring and to last about two years.")
KOREAN = ("서울시는 오늘 새로운 교통 정책을 발표했다. 시민들은 대체로 환영하는 분위기다. "
          "시행은 다음 달부터다.")
GERMAN = ("Die Stadt hat am Dienstag nach einer langen Debatte einen neuen Verkehrsplan "
          "beschlossen. Die Arbeiten sollen im nächsten Frühjahr beginnen.")


def run_cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def m2m(tmp_path_factory) -> Path:
    """A tiny multilingual model with M2M100's 100 language tokens."""
    return lt.build_tiny_model(lt.build_m2m100_tokenizer(tmp_path_factory.mktemp("m2m") / "m"))


@pytest.fixture()
def mixed(tmp_path: Path) -> Path:
    src = tmp_path / "mixed"
    src.mkdir()
    (src / "en.txt").write_text(ENGLISH, "utf-8")
    (src / "ko.txt").write_text(KOREAN, "utf-8")
    (src / "de.txt").write_text(GERMAN, "utf-8")
    return src


def records(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_jsonl(out / "results.jsonl")}


def test_a_mixed_folder_is_routed_per_language_pair(monkeypatch, mixed, tmp_path, tiny_bart,
                                                    tiny_marian, m2m):
    # the per-pair table holds the tiny en->ko model; every other pair goes to the tiny M2M100
    monkeypatch.setattr(models, "PAIR_TRANSLATORS", {("en", "ko"): str(tiny_marian)})
    monkeypatch.setattr(models, "MULTILINGUAL_FALLBACK", str(m2m))
    loads: list[str] = []
    from summarize.backends import hf_torch as hf

    real_load = hf.load_backend

    def counting_load(model, **kwargs):
        loads.append(Path(model).name)
        return real_load(model, **kwargs)

    monkeypatch.setattr(hf, "load_backend", counting_load)
    toml = tmp_path / "gen.toml"
    toml.write_text("[summarizer]\nmax_new_tokens = 6\n[translator]\nmax_new_tokens = 4\n")
    out = tmp_path / "out"
    result = run_cli("batch", mixed, "--out", out, "--summarizer", tiny_bart, "--to", "ko,en",
                     "--translate", "both", "--config", toml, "--models-dir", tmp_path / "m",
                     "--backend", "torch", "-q")  # the loads counted are torch's
    assert result.exit_code == 0, result.output
    got = records(out)
    assert {i: r["lang"] for i, r in got.items()} == {"en.txt": "en", "ko.txt": "ko",
                                                       "de.txt": "de"}
    marian, multi = str(tiny_marian), str(m2m)
    en, ko, de = got["en.txt"]["routes"], got["ko.txt"]["routes"], got["de.txt"]["routes"]
    assert en == {"lang": "detected", "summary": "direct", "ko.summary": marian,
                  "ko.article": marian, "en.summary": "copy", "en.article": "copy"}
    # the English-only summarizer works on the English translation of the others
    assert ko["summary"] == f"pivot:en ({multi})" and de["summary"] == f"pivot:en ({multi})"
    assert ko["ko.article"] == "copy" and ko["en.article"] == multi
    assert ko["ko.summary"] == marian  # the summary is English: the en->ko model translates it
    assert de["ko.article"] == multi and de["en.article"] == multi
    assert got["ko.txt"]["translations"]["ko"]["article"] == got["ko.txt"]["text"]
    assert got["en.txt"]["translations"]["en"]["summary"] == got["en.txt"]["summary"]
    # each model is loaded once for the whole run (one group), the summarizer included
    assert sorted(loads) == sorted({Path(tiny_bart).name, "opus-mt-en-ko", "m"})
    stats = json.loads((out / "stats.json").read_text())
    assert {m["model_id"] for m in stats["models"]} == {str(tiny_bart), marian, multi}


def test_a_pair_no_configured_model_covers_fails_that_article_alone(mixed, tmp_path,
                                                                    tiny_marian):
    out = tmp_path / "out"
    result = run_cli("batch", mixed, "--out", out, "--no-summary", "--translate", "article",
                     "--translator", tiny_marian, "--to", "ko", "-q")
    assert result.exit_code == 1, result.output
    got = records(out)
    assert got["en.txt"]["status"] == "ok"
    assert got["ko.txt"]["status"] == "ok"  # already Korean: copied, not translated
    assert got["ko.txt"]["routes"]["ko.article"] == "copy"
    error = got["de.txt"]["error"]
    assert got["de.txt"]["status"] == "error"
    assert "no configured model translates de->ko" in error and "--translator" in error
    assert "de.txt" in result.stderr


def test_from_is_checked_against_the_model_before_any_work(mixed, tmp_path, tiny_marian):
    out = tmp_path / "out"
    result = run_cli("batch", mixed, "--out", out, "--no-summary", "--translate", "article",
                     "--translator", tiny_marian, "--to", "ko", "--from", "ja", "-q")
    assert result.exit_code == 2
    assert "cannot read source language 'ja'" in result.stderr
    assert not (out / "results.jsonl").exists()


def test_a_record_lang_wins_over_detection(tmp_path, tiny_marian):
    src = tmp_path / "in"
    src.mkdir()
    (src / "feed.jsonl").write_text(
        json.dumps({"id": "a", "text": ENGLISH}) + "\n"
        + json.dumps({"id": "b", "text": ENGLISH, "lang": "ko"}) + "\n"
        + json.dumps({"id": "c", "text": ENGLISH, "lang": "xx-nonsense"}) + "\n", "utf-8")
    out = tmp_path / "out"
    result = run_cli("batch", src, "--out", out, "--no-summary", "--translate", "article",
                     "--translator", tiny_marian, "--to", "ko", "-q")
    got = records(out)
    assert got["a"]["lang"] == "en" and got["a"]["routes"]["lang"] == "detected"
    assert got["b"]["lang"] == "ko" and got["b"]["routes"] == {"lang": "given",
                                                               "ko.article": "copy"}
    assert got["c"]["status"] == "error" and "record 'lang'" in got["c"]["error"]
    assert result.exit_code == 1


def test_pipelined_stages_share_the_multilingual_model_and_write_the_same_records(
        monkeypatch, tmp_path, tiny_bart, tiny_marian, m2m):
    """With --overlap full, the summarizing thread pivots ko/de articles through the
    multilingual model while the translating thread uses that same model for the previous
    group: the records equal those of the one-stage-at-a-time run."""
    monkeypatch.setattr(models, "PAIR_TRANSLATORS", {("en", "ko"): str(tiny_marian)})
    monkeypatch.setattr(models, "MULTILINGUAL_FALLBACK", str(m2m))
    src = tmp_path / "mixed"
    src.mkdir()
    for i in range(4):
        (src / f"en{i}.txt").write_text(f"{ENGLISH} Update {i}.", "utf-8")
        (src / f"ko{i}.txt").write_text(f"{KOREAN} {i}번째 소식이다.", "utf-8")
        (src / f"de{i}.txt").write_text(f"{GERMAN} Meldung {i}.", "utf-8")
    toml = tmp_path / "gen.toml"
    toml.write_text("group_size = 2\n[summarizer]\nmax_new_tokens = 6\n"
                    "[translator]\nmax_new_tokens = 4\n")
    got = {}
    for mode in ("off", "full"):
        out = tmp_path / mode
        result = run_cli("batch", src, "--out", out, "--summarizer", tiny_bart, "--to",
                         "ko,en", "--translate", "both", "--config", toml, "--models-dir",
                         tmp_path / "m", "--overlap", mode, "-q")
        assert result.exit_code == 0, result.output
        rows = read_jsonl(out / "results.jsonl")
        for row in rows:
            for key in ("timings", "finished_at", "run"):
                row.pop(key, None)
        got[mode] = rows
    assert got["full"] == got["off"]
    assert len(got["off"]) == 12
    assert {r["routes"]["summary"] for r in got["off"] if r["lang"] != "en"} == {
        f"pivot:en ({m2m})"}
