"""review_article end to end: a scripted fake translator's faults, through the real tasks, each
give their flag at the right sentence of the review; its clean outputs give none."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from summarize.errors import UsageError
from summarize.records import (
    ArticleResult,
    Confidence,
    Review,
    ReviewCell,
    result_from_json,
    result_to_json,
    review_to_json,
)
from summarize.review import (
    ReviewEvidence,
    ReviewSettings,
    count_flags,
    glossaries_from_options,
    review_article,
)
from summarize.review.flags import KINDS
from summarize.review.glossary import Glossary, GlossaryEntry
from summarize.tasks.batching import BatchStats, TokenBudget
from summarize.tasks.summarize import Summarizer
from summarize.tasks.translate import Translator
from tests.fakes import FakeBackend, ScriptedTranslator

CLEAN = [
    "The council approved a budget of 1,250 million euros for the year 2019 on Tuesday.",
    "Police said 37 people were injured when the bridge collapsed at 7:30 in the morning.",
    "The city council expects spending on schools to rise by 4.5 percent to 310,000 dollars.",
]
FAULTY = {
    "copy": "Officials said the new railway line would open to passengers next spring.",
    "truncate": "Officials expect the long delayed bridge to reopen to traffic by late 2021.",
    "repeat": "Residents were told to stay indoors while firefighters fought the blaze.",
    "drop_number": "The storm left 12,400 homes without power across the northern region.",
    "miss_glossary": "A council spokesman declined to comment on the report on Friday.",
}
KIND = {"copy": "copy", "truncate": "cut", "repeat": "repeat", "drop_number": "numbers",
        "miss_glossary": "glossary"}
GLOSSARY = {"de": Glossary((GlossaryEntry("council", ("Rat",), 1),))}


def _confidence(text: str) -> tuple[float, float]:
    """A fixed score per input, so the review's numbers can be checked."""
    return (-0.25, -1.5) if "Police" in text else (-0.125, -0.5)


def _run(texts: list[str], faults: dict[str, str]) -> list[Review]:
    """Summarize and translate ``texts`` (article and summary) as the engine would, and
    review every record."""
    translator_backend = ScriptedTranslator(faults, {"council": "Rat"}, _confidence)
    summarizer_backend = FakeBackend("summarize", summary_words=60, confidence=_confidence)
    budget = TokenBudget(64)
    summaries = Summarizer(summarizer_backend, {}, budget).summarize_many(texts, BatchStats())
    translator = Translator(translator_backend, "de", {}, budget)
    articles = translator.translate_many(texts, BatchStats())
    summary_tr = translator.translate_many([s.text for s in summaries], BatchStats())
    settings = ReviewSettings(glossaries=GLOSSARY)
    reviews = []
    for i, text in enumerate(texts):
        alignment = {"de": {"article": [[list(p) for p in para] for para in articles[i].alignment],
                            "summary": [[list(p) for p in para]
                                        for para in summary_tr[i].alignment]}}
        record = ArticleResult(id=f"a{i}", source=f"a{i}.txt", status="ok", lang="en",
                               text=text, summary=summaries[i].text, alignment=alignment)
        evidence = ReviewEvidence(
            summary_hit_limit=summaries[i].hit_limit,
            summary_confidence=summaries[i].confidence,
            hit_limit={"de": {"article": articles[i].hit_limit,
                              "summary": summary_tr[i].hit_limit}},
            confidence={"de": {"article": articles[i].confidence,
                               "summary": summary_tr[i].confidence}},
        )
        reviews.append(review_article(record, evidence, settings))
    return reviews


def test_clean_outputs_give_no_flag_and_carry_their_confidence():
    text = "\n\n".join([" ".join(CLEAN[:2]), CLEAN[2]])
    [review] = _run([text], {})
    assert review.flag_counts == {}
    assert review.score == 0.0
    high, low = ReviewCell(Confidence(-0.125, -0.5)), ReviewCell(Confidence(-0.25, -1.5))
    assert review.translations["de"]["article"] == [[high, low], [high]]
    assert review.summary == low  # its input holds "Police"
    assert review.confidence == Confidence(-0.25, -1.5)
    # in results.jsonl, in words
    data = review_to_json(review)
    assert data["translations"]["de"]["article"][0] == [
        {"confidence": {"mean": -0.125, "min": -0.5}},
        {"confidence": {"mean": -0.25, "min": -1.5}}]
    assert data["confidence"] == {"mean": -0.25, "min": -1.5}
    # the record keeps it through results.jsonl
    record = ArticleResult(id="x", source="x", status="ok", review=review)
    line = json.loads(json.dumps(result_to_json(record)))
    assert line["schema_version"] == 3 and line["review"] == data
    assert result_from_json(line).review == review


@pytest.mark.parametrize("fault", list(FAULTY))
def test_each_fault_flags_its_own_sentence(fault: str):
    bad = FAULTY[fault]
    text = "\n\n".join([CLEAN[0], f"{CLEAN[1]} {bad}", CLEAN[2]])
    [review] = _run([text], {bad[:30]: fault})
    kind = KIND[fault]
    cells = review.translations["de"]["article"]
    flagged = {(p, s): [f.kind for f in cell.flags]
               for p, row in enumerate(cells) for s, cell in enumerate(row) if cell.flags}
    assert set(flagged) == {(1, 1)}, flagged
    assert kind in flagged[1, 1]
    reason = {f.kind: f.reason for f in cells[1][1].flags}[kind]
    assert isinstance(reason, str) and reason
    assert review.flag_counts[kind] >= 1
    assert review.score > 0
    # the summary (first 60 words: the whole text) is translated too: same sentence flagged
    summary_cells = [c for row in review.translations["de"]["summary"] for c in row]
    assert any(kind in [f.kind for f in c.flags] for c in summary_cells)


def test_cut_summary_is_flagged_and_scores_rank_articles():
    summarizer_backend = FakeBackend("summarize", summary_words=3)
    summary = Summarizer(summarizer_backend, {}, TokenBudget(64)).summarize_many(
        [CLEAN[0]], BatchStats())[0]
    record = ArticleResult(id="a", source="a", status="ok", lang="en", text=CLEAN[0],
                           summary=summary.text)
    settings = ReviewSettings()
    cut = review_article(record, ReviewEvidence(summary_hit_limit=True), settings)
    clean = review_article(record, ReviewEvidence(), settings)
    assert cut.summary.flags[0].kind == "cut" and cut.flag_counts == {"cut": 1}
    assert clean == Review(score=0.0, flag_counts={}, summary=ReviewCell())
    assert review_to_json(clean) == {"score": 0.0, "flag_counts": {}, "summary": {}}
    assert cut.score > clean.score
    # low confidence alone raises the score
    unsure = review_article(record, ReviewEvidence(summary_confidence=(-2.5, -9.0)), settings)
    assert unsure.flag_counts == {} and unsure.score == pytest.approx(1.5)


def test_wrong_language_uses_the_detector():
    record = ArticleResult(id="a", source="a", status="ok", lang="en", text=CLEAN[0],
                           alignment={"de": {"article": [[[CLEAN[0], "Ceci est une phrase "
                                                            "française de 1,250 en 2019."]]]}})
    review = review_article(record, ReviewEvidence(), ReviewSettings(detect=lambda t: "fr"))
    kinds = [f.kind for f in review.translations["de"]["article"][0][0].flags]
    assert "wrong_lang" in kinds


def test_failed_record_gets_no_review_and_count_flags_totals():
    assert review_article(ArticleResult(id="a", source="a", status="error"), ReviewEvidence(),
                          ReviewSettings()) is None
    reviews = _run([FAULTY["truncate"], FAULTY["repeat"], CLEAN[0]],
                   {FAULTY["truncate"][:30]: "truncate", FAULTY["repeat"][:30]: "repeat"})
    totals = count_flags(reviews)
    assert totals["cut"] == 2  # the article sentence and its summary's translation
    assert totals["repeat"] == 2
    assert list(totals) == [k for k in KINDS if k in totals]
    # the JSON of records counts too (schema 3 and 2); hand-edited values are ignored
    more = count_flags([*reviews, {}, None, {"flag_counts": {"cut": "x", "numbers": True}},
                        {"flags": {"copy": 2, "cut": -1}}, {"flag_counts": {"glossary": 1}}])
    assert more == {**totals, "copy": totals.get("copy", 0) + 2,
                    "glossary": totals.get("glossary", 0) + 1}
    assert reviews[2].flag_counts == {}


def test_review_stays_compact():
    text = "\n\n".join(CLEAN * 10)
    [review] = _run([text], {})
    size = len(json.dumps(review_to_json(review), ensure_ascii=False, separators=(",", ":")))
    n_cells = sum(len(row) for parts in review.translations.values()
                  for rows in parts.values() for row in rows)
    assert n_cells >= 30
    assert size < 200 + 50 * n_cells  # about 45 bytes per clean sentence cell


def test_glossary_options(tmp_path: Path):
    good = tmp_path / "g.tsv"
    good.write_text("# terms\ncouncil\tRat|Stadtrat\n", "utf-8")
    both = glossaries_from_options([str(good)], ["de", "ko"])
    assert set(both) == {"de", "ko"} and both["de"].entries[0].targets == ("Rat", "Stadtrat")
    assert set(glossaries_from_options([f"de={good}"], ["de", "ko"])) == {"de"}
    with pytest.raises(UsageError, match="not a target"):
        glossaries_from_options([f"fr={good}"], ["de"])
    bad = tmp_path / "bad.tsv"
    bad.write_text("council Rat\n", "utf-8")
    with pytest.raises(UsageError, match=r"bad\.tsv:1"):
        glossaries_from_options([str(bad)], ["de"])
    with pytest.raises(UsageError, match="cannot read glossary"):
        glossaries_from_options([str(tmp_path / "missing.tsv")], ["de"])


class _Blank(FakeBackend):
    """A summarizer whose every summary is made of control characters."""

    def outputs(self, texts, max_new_tokens):
        return ["\x01\x02 \x7f\x1b" for _ in texts], [False] * len(texts)


def test_an_empty_summary_and_its_empty_translations_are_flagged():
    """A summary of control characters is empty after cleaning, and so are its translations
    (which have no sentence to flag): each output is flagged ``empty`` once."""
    text = CLEAN[0]
    [summary] = Summarizer(_Blank("summarize"), {}, TokenBudget(64)).summarize_many(
        [text], BatchStats())
    translator = Translator(ScriptedTranslator({}), "de", {}, TokenBudget(64))
    [summary_de] = translator.translate_many([summary.text], BatchStats())
    [article_de] = translator.translate_many([text], BatchStats())
    assert summary_de.text == "" and summary_de.alignment == []
    record = ArticleResult(
        id="a", source="a", status="ok", lang="en", text=text, title="Budget approved",
        summary=summary.text,
        translations={"de": {"summary": summary_de.text, "article": article_de.text,
                             "title": "\x00"},
                      "ko": {"summary": ""}},
        alignment={"de": {"article": [[list(p) for p in para]
                                      for para in article_de.alignment]}})
    review = review_article(record, ReviewEvidence(), ReviewSettings())
    assert [f.kind for f in review.summary.flags] == ["empty"]
    whole = review.whole_translations
    assert set(whole) == {"de", "ko"} and set(whole["de"]) == {"summary", "title"}
    assert whole["de"]["summary"].flags[0].kind == "empty"
    assert "the summary itself is empty" in whole["ko"]["summary"].flags[0].reason
    assert review.flag_counts == {"empty": 4} and review.score == pytest.approx(12.0)
    # through results.jsonl and back, and counted for stats.json
    line = json.loads(json.dumps(result_to_json(replace(record, review=review))))
    assert line["review"]["whole_translations"]["de"]["summary"] == {
        "flags": [{"kind": "empty", "reason": "the de translation of the summary is empty "
                                              "(the summary itself is empty)"}]}
    assert result_from_json(line).review == review
    assert count_flags([line["review"]]) == {"empty": 4}


def test_an_empty_translation_flagged_by_sentence_is_not_flagged_again():
    record = ArticleResult(id="a", source="a", status="ok", lang="en", text=CLEAN[0],
                           translations={"de": {"article": " "}},
                           alignment={"de": {"article": [[[CLEAN[0], " "]]]}})
    review = review_article(record, ReviewEvidence(), ReviewSettings())
    assert review.flag_counts == {"empty": 1} and review.whole_translations == {}
    # an article with nothing in it: nothing to flag
    nothing = review_article(replace(record, text="\x01", alignment={}), ReviewEvidence(),
                             ReviewSettings())
    assert nothing.flag_counts == {}


def test_chat_refusals_and_leftovers_are_flagged_at_their_sentence():
    outputs = {CLEAN[0]: "I'm sorry, but I can't translate this text.",
               CLEAN[1]: "Hier ist die Übersetzung:<|im_end|> Die Polizei sagte 37 Verletzte.",
               CLEAN[2]: "城市议会预计学校支出将增长4.5%，达到310,000美元。"}
    alignment = [[[src, out] for src, out in outputs.items()]]
    record = ArticleResult(id="a", source="a", status="ok", lang="en", text=" ".join(outputs),
                           alignment={"ko": {"article": alignment}})
    review = review_article(record, ReviewEvidence(), ReviewSettings())
    row = review.translations["ko"]["article"][0]
    assert "refusal" in [f.kind for f in row[0].flags]
    assert "chatter" in [f.kind for f in row[1].flags]
    assert "wrong_lang" in [f.kind for f in row[2].flags]
    assert review.flag_counts["refusal"] == 1 and review.flag_counts["chatter"] == 1
