"""The benchmark's stages: each side on the same items and their comparison (translate,
summarize, for seq2seq and chat models), and the memory of long ``summarize batch`` runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from summarize.devtools.bench.data import (
    check_data_dir,
    load_articles,
    load_sentences,
    write_memory_inputs,
)
from summarize.devtools.bench.harness import (
    agreement,
    compare_sides,
    is_local,
    machine_info,
    run_side,
    run_side_subprocess,
    subprocess_env,
)
from summarize.devtools.bench.models import chat_model, default_work_dir, ensure_model
from summarize.devtools.bench_command import (
    DEFAULT_ARTICLES,
    DEFAULT_SENTENCES,
    DEFAULT_TARGET,
)

#: The speed stages: seq2seq models, then chat models (the same work through a chat template).
STAGES = ("translate", "summarize")
CHAT_STAGES = ("chat-translate", "chat-summarize")
#: What ``--stage`` accepts: a stage, ``both`` (seq2seq), ``chat`` (both chat stages), or a
#: memory stage.
STAGE_CHOICES = (*STAGES, "both", "memory", *CHAT_STAGES, "chat", "chat-memory")
DEFAULT_NEW_TOKENS = {"translate": 24, "summarize": 48}
BACKENDS = ("torch", "ct2")

MEMORY_COUNTS = (200, 2000)
MEMORY_LIMIT = 1.3  # peak RSS of the large run over the small one, at most


def parse_backends(backends: str | Sequence[str]) -> tuple[str, ...]:
    """``--backend``: torch, ct2 or both, in order, each once.

    Raises:
        ValueError: An unknown engine, or none.
    """
    names = tuple(b.strip() for b in (backends.split(",") if isinstance(backends, str)
                                      else backends) if b.strip())
    bad = [b for b in names if b not in BACKENDS]
    if bad or not names:
        raise ValueError(f"--backend {','.join(names)}: expected torch, ct2 or torch,ct2")
    return tuple(dict.fromkeys(names))


def run_stage(stage: str, model_dir: str, items: Sequence[str], *, new_tokens: int,
              threads: int = 2, device: str = "cpu", dtype: str = "auto",
              batch_tokens: int | None = None, target: str = DEFAULT_TARGET,
              isolate: bool = True, naive_items: int | None = None, repeat: int = 1,
              keep_outputs: bool = False, backends: str | Sequence[str] = ("torch",),
              quantization: str = "auto") -> dict[str, Any]:
    """Run the naive loop, then each engine, on the same items; return all and the ratios.

    Args:
        stage: ``translate`` (items are sentences) or ``summarize`` (items are articles).
        model_dir: Model folder or hub id used by every side (seq2seq or chat).
        items: The inputs.
        new_tokens: Output length forced on every generated text.
        threads: ``torch.set_num_threads`` and CTranslate2's ``intra_threads`` on every side.
        device: Device spec for every side.
        dtype: Torch dtype spec (``auto``: float32 on CPU, bf16 on recent GPUs).
        batch_tokens: The engines' token budget per batch (None: the device default).
        target: Target language of the translation stage.
        isolate: Run each side in its own subprocess (separate peak RSS).
        naive_items: Give the naive loop only the first N items (slow devices, big runs);
            rates are still comparable, ``same_work`` is then False.
        repeat: Timed runs per side (after one warm-up); the fastest counts.
        keep_outputs: Keep every output text in the result.
        backends: Engines to run (``torch``, ``ct2``); the first is the ``engine`` column.
        quantization: CTranslate2 compute type (``auto``: int8 on CPU). When it is not
            float32, a float32 CTranslate2 side also runs and ``ct2_agreement`` gives the
            share of quantized outputs identical to the float32 ones.

    Returns:
        ``naive`` and one entry per engine (``torch``, ``ct2``, ``ct2_float32``) with its
        rates, tokens, peak RSS and sample outputs; ``engine`` is the first engine; ``ratio``
        its tok/s over the naive loop's, ``ratios`` every engine's, ``ct2_over_torch`` the
        CTranslate2 rate over the torch engine's.
    """
    engines = parse_backends(backends)
    # CTranslate2 conversions of a model folder go to the bench's cache, not ./models/.ct2
    store = str(default_work_dir() / "models") if is_local(model_dir) else None
    kwargs: dict[str, Any] = {"new_tokens": new_tokens, "device": device, "dtype": dtype,
                              "threads": threads, "repeat": repeat}
    if stage == "translate":
        kwargs["target"] = target
    naive_list = list(items[:naive_items] if naive_items else items)
    specs: list[tuple[str, dict[str, Any]]] = [
        ("naive", {"side": "naive", "stage": stage, "model": model_dir, "items": naive_list,
                   "kwargs": kwargs})]
    for name in engines:
        specs.append((name, {"side": "engine", "stage": stage, "model": model_dir,
                             "items": list(items),
                             "kwargs": {**kwargs, "batch_tokens": batch_tokens,
                                        "backend": name, "quantization": quantization,
                                        "models_dir": store}}))
    if "ct2" in engines and quantization != "float32":
        specs.append(("ct2_float32", {"side": "engine", "stage": stage, "model": model_dir,
                                      "items": list(items),
                                      "kwargs": {**kwargs, "batch_tokens": batch_tokens,
                                                 "backend": "ct2", "models_dir": store,
                                                 "quantization": "float32"}}))
    results: dict[str, dict[str, Any]] = {}
    for name, spec in specs:
        results[name] = run_side_subprocess(spec, threads) if isolate else run_side(spec)
    first = engines[0]
    out: dict[str, Any] = {"stage": stage, "model": model_dir, "new_tokens": new_tokens,
                           "items": len(items), "backends": list(engines),
                           "quantization": quantization, **results,
                           "engine": results[first]}
    out.update(compare_sides(results["naive"], results[first]))
    out["ratios"] = {name: compare_sides(results["naive"], results[name])["ratio"]
                     for name in results if name != "naive"}
    out["identical_to_naive"] = {name: agreement(results["naive"], results[name])
                                 for name in results if name != "naive"}
    if "ct2" in results and "torch" in results:
        t, c = results["torch"]["tokens_per_s"], results["ct2"]["tokens_per_s"]
        out["ct2_over_torch"] = round(c / t, 2) if t and c else None
    if "ct2_float32" in results:
        out["ct2_agreement"] = agreement(results["ct2"], results["ct2_float32"])
    if not keep_outputs:
        for name in results:
            results[name]["sample_outputs"] = results[name].pop("outputs")[:3]
    return out


MEMORY_CONFIG = """\
[summarizer]
max_new_tokens = 32
num_beams = 1

[translator]
max_new_tokens = 24
num_beams = 1
"""


def run_memory(work_dir: Path, *, counts: Sequence[int] = MEMORY_COUNTS,
               data_dir: Path | None = None, text: Path | None = None,
               group_size: int | None = None,
               threads: int = 2, summarizer: str | None = None, translator: str | None = None,
               target: str = DEFAULT_TARGET, log: Callable[[str], None] | None = None,
               ) -> dict[str, Any]:
    """Peak RSS of ``summarize batch`` over ``counts`` articles (tiny models unless given).

    Each count is a separate ``python -m summarize batch`` run on freshly written files;
    the peak comes from the ``peak_rss_mb`` of its ``stats.json``.
    """
    summarizer = summarizer or str(ensure_model("bart", "tiny", work_dir, data_dir))
    translator = translator or str(ensure_model("marian", "tiny", work_dir, data_dir))
    runs = []
    with tempfile.TemporaryDirectory(prefix="summarize-bench-mem-") as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(MEMORY_CONFIG, "utf-8")
        for n in counts:
            inputs = write_memory_inputs(Path(tmp) / f"in-{n}", n, data_dir, text)
            out = Path(tmp) / f"out-{n}"
            cmd = [sys.executable, "-m", "summarize", "batch", str(inputs), "--out", str(out),
                   "--summarizer", summarizer, "--translator", translator, "--to", target,
                   "--config", str(cfg), "-q"]
            if group_size:
                cmd += ["--group-size", str(group_size)]
            env = subprocess_env(threads)
            if log:
                log(f"memory: summarize batch on {n} articles ...")
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - started
            stats_path = out / "stats.json"
            if not stats_path.is_file():
                raise RuntimeError(f"summarize batch on {n} articles failed "
                                   f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
            stats = json.loads(stats_path.read_text("utf-8"))
            runs.append({"articles": n, "exit_code": proc.returncode,
                         "ok": stats["articles"]["ok"], "failed": stats["articles"]["failed"],
                         "peak_rss_mb": stats["peak_rss_mb"], "wall_s": round(wall, 2),
                         "articles_per_s": stats.get("articles_per_s")})
            shutil.rmtree(inputs, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
    ratio = round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3)
    return {"stage": "memory", "summarizer": summarizer, "translator": translator,
            "group_size": group_size, "runs": runs, "ratio": ratio, "limit": MEMORY_LIMIT,
            "ok": ratio <= MEMORY_LIMIT}


def _stage_names(stage: str) -> tuple[str, ...]:
    if stage not in STAGE_CHOICES:
        raise ValueError(f"--stage {stage}: expected one of {', '.join(STAGE_CHOICES)}")
    return {"both": STAGES, "chat": CHAT_STAGES}.get(stage, (stage,))


def run_bench(
    *,
    stage: str = "both",
    summarizer: str | None = None,
    translator: str | None = None,
    chat: str | None = None,
    target: str = DEFAULT_TARGET,
    sentences: int = DEFAULT_SENTENCES,
    articles: int = DEFAULT_ARTICLES,
    new_tokens: int | None = None,
    threads: int = 2,
    batch_tokens: int | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    work_dir: Path | None = None,
    data_dir: Path | None = None,
    text: Path | None = None,
    backends: str | Sequence[str] = ("torch",),
    quantization: str = "auto",
    isolate: bool = True,
    naive_sentences: int | None = None,
    naive_articles: int | None = None,
    repeat: int = 1,
    memory_counts: Sequence[int] = MEMORY_COUNTS,
    group_size: int | None = None,
    size: str = "base",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the chosen stages and return the report (see :func:`~.report.format_report`).

    Args:
        stage: One of :data:`STAGE_CHOICES`: ``translate``, ``summarize``, ``both``,
            ``memory``; ``chat-translate``, ``chat-summarize``, ``chat`` (both) and
            ``chat-memory`` run a chat model through its chat template.
        summarizer: Summarization model folder or hub id (default: random distilbart size).
        translator: Translation model folder or hub id (default: random opus-mt size).
        chat: The chat stages' model: a folder or hub id, or a built shape
            (:data:`~.models.CHAT_SIZES`; default SmolLM2-135M's, the memory stage a tiny
            one).
        target: Target language of the translation stage.
        sentences: Sentences for the translation stage.
        articles: Articles for the summarization stage.
        new_tokens: Output tokens per item (default: 24 translation, 48 summaries).
        threads: Torch CPU threads on every side.
        batch_tokens: The engine's token budget per batch (default: its device default).
        device: Device spec for both sides.
        dtype: Dtype spec for both sides.
        work_dir: Cache folder of built models (default: :func:`~.models.default_work_dir`).
        data_dir: Shared data folder (WMT19/NTREX sentences, CNN/DailyMail articles), used
            only when given; default text: the NTREX sample shipped with the package.
        text: A text file to use instead (one sentence per line; blank-line-separated
            blocks are articles).
        backends: Engines to compare with the naive loop: ``torch``, ``ct2`` or both (the
            chat stages: torch).
        quantization: CTranslate2 compute type (``auto``: int8 on CPU).
        isolate: One subprocess per side.
        naive_sentences: Run the naive loop on only the first N sentences (slow devices).
        naive_articles: Run the naive loop on only the first N articles.
        repeat: Timed runs per side; the fastest counts.
        memory_counts: Article counts of the memory stage (small, large).
        group_size: ``--group-size`` of the memory stage's runs.
        size: Size of the built random seq2seq models (``base`` or, for tests, ``tiny``).
        log: Progress messages.

    Raises:
        ValueError: An unknown stage or engine, a ``--data`` folder without the data, or a
            chat stage with an engine other than torch.
    """
    names = _stage_names(stage)
    work_dir = Path(work_dir) if work_dir else default_work_dir()
    log = log or (lambda message: None)
    engines = parse_backends(backends)
    if any(name.startswith("chat") for name in names) and engines != ("torch",):
        raise ValueError(f"--backend {','.join(engines)}: the chat stages run the torch "
                         "engine only")
    if data_dir is not None:
        data_dir = Path(data_dir)
        check_data_dir(data_dir)
    text_source = str(text) if text else f"--data {data_dir}" if data_dir else "sample"
    report: dict[str, Any] = {"machine": machine_info(threads), "device": device,
                              "dtype": dtype, "backends": list(engines),
                              "quantization": quantization, "text": text_source,
                              "stages": {}}
    for name in names:
        if name in ("memory", "chat-memory"):
            models: dict[str, str | None] = {"summarizer": summarizer,
                                             "translator": translator}
            if name == "chat-memory":
                model = chat_model(chat or "tiny", work_dir, data_dir)
                models = {"summarizer": model, "translator": model}
            report["stages"][name] = run_memory(
                work_dir, counts=memory_counts, data_dir=data_dir, text=text,
                group_size=group_size, threads=threads, target=target, log=log, **models)
            continue
        task = name.removeprefix("chat-")
        n_new = new_tokens or DEFAULT_NEW_TOKENS[task]
        if name.startswith("chat-"):
            model = chat_model(chat, work_dir, data_dir)
        elif task == "translate":
            model = translator or str(ensure_model("marian", size, work_dir, data_dir))
        else:
            model = summarizer or str(ensure_model("bart", size, work_dir, data_dir))
        if task == "translate":
            items = load_sentences(sentences, data_dir, text=text)
            naive_items = naive_sentences
        else:
            items = load_articles(articles, data_dir, text)
            naive_items = naive_articles
        log(f"{name}: {len(items)} items, {n_new} new tokens each, model {model}")
        report["stages"][name] = run_stage(
            task, model, items, new_tokens=n_new, threads=threads, device=device, dtype=dtype,
            batch_tokens=batch_tokens, target=target, isolate=isolate, naive_items=naive_items,
            repeat=repeat, backends=engines, quantization=quantization)
    return report

