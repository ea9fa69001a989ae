"""review_article end to end: a scripted fake translator's faults, through the real tasks, each
give their flag at the right sentence of the review dict; its clean outputs give none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarize.errors import UsageError
from summarize.records import ArticleResult, result_from_json, result_to_json
from summarize.review import (
    ReviewEvidence,
    ReviewSettings,
    count_flags,
    glossaries_from_options,
    review_article,
)
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


def _run(texts: list[str], faults: dict[str, str]) -> list[dict]:
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
    assert review["flags"] == {}
    assert review["score"] == 0.0
    cells = review["translations"]["de"]["article"]
    assert cells == [[{"c": [-0.125, -0.5]}, {"c": [-0.25, -1.5]}], [{"c": [-0.125, -0.5]}]]
    assert review["summary"] == {"c": [-0.25, -1.5]}  # its input holds "Police"
    assert review["c"] == [-0.25, -1.5]
    # the record keeps it through results.jsonl
    record = ArticleResult(id="x", source="x", status="ok", review=review)
    assert result_from_json(json.loads(json.dumps(result_to_json(record)))).review == review


@pytest.mark.parametrize("fault", list(FAULTY))
def test_each_fault_flags_its_own_sentence(fault: str):
    bad = FAULTY[fault]
    text = "\n\n".join([CLEAN[0], f"{CLEAN[1]} {bad}", CLEAN[2]])
    [review] = _run([text], {bad[:30]: fault})
    kind = KIND[fault]
    cells = review["translations"]["de"]["article"]
    flagged = {(p, s): [k for k, _ in cell.get("f", [])]
               for p, row in enumerate(cells) for s, cell in enumerate(row) if cell.get("f")}
    assert set(flagged) == {(1, 1)}, flagged
    assert kind in flagged[1, 1]
    reason = dict(cells[1][1]["f"])[kind]
    assert isinstance(reason, str) and reason
    assert review["flags"][kind] >= 1
    assert review["score"] > 0
    # the summary (first 60 words: the whole text) is translated too: same sentence flagged
    summary_cells = [c for row in review["translations"]["de"]["summary"] for c in row]
    assert any(kind in [k for k, _ in c.get("f", [])] for c in summary_cells)


def test_cut_summary_is_flagged_and_scores_rank_articles():
    summarizer_backend = FakeBackend("summarize", summary_words=3)
    summary = Summarizer(summarizer_backend, {}, TokenBudget(64)).summarize_many(
        [CLEAN[0]], BatchStats())[0]
    record = ArticleResult(id="a", source="a", status="ok", lang="en", text=CLEAN[0],
                           summary=summary.text)
    settings = ReviewSettings()
    cut = review_article(record, ReviewEvidence(summary_hit_limit=True), settings)
    clean = review_article(record, ReviewEvidence(), settings)
    assert cut["summary"]["f"][0][0] == "cut" and cut["flags"] == {"cut": 1}
    assert clean == {"score": 0.0, "flags": {}, "summary": {}}
    assert cut["score"] > clean["score"]
    # low confidence alone raises the score
    unsure = review_article(record, ReviewEvidence(summary_confidence=(-2.5, -9.0)), settings)
    assert unsure["flags"] == {} and unsure["score"] == pytest.approx(1.5)


def test_wrong_language_uses_the_detector():
    record = ArticleResult(id="a", source="a", status="ok", lang="en", text=CLEAN[0],
                           alignment={"de": {"article": [[[CLEAN[0], "Ceci est une phrase "
                                                            "française de 1,250 en 2019."]]]}})
    review = review_article(record, ReviewEvidence(), ReviewSettings(detect=lambda t: "fr"))
    kinds = [k for k, _ in review["translations"]["de"]["article"][0][0]["f"]]
    assert "wrong_lang" in kinds


def test_failed_record_gets_no_review_and_count_flags_totals():
    assert review_article(ArticleResult(id="a", source="a", status="error"), ReviewEvidence(),
                          ReviewSettings()) == {}
    reviews = _run([FAULTY["truncate"], FAULTY["repeat"], CLEAN[0]],
                   {FAULTY["truncate"][:30]: "truncate", FAULTY["repeat"][:30]: "repeat"})
    totals = count_flags([*reviews, {}, None, {"flags": {"cut": "x", "numbers": True}}])
    assert totals["cut"] == 2  # the article sentence and its summary's translation
    assert totals["repeat"] == 2
    assert list(totals) == [k for k in ("empty", "cut", "repeat", "copy", "wrong_lang",
                                        "length", "numbers", "glossary") if k in totals]
    assert reviews[2]["flags"] == {}


def test_review_stays_compact():
    text = "\n\n".join(CLEAN * 10)
    [review] = _run([text], {})
    size = len(json.dumps(review, ensure_ascii=False, separators=(",", ":")))
    assert size < 40 * 30 * 2  # about 20 bytes per clean sentence cell


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
