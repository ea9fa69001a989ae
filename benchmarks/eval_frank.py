"""Check ``summarize eval``'s ROUGE on FRANK's CNN/DailyMail subset against rouge-score itself.

Builds an output folder whose results.jsonl holds FRANK's published BART outputs as
``summary`` (250 CNN/DM test articles), scores it with
:func:`summarize.review.evaluate.evaluate_run`
against the human highlights, computes rouge-score directly on the same pairs, and prints both
next to BART's published CNN/DM test-set figures (Lewis et al. 2020).

Usage::

    python benchmarks/eval_frank.py [--data ../shared/data/cnndm_frank_250] [--system bart]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from rouge_score import rouge_scorer

from summarize.review.evaluate import ROUGE_TYPES, Reference, evaluate_run, sentence_lines

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cnndm_frank_250"
#: BART-large on the full CNN/DM test set (11,490 articles), Lewis et al. 2020, table 3.
PUBLISHED_BART = (44.16, 21.28, 40.90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--system", default="bart",
                        help="FRANK system to score: bart, bert_sum, bus, pgn or s2s")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.data / "data.jsonl").open(encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        records = (
            {"id": f"{row['id']}.txt", "source": f"articles/{row['id']}.txt", "title": "",
             "lang": "en", "status": "ok", "summary": row["system_outputs"][args.system],
             "translations": {}, "alignment": {}}
            for row in rows)
        (out_dir / "results.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        refs = {row["id"]: Reference(summary=row["reference"]) for row in rows}
        report = evaluate_run(out_dir, refs)
    ours = report.summary.scores
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    direct = [scorer.score(sentence_lines(row["reference"], "en"),
                           sentence_lines(row["system_outputs"][args.system], "en"))
              for row in rows]
    direct_means = [100 * statistics.fmean(s[t].fmeasure for s in direct) for t in ROUGE_TYPES]
    print(f"{args.system} on {report.summary.n} FRANK CNN/DM articles (F-measure, 0-100)")
    print(f"{'':34}" + "".join(f"{t:>10}" for t in ROUGE_TYPES))
    print(f"{'summarize eval':34}" + "".join(f"{getattr(ours, t):10.2f}" for t in ROUGE_TYPES))
    print(f"{'rouge-score directly':34}" + "".join(f"{v:10.2f}" for v in direct_means))
    if args.system == "bart":
        print(f"{'published, full test set (11,490)':34}"
              + "".join(f"{v:10.2f}" for v in PUBLISHED_BART))
    same = all(abs(getattr(ours, t) - v) < 1e-9 for t, v in zip(ROUGE_TYPES, direct_means,
                                                                   strict=True))
    print("identical to rouge-score:", same)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
