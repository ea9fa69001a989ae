"""Measure sentence splitting against NTREX-128's human sentence boundaries.

NTREX-128 (``/work/shared/data/ntrex128_news``, CC BY-SA 4.0) holds 123 English news
documents, one sentence per line, and their human translations (same line count; the line
``i`` of every ``sentences/newstest2019-*.txt`` file belongs to the document named on line
``i`` of ``DOCUMENT_IDS.tsv``). The measure:

1. Each document's lines are grouped into paragraphs: a paragraph ends after a line that
   does not end in sentence-final punctuation (``. ! ? … 。 ！ ？ ؟ ।``, closing quotes and
   brackets looked through). Headlines, sub-heads and lines ending in ``:`` or ``,`` thus end
   a paragraph: no sentence splitter can find a boundary there once lines are joined, and
   real input keeps them on lines of their own (``split_paragraphs`` separates them).
2. The lines of a paragraph are joined with one space (no space for Japanese and Chinese,
   which write none between sentences) and split with ``split_sentences(paragraph, lang)``.
3. A gold boundary is a line end inside a paragraph; a predicted boundary is a sentence end
   inside it (the paragraph's own end is not counted). Positions are counted in
   non-whitespace characters, so spacing does not matter. Precision, recall and F1 are
   micro-averaged over all boundaries of a language.

Some lines hold two sentences (a translator merged them) or end mid-sentence; those count
as errors for every splitter, so 1.0 is out of reach.

Run: ``python benchmarks/sentence_split.py [--data DIR] [--lang ko] [--errors 20]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import OrderedDict
from pathlib import Path

from summarize.text import split_sentences

DEFAULT_DATA = Path("/work/shared/data/ntrex128_news")
#: Project language code -> NTREX file stem.
FILES = {
    "en": "src.eng",
    "ko": "ref.kor",
    "ja": "ref.jpn",
    "zh": "ref.zho-CN",
    "zh-Hant": "ref.zho-TW",
    "de": "ref.deu",
    "fr": "ref.fra",
    "es": "ref.spa",
}
NO_SPACE = frozenset({"ja", "zh", "zh-Hant"})
FINAL = ".!?…。！？؟।"
CLOSERS = "\"'”’»›)]}」』】〉》）"


def ends_final(line: str) -> bool:
    """True when the line ends in sentence-final punctuation (closers looked through)."""
    stripped = line.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in FINAL


def load_paragraphs(data_dir: Path, lang: str) -> list[list[str]]:
    """The paragraphs (lists of gold sentences) of every NTREX document in ``lang``."""
    doc_ids = (data_dir / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").splitlines()
    path = data_dir / "sentences" / f"newstest2019-{FILES[lang]}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) != len(doc_ids):
        raise SystemExit(f"{path}: {len(lines)} lines, but DOCUMENT_IDS.tsv has {len(doc_ids)}")
    docs: OrderedDict[str, list[str]] = OrderedDict()
    for doc_id, line in zip(doc_ids, lines, strict=True):
        if line.strip():
            docs.setdefault(doc_id.strip(), []).append(" ".join(line.split()))
    paragraphs = []
    for doc_lines in docs.values():
        current: list[str] = []
        for line in doc_lines:
            current.append(line)
            if not ends_final(line):
                paragraphs.append(current)
                current = []
        if current:
            paragraphs.append(current)
    return paragraphs


def _squash(text: str) -> str:
    return "".join(text.split())


def _ends(pieces: list[str]) -> list[int]:
    ends, total = [], 0
    for piece in pieces:
        total += len(_squash(piece))
        ends.append(total)
    return ends[:-1]  # the paragraph's own end is not a boundary to find


def score(lang: str, paragraphs: list[list[str]], n_errors: int = 0) -> dict[str, float]:
    """Boundary precision/recall/F1 of ``split_sentences`` on the paragraphs of one language."""
    sep = "" if lang in NO_SPACE else " "
    tp = fp = fn = 0
    shown = 0
    start = time.perf_counter()
    for gold in paragraphs:
        text = sep.join(gold)
        predicted = split_sentences(text, lang)
        gold_ends, pred_ends = set(_ends(gold)), set(_ends(predicted))
        tp += len(gold_ends & pred_ends)
        fp += len(pred_ends - gold_ends)
        fn += len(gold_ends - pred_ends)
        if shown < n_errors:
            flat = _squash(text)
            errors = (("missed", gold_ends - pred_ends), ("extra ", pred_ends - gold_ends))
            for kind, ends in errors:
                for end in sorted(ends):
                    if shown < n_errors:
                        shown += 1
                        before, after = flat[max(0, end - 40) : end], flat[end : end + 25]
                        print(f"{lang} {kind} {before} | {after}")
    seconds = time.perf_counter() - start
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"boundaries": tp + fn, "p": precision, "r": recall, "f1": f1, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NTREX-128 folder")
    parser.add_argument("--lang", action="append", choices=sorted(FILES), help="repeatable")
    parser.add_argument("--errors", type=int, default=0, help="print this many errors per language")
    args = parser.parse_args(argv)
    if not (args.data / "DOCUMENT_IDS.tsv").is_file():
        print(f"no NTREX-128 data under {args.data}", file=sys.stderr)
        return 1
    print(f"{'lang':8} {'bounds':>6} {'P':>6} {'R':>6} {'F1':>6} {'ms':>6}")
    for lang in args.lang or list(FILES):
        row = score(lang, load_paragraphs(args.data, lang), args.errors)
        print(
            f"{lang:8} {row['boundaries']:6d} {row['p']:6.3f} {row['r']:6.3f} {row['f1']:6.3f}"
            f" {row['seconds'] * 1000:6.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
