"""Articles per second of the local engine against Ray with 1, 2, ... replicas per stage.

Each side is one ``python -m summarize batch`` run in its own process, on the same freshly
written article files, with the random-weight opus-mt-size Marian of the benchmark
(:func:`summarize.devtools.bench.ensure_model`, built once and cached) translating whole articles
(``--translate article``), every output exactly ``--new-tokens`` long (EOS held back),
greedy. Without ``--summary`` the run makes no summaries (``--no-summary``: Ray has one
stage, translate); with it the random distilbart-size BART summarizes each article too
(``--summary-tokens`` tokens), so Ray runs two stages, each with ``--replicas`` replicas.
Two figures per side, from its stats.json:

- ``end-to-end``: processed articles over the run's wall time (Ray's start-up, the
  replicas' model loads and the writing included), what a user waits for;
- ``in replicas``: articles over the busiest replica's processing seconds (for the local
  engine, over its summarize + translate + write seconds), the throughput once loaded
  (the stages of Ray run at the same time: the busiest replica bounds the rate).

Usage::

    python benchmarks/ray_scaling.py --articles 48 --replicas 1 2
    python benchmarks/ray_scaling.py --articles 48 --replicas 1 2 --summary
    python benchmarks/ray_scaling.py --device cuda --replicas 1 --gpus-per-replica 0.5 --summary

Prints a Markdown table and, with ``--json FILE``, writes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def write_inputs(folder: Path, n: int, data_dir: Path | None) -> Path:
    from summarize.devtools.bench import write_memory_inputs

    return write_memory_inputs(folder, n, data_dir)


def run_side(name: str, inputs: Path, out: Path, model: str, cfg: Path, extra: list[str],
             threads: int, device: str, summarizer: str | None = None) -> dict[str, Any]:
    summary = ["--summarizer", summarizer] if summarizer else ["--no-summary"]
    cmd = [sys.executable, "-m", "summarize", "batch", str(inputs), "--out", str(out),
           *summary, "--translate", "article", "--to", "de", "--translator", model,
           "--config", str(cfg), "--device", device, "--models-dir", str(out.parent / "m"),
           "-q", *extra]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    stats_path = out / "stats.json"
    if proc.returncode != 0 or not stats_path.is_file():
        raise RuntimeError(f"{name}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    stats = json.loads(stats_path.read_text("utf-8"))
    n = stats["articles"]["ok"] + stats["articles"]["failed"] - stats["articles"]["resumed"]
    replicas = stats.get("replicas") or []
    if replicas:
        busy_s = max(r["seconds"] for r in replicas)
    else:
        busy_s = sum(stats["stages"][s]["seconds"] for s in ("summarize", "translate",
                                                              "write"))
    stage_busy = {}
    for r in replicas:
        stage = r.get("stage", "all")
        stage_busy[stage] = round(max(stage_busy.get(stage, 0.0), r["seconds"]), 2)
    return {
        "side": name, "articles": n, "process_wall_s": round(wall, 2),
        "wall_s": stats["wall_s"], "load_s": stats["stages"]["load"]["seconds"],
        "end_to_end_per_s": round(n / stats["wall_s"], 3),
        "busy_s": round(busy_s, 2), "in_replicas_per_s": round(n / busy_s, 3),
        "busiest_by_stage_s": stage_busy,
        "output_tokens": {s: stats["stages"][s]["output_tokens"]
                          for s in ("summarize", "translate")},
        "replicas": [{k: r.get(k) for k in ("stage", "replica", "articles", "batches",
                                            "seconds", "load_s", "threads", "num_cpus",
                                            "num_gpus", "restarts")}
                     for r in replicas],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--summary", action="store_true",
                        help="summarize too (random distilbart-size BART): two Ray stages")
    parser.add_argument("--summary-tokens", type=int, default=16)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--gpus-per-replica", type=float, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0,
                        help="OMP threads of the local engine (0: torch's default)")
    parser.add_argument("--translator", default=None,
                        help="model folder (default: the random opus-mt-size Marian)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="shared data folder for CNN/DailyMail articles "
                             "(default: the shipped NTREX sample)")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from summarize.devtools.bench import ensure_model, machine_info

    model = args.translator or str(ensure_model("marian", "base"))
    summarizer = str(ensure_model("bart", "base")) if args.summary else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="summarize-ray-bench-") as tmp:
        base = Path(tmp)
        inputs = write_inputs(base / "in", args.articles, args.data_dir)
        cfg = base / "gen.toml"
        cfg.write_text(
            f"[translator]\nnum_beams = 1\nmax_new_tokens = {args.new_tokens}\n"
            f"min_new_tokens = {args.new_tokens}\n"
            f"[summarizer]\nnum_beams = 1\nmax_new_tokens = {args.summary_tokens}\n"
            f"min_new_tokens = {args.summary_tokens}\n", "utf-8")
        common = ["--group-size", str(args.group_size)]
        sides: list[tuple[str, list[str], int]] = []
        if not args.skip_local:
            sides.append(("local", common, args.threads))
        for n in args.replicas:
            extra = [*common, "--engine", "ray", "--replicas", str(n)]
            if args.gpus_per_replica is not None:
                extra += ["--gpus-per-replica", str(args.gpus_per_replica)]
            sides.append((f"ray x{n}", extra, 0))
        for name, extra, threads in sides:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows.append(run_side(name, inputs, base / name.replace(" ", "_"), model, cfg,
                                 extra, threads, args.device, summarizer))
    what = (f"summarize ({args.summary_tokens} tokens, {Path(summarizer).name}) and "
            if summarizer else "")
    print(f"\n{args.articles} articles, {what}translate article text into de "
          f"({args.new_tokens} tokens per sentence, {Path(model).name}), random weights, "
          f"group size {args.group_size}, device {args.device}\n")
    print("| engine | wall s | load s | articles/s end-to-end | busiest replica s "
          "| articles/s in replicas | busiest by stage s |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        by_stage = ", ".join(f"{k} {v:.1f}" for k, v in r["busiest_by_stage_s"].items())
        print(f"| {r['side']} | {r['wall_s']:.1f} | {r['load_s']:.1f} "
              f"| {r['end_to_end_per_s']:.2f} | {r['busy_s']:.1f} "
              f"| {r['in_replicas_per_s']:.2f} | {by_stage or '-'} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_info(args.threads),
                                         "args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows}, indent=2), "utf-8")


if __name__ == "__main__":
    main()
