"""Measure what the confidence scores cost: the engine with token scores on and off, one run.

The engine (``load_models`` + ``Translator.translate_many`` or ``Summarizer.summarize_many``,
as ``summarize batch`` runs it) translates or summarizes the same texts with
``backend.return_scores`` on and off, alternating (off, on, on, off, ...) so that drift of
the machine hits both sides alike, and prints the median seconds of each side and their
ratio (and the fastest run of each side: on a machine shared with other work the fastest
run is the least disturbed one). Models and texts are those of ``summarize bench``
(random-weight models of the published sizes, NTREX sentences / CNN-DM articles with
``--data``). Outputs must be
identical on both sides: scoring never changes what is generated.

    python benchmarks/confidence_cost.py --stage translate --sentences 100 --rounds 6
    python benchmarks/confidence_cost.py --backend ct2 --data ../shared/data
    python benchmarks/confidence_cost.py --stage summarize --articles 8 --beams 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from summarize.devtools import bench  # noqa: E402
from summarize.devtools.bench import engine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("translate", "summarize"), default="translate")
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--articles", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6, help="runs per side")
    parser.add_argument("--size", default="base")
    parser.add_argument("--backend", default="torch", choices=("torch", "ct2"))
    parser.add_argument("--quantization", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=None)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--batch-tokens", type=int, default=None)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    from summarize.run.models import load_models
    from summarize.tasks.batching import BatchStats

    role = "translator" if args.stage == "translate" else "summarizer"
    kind = "marian" if args.stage == "translate" else "bart"
    model_dir = str(bench.ensure_model(kind, args.size, data_dir=args.data))
    new_tokens = args.new_tokens or bench.DEFAULT_NEW_TOKENS[args.stage]
    engine.set_threads(args.threads)
    config = engine.engine_config(role, model_dir, new_tokens, bench.DEFAULT_TARGET,
                                  args.device, args.dtype, args.batch_tokens, args.backend,
                                  args.quantization, args.threads)
    models = load_models(config)
    if args.stage == "translate":
        task = next(iter(models.translators.values()))
        items = bench.load_sentences(args.sentences, args.data)
        task.settings["num_beams"] = args.beams

        def work() -> list:
            return task.translate_many(list(items), BatchStats())
    else:
        task = models.summarizer
        items = bench.load_articles(args.articles, args.data)
        task.settings["num_beams"] = args.beams

        def work() -> list:
            return task.summarize_many(list(items), BatchStats())
    sync = engine.syncer(models.device)
    backend = task.backend
    work()  # warm-up, scores on
    seconds: dict[bool, list[float]] = {True: [], False: []}
    texts: dict[bool, list[str]] = {}
    order = [False, True, True, False] * ((args.rounds + 1) // 2)
    for on in order[: 2 * args.rounds]:
        backend.return_scores = on
        sync()
        t0 = time.perf_counter()
        results = work()
        sync()
        seconds[on].append(time.perf_counter() - t0)
        texts[on] = [r.text for r in results]
    models.close()
    off, on = statistics.median(seconds[False]), statistics.median(seconds[True])
    report = {
        "stage": args.stage, "backend": args.backend, "device": models.device,
        "dtype": models.dtype, "items": len(items), "beams": args.beams,
        "new_tokens": new_tokens, "rounds": args.rounds,
        "off_s": [round(s, 4) for s in seconds[False]],
        "on_s": [round(s, 4) for s in seconds[True]],
        "median_off_s": round(off, 4), "median_on_s": round(on, 4),
        "ratio_on_off": round(on / off, 4),
        # on a shared machine the fastest run of each side is the least disturbed one
        "min_off_s": round(min(seconds[False]), 4), "min_on_s": round(min(seconds[True]), 4),
        "ratio_min": round(min(seconds[True]) / min(seconds[False]), 4),
        "same_outputs": texts[True] == texts[False],
    }
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>14}: {value}")


if __name__ == "__main__":
    main()
