"""Measure translation length ratios (target chars / source chars) on NTREX-128 news.

The bounds of the ``length`` review check in ``summarize/signals.py`` come from this script:
for every English -> X pair of human translations in ``../shared/data/ntrex128_news`` it
prints percentiles of the per-sentence character ratio, for all sentences and for the short
ones, where ratios spread wider.

Usage::

    python benchmarks/length_ratios.py [--data ../shared/data/ntrex128_news] [--short 40]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

#: NTREX file suffix -> the ISO code the tool uses.
PAIRS = {"kor": "ko", "jpn": "ja", "zho-CN": "zh", "zho-TW": "zh-Hant", "deu": "de",
         "fra": "fr", "spa": "es"}
PERCENTILES = (0.1, 0.5, 1, 5, 50, 95, 99, 99.5, 99.9)
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ntrex128_news"


def read_pairs(data_dir: Path, suffix: str) -> list[tuple[str, str]]:
    """Aligned (English, translation) sentence pairs of one NTREX language, blanks dropped."""
    sentences = data_dir / "sentences"
    src = (sentences / "newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()
    tgt = (sentences / f"newstest2019-ref.{suffix}.txt").read_text(encoding="utf-8").splitlines()
    if len(src) != len(tgt):
        raise SystemExit(f"{suffix}: {len(src)} source lines but {len(tgt)} translations")
    return [(s.strip(), t.strip()) for s, t in zip(src, tgt, strict=True)
            if s.strip() and t.strip()]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, like numpy's default."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--short", type=int, default=40,
                        help="sources shorter than this many characters are also shown apart")
    args = parser.parse_args()
    head = "pair      n      mean  " + "  ".join(f"p{q:<5g}" for q in PERCENTILES)
    print(head)
    for suffix, code in PAIRS.items():
        pairs = read_pairs(args.data, suffix)
        for label, subset in (("all", pairs),
                              (f"<{args.short}", [p for p in pairs if len(p[0]) < args.short])):
            ratios = [len(t) / len(s) for s, t in subset]
            if not ratios:
                continue
            cells = "  ".join(f"{percentile(ratios, q):6.3f}" for q in PERCENTILES)
            print(f"en-{code:<8}{label:<5}{len(ratios):5d} {statistics.mean(ratios):6.3f}  {cells}")


if __name__ == "__main__":
    main()
