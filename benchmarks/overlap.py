"""Overlap of reading, model work and writing, on a simulated device (no GPU needed).

The device is ``tests.fakes.SimulatedDevice``: each batch sleeps for a time proportional to
its tokens (the sleep releases the GIL as a GPU kernel does) and its busy time is measured
inside it. The inputs are real: .txt articles and saved .html pages from ../shared/data,
copied into a temporary folder under different names until there are ``--articles``.

It prints three figures:

* device-bound (the device slower than the reading): the engine's wall time against the
  device's busy time, overlapped and synchronous (``overlap="off"``) in the same run;
* CPU-bound (the device faster than the reading): the engine's wall time against the
  reading work (each file read and its language detected once, serially, in this process)
  divided by the reader processes; and against all the CPU time the run spent (readers and
  the run's own process) divided by the cores, which is the floor when the readers and the
  run's own process share the cores (2 cores, 2 readers);
* peak RSS of a whole run of ``--articles`` against one of a tenth of them, each in its own
  subprocess.

Usage::

    python benchmarks/overlap.py                    # 2,000 articles, every figure
    python benchmarks/overlap.py --articles 300 --skip-rss
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
TXT = DATA / "cnndm_frank_250" / "articles"
HTML = DATA / "html_newspaper4k_fulltext" / "html"


def make_inputs(folder: Path, n: int, html_share: float) -> list[tuple[Path, Path]]:
    """Copy ``n`` articles (``html_share`` of them HTML pages) into ``folder``; returns
    (copy, original) pairs."""
    txt = sorted(TXT.glob("*.txt"))
    html = sorted(HTML.glob("*.html"))
    if not txt or not html:
        sys.exit(f"missing data under {DATA} (cnndm_frank_250, html_newspaper4k_fulltext)")
    n_html = round(n * html_share)
    picks = [html[i % len(html)] for i in range(n_html)]
    picks += [txt[i % len(txt)] for i in range(n - n_html)]
    folder.mkdir(parents=True)
    pairs = []
    for k, original in enumerate(picks):
        copy = folder / f"{k:05d}_{original.name}"
        shutil.copyfile(original, copy)
        pairs.append((copy, original))
    return pairs


def reading_work(pairs: list[tuple[Path, Path]]) -> float:
    """Seconds to read and detect every input serially (each original measured once)."""
    from summarize.inputs import SourceFile
    from summarize.run.overlap import read_source

    cost: dict[Path, float] = {}
    read_source(SourceFile(pairs[0][1], "warm"), 50_000_000, True)  # load the detector
    for _, original in pairs:
        if original not in cost:
            t0 = time.perf_counter()
            read_source(SourceFile(original, original.name), 50_000_000, True)
            cost[original] = time.perf_counter() - t0
    return sum(cost[original] for _, original in pairs)


def run_once(src: Path, out: Path, seconds_per_token: float, *, sync: bool,
             group_size: int) -> dict[str, float]:
    """One run_batch on the simulated device; the engine's wall time and the device's figures."""
    from summarize.run import local as engine_module
    from summarize.run.pipeline import run_batch
    from summarize.settings import RunConfig
    from tests.fakes import SimulatedBackend, SimulatedDevice

    device = SimulatedDevice(seconds_per_token)
    spans: list[float] = []
    real_run = engine_module.Engine.run

    cpu: dict[str, float] = {}

    def cpu_s(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        own, kids = cpu_s(resource.RUSAGE_SELF), cpu_s(resource.RUSAGE_CHILDREN)
        try:
            return real_run(self, *args, **kwargs)
        finally:
            spans.append(time.perf_counter() - t0)
            cpu["main"] = cpu_s(resource.RUSAGE_SELF) - own
            cpu["readers"] = cpu_s(resource.RUSAGE_CHILDREN) - kids  # reaped at the end

    engine_module.Engine.run = timed
    t0 = time.perf_counter()
    try:
        result = run_batch(
            RunConfig(inputs=(str(src),), out_dir=str(out), targets=("ko",),
                      batch_tokens=16384, group_size=group_size,
                      overlap="off" if sync else "auto"),
            backends={"summarizer": SimulatedBackend("summarize", device),
                      "translator": SimulatedBackend("translate", device)})
    finally:
        engine_module.Engine.run = real_run
    total = time.perf_counter() - t0
    assert result.n_ok and not result.interrupted, result.failures[:3]
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    return {"engine_s": spans[0], "total_s": total, "main_cpu_s": cpu["main"],
            "readers_cpu_s": cpu["readers"], "busy_s": device.busy_s,
            "batches": device.n_batches, "tokens": device.tokens, "n_ok": result.n_ok,
            "read_s": stats["stages"]["read"]["seconds"],
            "busy_fraction_span": device.busy_fraction()}


def records_of(out: Path) -> list[dict]:
    """results.jsonl without the fields that differ between runs (times, run id)."""
    rows = []
    for line in (out / "results.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        for key in ("timings", "finished_at", "run"):
            row.pop(key, None)
        rows.append(row)
    return sorted(rows, key=lambda r: r["id"])


def rss_child(n: int, html_share: float, seconds_per_token: float, group_size: int) -> None:
    """Subprocess: one overlapped run of ``n`` articles; prints peak RSS in MiB as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        make_inputs(src, n, html_share)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures = run_once(src, Path(tmp) / "out", seconds_per_token, sync=False,
                           group_size=group_size)
    print(json.dumps({
        "n": n, "rss_before_mb": round(base, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_reader_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "engine_s": round(figures["engine_s"], 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--html-share", type=float, default=0.2,
                        help="share of the articles that are saved HTML pages")
    parser.add_argument("--device-us", type=float, default=20.0,
                        help="device-bound run: simulated microseconds per token")
    parser.add_argument("--fast-device-us", type=float, default=0.5,
                        help="CPU-bound run: simulated microseconds per token")
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.rss_child:
        rss_child(args.rss_child, args.html_share, args.fast_device_us * 1e-6,
                  args.group_size)
        return
    from summarize.run.overlap import read_workers

    workers = read_workers()
    print(f"cores {os.cpu_count()}, reader processes {workers}, load average "
          f"{os.getloadavg()[0]:.1f}; {args.articles} articles, "
          f"{args.html_share:.0%} HTML, groups of {args.group_size}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        pairs = make_inputs(src, args.articles, args.html_share)
        work = reading_work(pairs)
        print(f"reading work (serial, detection included): {work:.1f} s; "
              f"/ {workers} processes = {work / workers:.1f} s")

        print(f"\n-- device-bound: {args.device_us:g} us/token")
        over = run_once(src, Path(tmp) / "o1", args.device_us * 1e-6, sync=False,
                        group_size=args.group_size)
        ratio = over["engine_s"] / over["busy_s"]
        print(f"overlapped:  engine {over['engine_s']:.1f} s, device busy {over['busy_s']:.1f} s"
              f" ({over['batches']} batches, {over['tokens']} tokens): wall/busy {ratio:.3f}"
              f" (target <= 1.10), busy {over['busy_s'] / over['engine_s']:.1%} of the wall;"
              f" run_batch total {over['total_s']:.1f} s")
        if not args.skip_sync:
            sync = run_once(src, Path(tmp) / "s1", args.device_us * 1e-6, sync=True,
                            group_size=args.group_size)
            print(f"synchronous: engine {sync['engine_s']:.1f} s, device busy "
                  f"{sync['busy_s']:.1f} s: wall/busy {sync['engine_s'] / sync['busy_s']:.3f},"
                  f" busy {sync['busy_s'] / sync['engine_s']:.1%} of the wall; run_batch "
                  f"total {sync['total_s']:.1f} s; overlapped is "
                  f"{sync['engine_s'] / over['engine_s']:.2f}x faster")
            same = records_of(Path(tmp) / "o1") == records_of(Path(tmp) / "s1")
            print(f"records identical (times and run id aside): {same}")

        print(f"\n-- CPU-bound: {args.fast_device_us:g} us/token")
        fast = run_once(src, Path(tmp) / "o2", args.fast_device_us * 1e-6, sync=False,
                        group_size=args.group_size)
        bound = work / workers
        print(f"overlapped:  engine {fast['engine_s']:.1f} s, device busy {fast['busy_s']:.1f} s;"
              f" reading work / processes {bound:.1f} s: wall/bound "
              f"{fast['engine_s'] / bound:.3f} (target <= 1.25)")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        spent = fast["main_cpu_s"] + fast["readers_cpu_s"]
        print(f"CPU spent: readers {fast['readers_cpu_s']:.1f} s, the run's own process "
              f"{fast['main_cpu_s']:.1f} s (batching, review, pages, records); "
              f"(all of it) / {cores} cores = {spent / cores:.1f} s: wall / that "
              f"{fast['engine_s'] / (spent / cores):.3f}")

    if not args.skip_rss:
        print("\n-- peak RSS, each run in its own subprocess (overlapped, CPU-bound device)")
        peaks = {}
        for n in (args.articles // 10, args.articles):
            out = subprocess.run(
                [sys.executable, __file__, "--rss-child", str(n), "--html-share",
                 str(args.html_share), "--fast-device-us", str(args.fast_device_us),
                 "--group-size", str(args.group_size)],
                capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            peaks[n] = row["peak_rss_mb"]
            print(f"{n:>6} articles: peak RSS {row['peak_rss_mb']:.0f} MiB (engine "
                  f"{row['engine_s']} s; largest reader process "
                  f"{row['peak_reader_rss_mb']:.0f} MiB)")
        small, large = peaks[args.articles // 10], peaks[args.articles]
        print(f"ratio {large / small:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
