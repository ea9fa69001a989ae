"""Score HTML main-text extraction against expected article text (token-shingle F1).

Runs three extractors side by side on saved pages with known body text and prints, for
each, the mean precision, recall and F1 over pages and the CPU seconds per page:

* ``trafilatura``: plain ``trafilatura.extract(html)`` with its defaults;
* ``before``: the extraction this project used before tables, pass merging, headline
  removal and huge-attribute stripping were added (precision pass, balanced pass when
  precision finds little; reproduced below so the comparison does not depend on git);
* ``after``: :func:`summarize.inputs.html.extract_html` as it is now.

``before`` and ``after`` are scored on what the reader hands on (the text through
``summarize.inputs.read``'s cleanup, which also drops a first paragraph equal to the title).

The measure is the one of the article-extraction benchmark (Zyte's
``article-extraction-benchmark``): both texts are cut into ``\\w+`` tokens, every run of 4
consecutive tokens is a shingle, and true/false positives and false negatives are counted
over the two shingle multisets. Each page's counts are normalised to sum to 1, precision
and recall are averaged over pages, and F1 is the harmonic mean of the two averages.

Expected texts that are empty or only a note about the page (``"EXTRACTED NOTHING"``,
all capitals) are skipped: they are not article text.

Usage::

    python benchmarks/html_extract.py [--data ../shared/data/html_newspaper4k_fulltext]
        [--limit N] [--worse 0.02] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "html_newspaper4k_fulltext"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


# --- the measure ------------------------------------------------------------------------------


def shingles(text: str, n: int = SHINGLE) -> Counter:
    """Multiset of the runs of ``n`` consecutive ``\\w+`` tokens (one shorter run if fewer)."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def page_counts(expected: str, got: str) -> tuple[float, float, float]:
    """True positives, false positives and false negatives of one page, summing to 1."""
    want, have = shingles(expected), shingles(got)
    tp = sum((want & have).values())
    fp = sum((have - want).values())
    fn = sum((want - have).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def page_scores(counts: tuple[float, float, float]) -> tuple[float, float, float]:
    """Precision, recall and F1 of one page (both empty counts as perfect)."""
    tp, fp, fn = counts
    if fp == fn == 0:
        return 1.0, 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def mean_scores(all_counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Mean precision (pages with output), mean recall (pages with text), F1 of the two."""
    precision = statistics.mean(page_scores(c)[0] for c in all_counts if c[0] + c[1] > 0)
    recall = statistics.mean(page_scores(c)[1] for c in all_counts if c[0] + c[2] > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --- the extractors ---------------------------------------------------------------------------


def plain_trafilatura(data: bytes) -> str:
    import trafilatura

    return trafilatura.extract(data) or ""


def before(data: bytes) -> tuple[str, str]:
    """The extraction as it was before this benchmark's rules (precision, then balanced)."""
    import trafilatura
    from trafilatura.metadata import extract_metadata

    from summarize.errors import ArticleError
    from summarize.inputs.decode import decode_bytes
    from summarize.inputs.html import _declared_charset
    from summarize.text import clean_text, split_paragraphs

    tree = trafilatura.load_html(decode_bytes(data, declared=_declared_charset(data)))
    if tree is None:
        raise ArticleError("no article text found in HTML page")
    options = {"include_comments": False, "include_tables": False, "output_format": "txt"}
    body = trafilatura.extract(tree, favor_precision=True, **options) or ""
    if len(body) < 2000:
        balanced = trafilatura.extract(tree, **options) or ""
        if len(balanced) > max(2 * len(body), 200):
            body = balanced
    if not any(len(p) >= 40 for p in split_paragraphs(clean_text(body))):
        raise ArticleError("no article text found in HTML page")
    try:
        title = extract_metadata(tree, extensive=False).title or ""
    except Exception:
        title = ""
    return body, title


def after(data: bytes) -> tuple[str, str]:
    from summarize.inputs.html import extract_html

    return extract_html(data)


def as_read(extract: Callable[[bytes], tuple[str, str]]) -> Callable[[bytes], str]:
    """The article text the reader makes of an extractor's (text, title)."""
    from summarize.errors import ArticleError
    from summarize.inputs.read import _make_article
    from summarize.records import Article

    def run(data: bytes) -> str:
        try:
            text, title = extract(data)
        except ArticleError:
            return ""
        article = _make_article(id="page", source="page", text=text, title=title)
        return article.text if isinstance(article, Article) else ""

    return run


EXTRACTORS: dict[str, Callable[[bytes], str]] = {
    "trafilatura": plain_trafilatura,
    "before": as_read(before),
    "after": as_read(after),
}


# --- the run ----------------------------------------------------------------------------------


def is_note(expected: str) -> bool:
    """An expected text that is a note about the page (``MISSED LAST PARAGRAPH``), or empty."""
    text = expected.strip()
    if not _TOKEN.search(text):
        return True
    shouted = text == text.upper() and any(c.isascii() and c.isalpha() for c in text)
    return len(text) < 200 and shouted


def load_pages(folder: Path, limit: int | None) -> list[tuple[str, bytes, str]]:
    with open(folder / "manifest.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    pages = []
    for row in rows:
        expected = (folder / row["expected_text"]).read_text(encoding="utf-8", errors="replace")
        if is_note(expected):
            continue
        pages.append((row["name"], (folder / row["html"]).read_bytes(), expected))
        if limit is not None and len(pages) == limit:
            break
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N scored pages only")
    parser.add_argument("--only", nargs="*", default=None, help="extractor names to run")
    parser.add_argument("--worse", type=float, default=0.02, help="list pages whose F1 drops more")
    parser.add_argument("--json", type=Path, default=None, help="write per-page scores here")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # dateutil warns about time zones in page metadata
    if not (args.data / "manifest.tsv").is_file():
        print(f"no manifest.tsv in {args.data}", file=sys.stderr)
        return 2
    pages = load_pages(args.data, args.limit)
    names = args.only or list(EXTRACTORS)
    for name in names:  # warm imports so the first page's time is the page's
        EXTRACTORS[name](b"<html><body><p>warm up</p></body></html>")

    per_page: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    summary = {}
    for name in names:
        extract = EXTRACTORS[name]
        counts, seconds = [], []
        for page, data, expected in pages:
            start = time.process_time()
            got = extract(data)
            seconds.append(time.process_time() - start)
            c = page_counts(expected, got)
            counts.append(c)
            p, r, f = page_scores(c)
            per_page[name][page] = {"precision": p, "recall": r, "f1": f, "s": seconds[-1]}
        precision, recall, f1 = mean_scores(counts)
        ordered = sorted(seconds)
        summary[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "mean_s": statistics.mean(seconds),
            "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        }

    print(f"{len(pages)} pages scored ({args.data.name}); token-shingle (n={SHINGLE}) scores")
    print(f"{'extractor':<12} {'F1':>6} {'prec':>6} {'recall':>6} {'mean s':>7} {'p95 s':>7}")
    for name, s in summary.items():
        print(
            f"{name:<12} {s['f1']:6.3f} {s['precision']:6.3f} {s['recall']:6.3f}"
            f" {s['mean_s']:7.3f} {s['p95_s']:7.3f}"
        )
    if "before" in per_page and "after" in per_page:
        for label, sign in (("worse", -1), ("better", 1)):
            changed = [
                (page, per_page["before"][page]["f1"], per_page["after"][page]["f1"])
                for page, _, _ in pages
                if sign * (per_page["after"][page]["f1"] - per_page["before"][page]["f1"])
                > args.worse
            ]
            print(f"\npages {label} by more than {args.worse} F1 (after vs before): {len(changed)}")
            for page, old, new in sorted(changed, key=lambda x: x[2] - x[1]):
                print(f"  {page:<28} {old:.3f} -> {new:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "pages": per_page}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
