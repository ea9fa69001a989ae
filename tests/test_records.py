"""The review in results.jsonl: one writer (schema 3, fields named in words) and one tolerant
reader that also reads schema 2 files, checked on real lines of a schema 2 run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from summarize.records import (
    SCHEMA_VERSION,
    ArticleResult,
    Confidence,
    Flag,
    Review,
    ReviewCell,
    result_from_json,
    result_to_json,
    review_from_json,
    review_to_json,
    stats_from_json,
)
from summarize.review import count_flags

#: results.jsonl and stats.json of a run of the schema 2 code (commit 029884f) on the tiny
#: test models: ``summarize batch in --to ko --translate both`` over tests/conftest.ARTICLES.
SCHEMA2 = Path(__file__).parent / "data" / "schema2"


def _v2_lines() -> list[dict[str, Any]]:
    lines = (SCHEMA2 / "results.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _same_v2_cell(raw: dict[str, Any], cell: ReviewCell) -> None:
    """A schema 2 cell (``c: [mean, min]``, ``f: [[kind, reason]]``) read as a typed cell."""
    if "c" in raw:
        assert cell.confidence == Confidence(*raw["c"])
    else:
        assert cell.confidence is None
    assert cell.flags == tuple(Flag(kind, reason) for kind, reason in raw.get("f", []))


def test_schema2_records_of_a_real_run_read_into_the_typed_review() -> None:
    lines = _v2_lines()
    assert len(lines) == 3 and {line["schema_version"] for line in lines} == {2}
    n_cells = n_flags = 0
    for line in lines:
        raw = line["review"]
        record = result_from_json(line)
        assert record is not None and record.schema_version == 2
        review = record.review
        assert isinstance(review, Review)
        assert review.score == raw["score"] and review.flag_counts == raw["flags"]
        assert review.confidence == Confidence(*raw["c"])
        _same_v2_cell(raw["summary"], review.summary)
        assert set(review.translations) == set(raw["translations"]) == {"ko"}
        for lang, parts in raw["translations"].items():
            assert set(review.translations[lang]) == set(parts) == {"summary", "article"}
            for part, rows in parts.items():
                typed = review.translations[lang][part]
                assert [len(r) for r in typed] == [len(r) for r in rows]
                # aligned with the record's sentences, as the run wrote them
                assert [len(r) for r in typed] == [len(p) for p in record.alignment[lang][part]]
                for row, typed_row in zip(rows, typed, strict=True):
                    for cell, typed_cell in zip(row, typed_row, strict=True):
                        _same_v2_cell(cell, typed_cell)
                        n_cells += 1
                        n_flags += len(typed_cell.flags)
    assert n_cells > 10 and n_flags > 5  # the file exercises cells and flags


def test_schema2_records_are_written_back_as_schema3_and_read_the_same() -> None:
    for line in _v2_lines():
        record = result_from_json(line)
        assert record is not None
        written = json.loads(json.dumps(result_to_json(record), ensure_ascii=False))
        assert written["schema_version"] == SCHEMA_VERSION == 3
        review = written["review"]
        assert set(review) == {"score", "flag_counts", "confidence", "summary", "translations"}
        assert review["flag_counts"] == line["review"]["flags"]
        assert review["confidence"] == dict(zip(("mean", "min"), line["review"]["c"], strict=True))
        old_summary = line["review"]["summary"]
        assert review["summary"]["flags"] == [{"kind": k, "reason": r}
                                              for k, r in old_summary["f"]]
        again = result_from_json(written)
        assert again is not None
        assert again.review == record.review
        # the rest of the record is untouched
        assert {k: v for k, v in written.items() if k not in ("review", "schema_version")} == {
            k: v for k, v in line.items() if k not in ("review", "schema_version")}


def test_count_flags_of_schema2_records_matches_the_run_stats() -> None:
    stats = json.loads((SCHEMA2 / "stats.json").read_text("utf-8"))
    reviews = [line.get("review") for line in _v2_lines()]
    assert count_flags(reviews) == stats["review_flags"]  # raw JSON values
    typed = [result_from_json(line).review for line in _v2_lines()]
    assert count_flags(typed) == stats["review_flags"]  # typed reviews
    assert stats_from_json(stats).review_flags == stats["review_flags"]


def test_a_schema3_review_reads_back_exactly() -> None:
    review = Review(
        score=4.5, flag_counts={"cut": 1, "numbers": 2},
        confidence=Confidence(-1.9, -6.0),
        summary=ReviewCell(Confidence(-0.35, -2.9), (Flag("cut", "stopped at the limit"),)),
        translations={"ko": {"article": [
            [ReviewCell(Confidence(-0.2, -1.1)),
             ReviewCell(Confidence(-1.9, -6.0), (Flag("numbers", "number 37 missing"),
                                                  Flag("numbers", "number 12 missing")))],
            [ReviewCell()],
        ]}},
    )
    data = review_to_json(review)
    assert data == {
        "score": 4.5, "flag_counts": {"cut": 1, "numbers": 2},
        "confidence": {"mean": -1.9, "min": -6.0},
        "summary": {"confidence": {"mean": -0.35, "min": -2.9},
                    "flags": [{"kind": "cut", "reason": "stopped at the limit"}]},
        "translations": {"ko": {"article": [
            [{"confidence": {"mean": -0.2, "min": -1.1}},
             {"confidence": {"mean": -1.9, "min": -6.0},
              "flags": [{"kind": "numbers", "reason": "number 37 missing"},
                        {"kind": "numbers", "reason": "number 12 missing"}]}],
            [{}],
        ]}},
    }
    assert review_from_json(json.loads(json.dumps(data))) == review
    assert review.cell("ko", "article", 0, 1).flags[0].reason == "number 37 missing"
    assert review.cell("ko", "article", 2, 0) is None and review.cell("ko", "summary", 0, 0) is None
    assert review.cell("ko", "article", -1, 0) is None
    # a review with nothing to say stays small: no confidence, no summary, no translations
    assert review_to_json(Review()) == {"score": 0.0, "flag_counts": {}}


WRONG = [None, "", "x", 0, -1, 1.5, True, math.inf, 10**400, [], [1, "a", None], {}, {"x": [1]}]


@pytest.mark.parametrize("value", WRONG, ids=lambda v: repr(v)[:16])
def test_the_reader_never_raises_on_wrong_types(value: object) -> None:
    shapes = [
        value,
        {"score": value, "flag_counts": value, "confidence": value, "summary": value,
         "translations": value},
        {"score": 1, "flags": value, "c": value, "summary": {"c": value, "f": value}},
        {"score": 1, "summary": {"confidence": {"mean": value, "min": -1},
                                 "flags": [value, {"kind": value, "reason": value}]}},
        {"score": 1, "translations": {"ko": value, "ja": {"summary": [value, [value]]}}},
        {"score": 1, "translations": {"ko": {"article": [[{"flags": [[value]]}, value]]}}},
    ]
    for shape in shapes:
        review = review_from_json(shape)
        assert review is None or isinstance(review, Review)
        if review is not None:  # and what it read writes back
            assert review_from_json(json.loads(json.dumps(review_to_json(review)))) == review
        record = result_from_json({"id": "a", "status": "ok", "review": shape})
        assert record is not None
        json.dumps(result_to_json(record))


def test_reader_keeps_what_is_good_beside_what_is_wrong() -> None:
    review = review_from_json({
        "score": "high", "flag_counts": {"cut": 2, "copy": "x", "repeat": 0, "length": True,
                                         "numbers": 2.0},
        "confidence": {"mean": -1.0},
        "summary": {"confidence": [-0.5, -2.0], "flags": [{"kind": "cut"}, ["repeat"], "x",
                                                          {"reason": "no kind"}]},
        "translations": {"ko": {"article": [[{"c": [-0.1, -0.2]}, "bad"], "bad"]}, "ja": []},
    })
    assert review is not None
    assert review.score == 0.0 and review.flag_counts == {"cut": 2, "numbers": 2}
    assert review.confidence is None
    assert review.summary == ReviewCell(Confidence(-0.5, -2.0),
                                        (Flag("cut", ""), Flag("repeat", "")))
    assert review.translations == {"ko": {"article": [
        [ReviewCell(Confidence(-0.1, -0.2)), ReviewCell()], []]}}
    # no review: absent, empty, or not an object
    for value in (None, {}, [], "review"):
        assert review_from_json(value) is None
        record = result_from_json({"id": "a", "status": "ok", "review": value})
        assert record is not None and record.review is None
        assert "review" not in result_to_json(record)


def test_alignment_reads_as_string_pairs_keeping_paragraph_places() -> None:
    record = result_from_json({"id": "a", "status": "ok", "alignment": {
        "ko": {"summary": [[["only source"]], [None, "x", ["a", 2, "extra"]], "bad", []]},
        "ja": "bad"}})
    assert record is not None
    assert record.alignment == {"ko": {"summary": [
        [["only source", ""]], [["", ""], ["x", ""], ["a", "2"]], [], []]}}


def test_records_are_always_written_in_the_current_schema() -> None:
    record = ArticleResult(id="a", source="a", status="ok", schema_version=2)
    assert result_to_json(record)["schema_version"] == SCHEMA_VERSION
    assert "review" not in result_to_json(record)
