"""The whole run on a real device: ``summarize batch`` in each ``--overlap`` mode, side by side.

Issue 11's GPU figure: articles/s, output tokens/s and the device's busy fraction of
``run_batch`` with random-weight models of the published sizes (distilbart-cnn-12-6 BART,
opus-mt-en-de Marian; :func:`summarize.devtools.bench.ensure_model`), every output forced to a fixed
length (greedy, ``min_new_tokens == max_new_tokens``) so every mode does the same work. The
inputs are the .txt articles and saved .html pages of ``../shared/data`` (as in
``benchmarks/overlap.py``), or the shipped sample articles where that folder is absent.

The busy fraction is the mean of ``nvidia-smi``'s ``utilization.gpu`` (the share of time a
kernel was running), sampled every 100 ms while the engine runs; without ``nvidia-smi`` it
is not measured (``None``). The records of every mode are compared (times aside).

Usage::

    python benchmarks/gpu_pipeline.py                       # CUDA, bf16, 1,000 articles
    python benchmarks/gpu_pipeline.py --modes off,auto --articles 400 --json out.json
    python benchmarks/gpu_pipeline.py --modes auto --caches dynamic,static   # static cache
    python benchmarks/gpu_pipeline.py --device cpu --size tiny --articles 12   # a dry run

``benchmarks/gpu.sh`` runs it after the stage benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overlap import DATA, HTML, TXT, make_inputs, records_of  # noqa: E402


class BusySampler:
    """Samples ``nvidia-smi``'s GPU utilization in a thread; ``mean`` is None without it."""

    def __init__(self, gpu: int = 0, period_ms: int = 100):
        self.samples: list[float] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._cmd = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                     f"--id={gpu}", f"--loop-ms={period_ms}"]

    def start(self) -> None:
        if shutil.which("nvidia-smi") is None:
            return
        self._proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE, text=True,
                                      stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self.samples.append(float(line.strip()) / 100)
            except ValueError:
                pass

    def stop(self) -> float | None:
        if self._proc is None:
            return None
        self._proc.terminate()
        self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2)
        return sum(self.samples) / len(self.samples) if self.samples else None


def write_inputs(folder: Path, n: int, html_share: float) -> None:
    """The shared data's articles and pages, else the shipped sample articles."""
    if TXT.is_dir() and HTML.is_dir():
        make_inputs(folder, n, html_share)
        return
    from summarize.devtools.bench import write_memory_inputs

    print(f"({DATA} not found: using the shipped sample articles, text only)")
    write_memory_inputs(folder, n)


def run_mode(src: Path, out: Path, mode: str, args: argparse.Namespace, summarizer: str,
             translator: str, cache: str = "dynamic") -> dict:
    """One run_batch in ``mode`` with the decoder's ``cache`` (``cache_implementation``);
    the engine's wall time, busy fraction and stats."""
    from summarize.run import local as engine_module
    from summarize.run.pipeline import run_batch
    from summarize.settings import RoleConfig, RunConfig

    sampler = BusySampler()
    spans: list[float] = []
    real_run = engine_module.Engine.run

    def timed(self, *a, **k):
        sampler.start()
        t0 = time.perf_counter()
        try:
            return real_run(self, *a, **k)
        finally:
            spans.append(time.perf_counter() - t0)
            spans.append(sampler.stop())

    engine_module.Engine.run = timed
    try:
        fixed = {"num_beams": 1, "cache_implementation": cache}
        result = run_batch(RunConfig(
            inputs=(str(src),), out_dir=str(out), targets=("de",), device=args.device,
            dtype=args.dtype, overlap=mode, group_size=args.group_size,
            batch_tokens=args.batch_tokens,
            summarizer=RoleConfig(model=summarizer, settings={
                **fixed, "min_new_tokens": args.summary_tokens,
                "max_new_tokens": args.summary_tokens}),
            translator=RoleConfig(model=translator, settings={
                **fixed, "min_new_tokens": args.translation_tokens,
                "max_new_tokens": args.translation_tokens})))
    finally:
        engine_module.Engine.run = real_run
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    engine_s, busy = spans[0], spans[1]
    stages = stats["stages"]
    out_tokens = sum(stages[s]["output_tokens"] or 0 for s in ("summarize", "translate"))
    return {"mode": mode, "cache": cache, "ok": result.n_ok, "failed": result.n_failed,
            "engine_s": round(engine_s, 2), "articles_per_s": round(result.n_ok / engine_s, 2),
            "output_tokens_per_s": round(out_tokens / engine_s, 1),
            "summarize_batches": stages["summarize"]["n_batches"],
            "translate_batches": stages["translate"]["n_batches"],
            "busy_fraction": None if busy is None else round(busy, 3),
            "peak_gpu_mb": stats.get("peak_gpu_mb"), "device": stats.get("device"),
            "device_name": stats.get("device_name"), "dtype": stats.get("dtype")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--html-share", type=float, default=0.2)
    parser.add_argument("--modes", default="off,io,auto",
                        help="comma-separated --overlap modes, run in this order")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--size", default="base", choices=("base", "tiny"),
                        help="published sizes (base) or tiny models for a dry run")
    parser.add_argument("--summary-tokens", type=int, default=48)
    parser.add_argument("--translation-tokens", type=int, default=24)
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--batch-tokens", type=int, default=None)
    parser.add_argument("--caches", default="dynamic",
                        help="comma-separated decoder caches to measure (dynamic, static: "
                             "preallocated, which transformers compiles on CUDA); each "
                             "cache runs every mode")
    parser.add_argument("--warmup", type=int, default=16,
                        help="articles of an untimed first run (0: none)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from summarize.devtools.bench import ensure_model

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    caches = [c.strip() for c in args.caches.split(",") if c.strip()]
    summarizer = str(ensure_model("bart", args.size))
    translator = str(ensure_model("marian", args.size))
    rows = []
    runs = [(mode, cache) for cache in caches for mode in modes]
    name = {run: run[0] if len(caches) == 1 else f"{run[0]}/{run[1]}" for run in runs}
    with tempfile.TemporaryDirectory(prefix="summarize-gpu-pipeline-") as tmp:
        src = Path(tmp) / "in"
        write_inputs(src, args.articles, args.html_share)
        if args.warmup:  # imports, kernels and allocator warmed before anything is timed
            warm = Path(tmp) / "warm"
            write_inputs(warm, args.warmup, args.html_share)
            print(f"-- warm-up on {args.warmup} articles ...", flush=True)
            run_mode(warm, Path(tmp) / "out-warm", modes[0], args, summarizer, translator,
                     caches[0])
        for mode, cache in runs:
            print(f"-- --overlap {mode}, {cache} cache ...", flush=True)
            out = Path(tmp) / f"out-{mode}-{cache}"
            row = run_mode(src, out, mode, args, summarizer, translator, cache)
            rows.append(row)
            busy = "n/a" if row["busy_fraction"] is None else f"{row['busy_fraction']:.1%}"
            print(f"{name[mode, cache]:>5}: {row['ok']} ok, engine {row['engine_s']} s, "
                  f"{row['articles_per_s']} articles/s, {row['output_tokens_per_s']} output "
                  f"tokens/s, device busy {busy}, peak GPU {row['peak_gpu_mb']} MB "
                  f"({row['device']}, {row['dtype']})", flush=True)
        def outputs(run: tuple[str, str]) -> list[dict]:
            """The records, without the resume key (the cache setting is part of it)."""
            return [{k: v for k, v in r.items() if k != "key"}
                    for r in records_of(Path(tmp) / f"out-{run[0]}-{run[1]}")]

        first = outputs(runs[0])
        same = {}
        for run in runs[1:]:
            other = outputs(run)
            same[name[run]] = [sum(a == b for a, b in zip(first, other, strict=False)),
                               len(first)]
    base = rows[0]["engine_s"]
    for run, row in zip(runs[1:], rows[1:], strict=True):
        equal, total = same[name[run]]
        print(f"{name[run]}: {base / row['engine_s']:.2f}x the speed of {name[runs[0]]}; "
              f"records identical {equal}/{total}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "identical": same}, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
