"""Tests of summarize.review.evaluate: metrics equal the reference implementations,
references load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer, tokenizers

from summarize.errors import UsageError
from summarize.review.evaluate import (
    ROUGE_TYPES,
    Reference,
    UnicodeTokenizer,
    bleu_tokenizer,
    evaluate_run,
    load_references,
    match_references,
    score_summary,
    score_translation,
    write_eval,
)

EN_PRED = ("The council approved the new budget on Tuesday. Spending on schools rises by 4%.\n"
           "Critics said the plan was rushed.")
EN_REF = ("Councillors approved a new budget on Tuesday. School spending will rise 4%. "
          "Opponents called the plan rushed.")
KO_PRED = "시의회는 화요일에 새 예산을 승인했다. 학교 지출은 4% 늘어난다."
KO_REF = "시의회가 화요일 새 예산을 승인했다. 학교 예산은 4% 늘어난다."
KO_TRANS = "시의회는 화요일에 새 예산을 승인했다. 비판자들은 계획이 성급하다고 말했다."
KO_TRANS_REF = "시의회가 화요일 새 예산을 승인했다. 반대자들은 그 계획이 서둘러졌다고 했다."


def _record(rid: str, summary: str | None, translations: dict | None = None,
            lang: str = "en", status: str = "ok") -> dict:
    return {"id": rid, "source": f"in/{rid}", "title": "", "lang": lang, "status": status,
            "summary": summary, "translations": translations or {}, "alignment": {}}


def _run(tmp_path: Path, records: list[dict]) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (out / "results.jsonl").write_text(lines, encoding="utf-8")
    return out


def test_english_rouge_equals_rouge_score_default():
    ours = score_summary(EN_PRED, EN_REF, "en")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    ref_lines = "Councillors approved a new budget on Tuesday.\nSchool spending will rise 4%.\n" \
                "Opponents called the plan rushed."
    pred_lines = "The council approved the new budget on Tuesday.\n" \
                 "Spending on schools rises by 4%.\nCritics said the plan was rushed."
    direct = scorer.score(ref_lines, pred_lines)
    for name in ROUGE_TYPES:
        assert getattr(ours, name) == pytest.approx(100 * direct[name].fmeasure, abs=1e-12)
    assert 0 < ours.rouge2 < ours.rouge1 < 100


def test_unicode_tokenizer_matches_default_on_ascii():
    default = tokenizers.DefaultTokenizer(use_stemmer=False)
    for text in (EN_PRED, EN_REF, "It's 3.5% of $1,200 -- don't_stop (U.S.A.) x2 e-mail"):
        assert UnicodeTokenizer().tokenize(text) == default.tokenize(text)


def test_korean_rouge_is_not_zero_where_default_is():
    default = rouge_scorer.RougeScorer(list(ROUGE_TYPES)).score(KO_REF, KO_PRED)
    # only the digit "4" survives the default tokenizer: everything else is deleted
    assert default["rouge2"].fmeasure == 0
    ours = score_summary(KO_PRED, KO_REF, "ko")
    custom = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=UnicodeTokenizer()).score(
        "시의회가 화요일 새 예산을 승인했다.\n학교 예산은 4% 늘어난다.",
        "시의회는 화요일에 새 예산을 승인했다.\n학교 지출은 4% 늘어난다.")
    for name in ROUGE_TYPES:
        assert getattr(ours, name) == pytest.approx(100 * custom[name].fmeasure, abs=1e-12)
    assert ours.rouge1 > 40 and ours.rouge2 > 0


def test_cjk_split_per_character():
    tokens = UnicodeTokenizer().tokenize("東京タワー、Tokyo")
    assert tokens == ["東", "京", "タ", "ワ", "ー", "tokyo"]


def test_translation_scores_equal_sacrebleu():
    ours = score_translation(KO_TRANS, KO_TRANS_REF, "ko")
    assert ours.chrf == pytest.approx(
        sacrebleu.sentence_chrf(KO_TRANS, [KO_TRANS_REF]).score, abs=1e-12)
    assert ours.chrf_pp == pytest.approx(
        sacrebleu.sentence_chrf(KO_TRANS, [KO_TRANS_REF], word_order=2).score, abs=1e-12)
    bleu = sacrebleu.BLEU(tokenize=bleu_tokenizer("ko"), effective_order=True)
    assert ours.bleu == pytest.approx(bleu.sentence_score(KO_TRANS, [KO_TRANS_REF]).score,
                                      abs=1e-12)
    assert 0 < ours.chrf < 100


def test_bleu_tokenizers_per_language():
    assert bleu_tokenizer("de") == "13a"
    assert bleu_tokenizer("zh") == bleu_tokenizer("zh-TW") == "zh"
    assert bleu_tokenizer("kor") in ("ko-mecab", "char")
    assert bleu_tokenizer("ja") in ("ja-mecab", "char")
    assert bleu_tokenizer("th") == "char"


def test_jsonl_references_and_run(tmp_path: Path):
    refs_path = tmp_path / "refs.jsonl"
    refs_path.write_text("\n".join([
        json.dumps({"id": "world/a.txt", "summary": EN_REF,
                    "translations": {"ko": KO_TRANS_REF}}),
        "",
        json.dumps({"id": "b.txt", "summary": EN_REF,
                    "translations": {"kor": {"summary": KO_REF}}}),
        json.dumps({"id": "gone.txt", "summary": "Nobody ran this one."}),
        json.dumps({"id": "failed.txt", "summary": EN_REF}),
    ]) + "\n", encoding="utf-8")
    refs = load_references(refs_path)
    assert refs["b.txt"] == Reference(EN_REF, {}, {"kor": KO_REF})
    out = _run(tmp_path, [
        _record("world/a.txt", EN_PRED, {"ko": {"summary": KO_PRED, "article": KO_TRANS}}),
        _record("b.txt", EN_PRED, {"ko": {"summary": KO_PRED}}),
        _record("failed.txt", None, status="error"),
        _record("extra.txt", EN_PRED),
    ])
    report = evaluate_run(out, refs)
    assert report.n_records == 4 and report.n_matched == 3
    assert report.unmatched_references == ["gone.txt"]
    assert report.summary.n == 2 and report.summary.missing == ["failed.txt"]
    expected = score_summary(EN_PRED, EN_REF, "en").rouge1
    assert report.summary.scores.rouge1 == pytest.approx(expected)
    article = report.translation["ko"]["article"]
    assert article.n == 1 and article.part == "article"
    corpus = sacrebleu.corpus_chrf([KO_TRANS], [[KO_TRANS_REF]]).score
    assert article.scores.chrf == pytest.approx(corpus)
    assert "tok:" in article.signatures["bleu"]
    assert report.translation["ko"]["summary"].n == 1
    by_id = {a.id: a for a in report.articles}
    assert set(by_id["world/a.txt"].translations["ko"]) == {"article"}
    assert set(by_id["b.txt"].translations["ko"]) == {"summary"}
    path = write_eval(out, report)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1 and data["scale"] == "0-100"
    assert data["translation"]["ko"]["article"]["part"] == "article"
    assert data["summary"]["scores"]["rougeLsum"] == pytest.approx(
        report.summary.scores.rougeLsum, abs=1e-4)


def test_folder_references(tmp_path: Path):
    ref_dir = tmp_path / "refs"
    (ref_dir / "world").mkdir(parents=True)
    (ref_dir / "world" / "a.txt").write_text(EN_REF, encoding="utf-8")
    (ref_dir / "world" / "a.ko.txt").write_text(KO_TRANS_REF, encoding="utf-8")
    (ref_dir / "world" / "a.summary.ko.txt").write_text(KO_REF, encoding="utf-8")
    (ref_dir / "report.v2.txt").write_text(EN_REF, encoding="utf-8")
    (ref_dir / "flat.txt").write_text(EN_REF, encoding="utf-8")
    refs = load_references(ref_dir)
    assert set(refs) == {"world/a", "report.v2", "flat"}
    assert refs["world/a"] == Reference(EN_REF, {"ko": KO_TRANS_REF}, {"ko": KO_REF})
    out = _run(tmp_path, [
        _record("world/a.html", EN_PRED, {"ko": {"summary": KO_PRED, "article": KO_TRANS}}),
        _record("report.v2.md", EN_PRED),
        _record("sport/flat.txt", EN_PRED),
    ])
    report = evaluate_run(out, refs)
    assert report.n_matched == 3 and report.unmatched_references == []
    assert report.translation["ko"]["article"].scores.chrf == pytest.approx(
        score_translation(KO_TRANS, KO_TRANS_REF, "ko").chrf)


def test_ambiguous_stems_are_not_guessed():
    refs = {"a": Reference("x")}
    matched, ambiguous = match_references(["world/a.txt", "sport/a.txt"], refs)
    assert matched == {} and sorted(ambiguous) == ["sport/a.txt", "world/a.txt"]


@pytest.mark.parametrize("line, why", [
    ("{not json", "not valid JSON"),
    ('{"summary": "no id"}', 'string "id"'),
    ('{"id": "a", "translations": {"xx-nonsense": "t"}}', "unknown language code"),
    ('{"id": "a", "translations": {"ko": 3}}', "must be a string"),
    ('{"id": "a", "summary": 3}', '"summary" must be'),
])
def test_bad_reference_line(tmp_path: Path, line: str, why: str):
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"id": "ok", "summary": "fine"}) + "\n" + line + "\n",
                    encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_references(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ") and why in message and "\n" not in message


def test_unusable_references_path(tmp_path: Path):
    with pytest.raises(UsageError, match="not found"):
        load_references(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no references"):
        load_references(tmp_path / "empty")


def test_nothing_scored_gives_null(tmp_path: Path):
    out = _run(tmp_path, [_record("a.txt", None, status="error")])
    report = evaluate_run(out, {"a.txt": Reference(None, {"ko": KO_TRANS_REF})})
    assert report.summary.scores is None
    assert math.isnan(report.translation["ko"]["article"].scores.chrf)
    data = json.loads(write_eval(out, report).read_text(encoding="utf-8"))
    assert data["translation"]["ko"]["article"]["scores"]["chrf"] is None
    assert data["translation"]["ko"]["article"]["missing"] == ["a.txt"]


def test_no_results_is_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="results.jsonl"):
        evaluate_run(tmp_path, {"a": Reference("x")})


def test_eval_command_scores_a_run_and_writes_eval_json(tmp_path):
    """`summarize eval OUT --references refs.jsonl` end to end on a finished run's folder."""
    from typer.testing import CliRunner

    from summarize.cli import app
    from summarize.run.pipeline import run_batch
    from summarize.settings import RunConfig
    from tests.fakes import fake_loader

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("The council approved the plan on Monday. Work starts soon.")
    out = tmp_path / "out"
    run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), targets=("ko",)),
              loader=fake_loader())
    refs = tmp_path / "refs.jsonl"
    refs.write_text('{"id": "a.txt", "summary": "The council approved the plan."}\n')
    result = CliRunner().invoke(app, ["eval", str(out), "--references", str(refs)])
    assert result.exit_code == 0, result.output
    assert "matched 1 of 1 articles" in result.output
    data = json.loads((out / "eval.json").read_text())
    expected = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True).score(
        "The council approved the plan.", "The council approved the plan on")
    assert data["summary"]["scores"]["rouge1"] == pytest.approx(
        100 * expected["rouge1"].fmeasure)
    # the report shows the corpus scores and a sortable per-article column
    index = (out / "index.html").read_text("utf-8")
    assert "Scores against references" in index and "ROUGE-Lsum" in index
    from summarize.outputs.report.format import num2

    lsum = data["articles"][0]["summary"]["rougeLsum"]
    assert f'data-label="ROUGE-Lsum">{num2(lsum)}</td>' in index
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(app, ["eval", str(out), "--references", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:1" in result.stderr
