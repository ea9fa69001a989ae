"""What a 20,000-entry glossary costs: the review of real translations, and a whole run.

The glossary is built like a terminology list from NTREX-128's English news (WMT19, in
../shared/data): its capitalised names and phrases and its less common words and word
pairs (the 400 most frequent n-grams, function words, left out), up to ``--entries``
terms, padded with made-up two-word terms when the text runs out, each with a made-up
Korean target. It is written as a TSV and read by the tool's own loader.

It prints, measured side by side in one run:

* the review of NTREX's real English -> Korean sentence pairs (``check_translation``, the
  language detector included, as in a run) without and with the glossary, the ratio, and
  the cost per sentence of testing each entry alone (the implementation before the one-pass
  index) on a few sentences, for scale;
* the wall time of whole ``summarize batch`` runs on the tiny models
  (``python -m summarize.devtools.tinymodels``) over NTREX articles, ``--translate both``,
  without and with ``--glossary``, alternated, best and median of ``--repeat`` (wall and
  CPU time: on a shared machine other work slows single runs at random, which is also why
  the runs use one thread unless ``--threads`` says otherwise); and the ratio of the best
  walls (the target is below 1.20).

Usage::

    python benchmarks/glossary.py                      # 20,000 entries, 20 articles
    python benchmarks/glossary.py --entries 5000 --articles 10 --repeat 1 --skip-run
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "ntrex128_news"
DOCS = DATA / "docs"


def english_sentences() -> list[str]:
    path = DATA / "sentences" / "newstest2019-src.eng.txt"
    if not path.is_file():
        sys.exit(f"missing data: {path} (../shared/data/ntrex128_news)")
    return path.read_text("utf-8").splitlines()


def build_glossary(path: Path, n_entries: int) -> int:
    """Write a terminology-like glossary TSV of ``n_entries`` lines; returns its size."""
    import regex

    word = regex.compile(r"\p{L}[\p{L}\p{M}'’.-]*")
    counts: collections.Counter[str] = collections.Counter()
    for sentence in english_sentences():
        words = [w.rstrip(".") if w.count(".") < 2 else w for w in word.findall(sentence)]
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                counts[" ".join(words[i:i + n])] += 1
    common = {term for term, _ in counts.most_common(400)}
    terms: list[str] = []
    seen: set[str] = set()
    for term, _ in counts.most_common():
        key = term.casefold()
        if term in common or key in seen or len(term) < 3:
            continue
        seen.add(key)
        terms.append(term)
        if len(terms) == n_entries:
            break
    rare = [t for t in terms if " " not in t][-2000:] or ["Alpha", "Beta"]
    i = 0
    while len(terms) < n_entries:  # made-up compounds: like most of a list, absent here
        term = f"{rare[i % len(rare)]} {rare[(i * 7 + 3) % len(rare)]} {i}"
        if term.casefold() not in seen:
            seen.add(term.casefold())
            terms.append(term)
        i += 1
    lines = [f"{term}\t용어{k}|술어{k}" for k, term in enumerate(terms)]
    path.write_text("# made-up glossary for the benchmark\n" + "\n".join(lines) + "\n",
                    encoding="utf-8")
    return path.stat().st_size


def sentence_pairs() -> list[tuple[str, str]]:
    pairs = []
    for eng in sorted(DOCS.glob("*.eng.txt")):
        kor = eng.with_name(eng.name.replace(".eng.txt", ".kor.txt"))
        if kor.is_file():
            src, tgt = eng.read_text("utf-8").splitlines(), kor.read_text("utf-8").splitlines()
            pairs += [(s, t) for s, t in zip(src, tgt, strict=False) if s.strip() and t.strip()]
    return pairs


def one_by_one(entries, source: str, output: str) -> list:
    """The check before the one-pass index: a regex per entry per sentence."""
    import regex

    from summarize.review.flags import CASED_WORD

    src, out = source.casefold(), output.casefold()
    found = []
    for entry in entries:
        term = entry.source.casefold()
        if CASED_WORD.search(term) and any(c.lower() != c.upper() for c in term):
            pattern = rf"(?<![\p{{L}}\p{{N}}]){regex.escape(term)}(?![\p{{L}}\p{{N}}])"
            present = regex.search(pattern, src) is not None
        else:
            present = term in src
        if present and not any(t.casefold() in out for t in entry.targets):
            found.append(entry)
    return found


def bench_review(glossary_path: Path, repeat: int) -> None:
    from summarize.review.article import reliable_language
    from summarize.review.glossary import load_glossary
    from summarize.review.signals import check_translation

    pairs = sentence_pairs()
    t0 = time.perf_counter()
    glossary = load_glossary(glossary_path)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    glossary.missing("warm up", "")  # builds the index
    index_s = time.perf_counter() - t0

    def review(with_glossary: bool) -> tuple[float, int]:
        n_flags = 0
        t0 = time.perf_counter()
        for src, tgt in pairs:
            flags = check_translation(src, tgt, source_lang="en", target_lang="ko",
                                      glossary=glossary if with_glossary else None,
                                      detect=reliable_language)
            n_flags += sum(f.kind == "glossary" for f in flags)
        return time.perf_counter() - t0, n_flags

    review(False)  # warm the detector
    plain, withg, n_flags = [], [], 0
    for _ in range(repeat):
        plain.append(review(False)[0])
        seconds, n_flags = review(True)
        withg.append(seconds)
    n_old = 3
    t0 = time.perf_counter()
    for src, tgt in pairs[:n_old]:  # the same answers as the old check, and its time
        assert one_by_one(glossary.entries, src, tgt) == glossary.missing(src, tgt)
    old_s = (time.perf_counter() - t0) / n_old
    print(f"glossary: {len(glossary.entries):,} entries; load {load_s:.2f} s, "
          f"index {index_s:.2f} s (once per process)")
    print(f"review of {len(pairs):,} real en->ko sentence pairs (detector included), "
          f"best of {repeat}:")
    print(f"  without glossary  {min(plain):.2f} s")
    print(f"  with glossary     {min(withg):.2f} s  ({n_flags:,} glossary flags)")
    print(f"  ratio             {min(withg) / min(plain):.3f}")
    per = (min(withg) - min(plain)) / len(pairs) * 1000
    print(f"  glossary check: {per:.3f} ms per sentence; one entry at a time (before): "
          f"{old_s * 1000:.0f} ms per sentence ({n_old} sentences timed), "
          f"{old_s * len(pairs) / 60:.0f} min for these pairs")


def bench_run(glossary_path: Path, n_articles: int, repeat: int, work: Path,
              threads: int) -> None:
    models = work / "models"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-m", "summarize.devtools.tinymodels", str(models)],
                   check=True, env=env, capture_output=True)
    src = work / "in"
    src.mkdir()
    docs = sorted(DOCS.glob("*.eng.txt"))[:n_articles]
    for doc in docs:
        (src / doc.name).write_text(doc.read_text("utf-8"), encoding="utf-8")
    n_sentences = sum(len(d.read_text("utf-8").splitlines()) for d in docs)
    base = [sys.executable, "-m", "summarize.cli", "batch", str(src), "--to", "ko",
            "--translate", "both", "--summarizer", str(models / "bart"), "--translator",
            str(models / "opus-mt-en-ko"), "-q"]
    times: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for k in range(repeat):
        for with_glossary in (False, True):
            out = work / f"out-{k}-{int(with_glossary)}"
            args = base + ["--out", str(out)]
            if with_glossary:
                args += ["--glossary", str(glossary_path)]
            t0, c0 = time.perf_counter(), _children_cpu_s()
            done = subprocess.run(args, env=env, capture_output=True)
            times[with_glossary].append(time.perf_counter() - t0)
            cpu[with_glossary].append(_children_cpu_s() - c0)
            if done.returncode != 0:
                sys.exit(f"summarize batch failed ({done.returncode}):\n"
                         + done.stderr.decode(errors="replace")[-2000:])
    print(f"whole `summarize batch` runs: {len(docs)} NTREX articles ({n_sentences} sentences), "
          f"tiny models, --translate both, {threads} thread(s), alternated, best of {repeat} "
          f"(load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end):")
    for with_glossary, label in ((False, "without --glossary"), (True, "with --glossary   ")):
        walls, cpus = times[with_glossary], cpu[with_glossary]
        print(f"  {label}  wall {min(walls):.2f} s (median {statistics.median(walls):.2f}), "
              f"CPU {min(cpus):.2f} s (median {statistics.median(cpus):.2f})")
    print(f"  ratio of best walls   {min(times[True]) / min(times[False]):.3f}  (target < 1.20)")
    print(f"  ratio of best CPU     {min(cpu[True]) / min(cpu[False]):.3f}")


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="OMP_NUM_THREADS of the runs (default 1: on a shared machine "
                             "other work then disturbs them far less)")
    parser.add_argument("--skip-run", action="store_true", help="only the review figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glossary-bench-") as tmp:
        work = Path(tmp)
        path = work / "glossary.tsv"
        size = build_glossary(path, args.entries)
        print(f"glossary file: {args.entries:,} entries, {size / 1000:.0f} KB")
        bench_review(path, args.repeat)
        if not args.skip_run:
            bench_run(path, args.articles, args.repeat, work, args.threads)


if __name__ == "__main__":
    main()
