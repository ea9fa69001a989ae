"""The benchmark's harness: the work both sides do, timing, one subprocess per side, the
comparison of two sides, and what machine ran them.

Timing (:func:`timed`): each side loads its model and runs one short untimed warm-up call
first, so the clock covers only the work itself; its rates are marginal rates (output
tokens per second of the timed loop, with the fixed setup cost of process start, imports,
loading and first-call allocation left out). With ``repeat`` the fastest run counts: other
load on a shared machine only slows a run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: CPU features that decide how fast torch runs on a CPU (as /proc/cpuinfo names them).
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd", "sve")


def generation_settings(new_tokens: int) -> dict[str, Any]:
    """Greedy, every output exactly ``new_tokens`` long (EOS is held back until then).

    No forced EOS either: it would fight the minimum on the last step (the engine turns it
    off anyway, so that an output never depends on its batch-mates' limits).
    """
    return {"num_beams": 1, "do_sample": False, "min_new_tokens": new_tokens,
            "max_new_tokens": new_tokens}


def warm_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings for a two-token warm-up call (no length constraint beyond it)."""
    return {**settings, "min_new_tokens": 2, "min_length": 0}


@contextmanager
def rss_sampler(every_s: float = 0.01) -> Iterator[dict[str, float]]:
    """Sample this process's RSS in a thread; yields a dict whose ``peak_mb`` grows."""
    import psutil

    proc = psutil.Process()
    box = {"peak_mb": proc.memory_info().rss / 2**20}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            box["peak_mb"] = max(box["peak_mb"], proc.memory_info().rss / 2**20)
            stop.wait(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        stop.set()
        thread.join()
        box["peak_mb"] = max(box["peak_mb"], proc.memory_info().rss / 2**20)


def _cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], dict[str, Any]], repeat: int,
          sync: Callable[[], None]) -> dict[str, Any]:
    """Run ``work`` ``repeat`` times; keep the fastest run (other load only slows a run).

    ``work`` returns the run's outputs and token counts; each run must give the same outputs.
    """
    best: dict[str, Any] | None = None
    runs = []
    for _ in range(max(1, repeat)):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        cpu0, started = _cpu_s(), time.perf_counter()
        result = work()
        sync()
        seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu0
        runs.append(round(seconds, 3))
        if best is not None and result["outputs"] != best["outputs"]:
            raise RuntimeError("two runs of the same work gave different outputs")
        if best is None or seconds < best["seconds"]:
            best = {**result, "seconds": seconds, "cpu_s": round(cpu, 2), "load_avg": load}
    assert best is not None
    best["runs_s"] = runs
    return best


def side_result(side: str, result: dict[str, Any], n_items: int, **extra: Any
                ) -> dict[str, Any]:
    """One side's report from its :func:`timed` result: rates, tokens, calls, outputs."""
    seconds, out_tokens = result["seconds"], result["output_tokens"]
    return {
        "side": side, "items": n_items, "seconds": round(seconds, 6),
        "output_tokens": out_tokens, "input_tokens": result["input_tokens"],
        "tokens_per_s": round(out_tokens / seconds, 1) if seconds > 0 else None,
        "items_per_s": round(n_items / seconds, 3) if seconds > 0 else None,
        "generate_calls": result["calls"], "cpu_s": result["cpu_s"],
        "runs_s": result["runs_s"], "load_avg": result["load_avg"],
        "outputs": result["outputs"], **extra,
    }


def side_function(side: str, stage: str) -> Callable[..., dict[str, Any]]:
    """The function that runs ``side`` (naive, engine) of ``stage`` (translate, summarize)."""
    from summarize.devtools.bench import engine, naive

    return {
        "naive:translate": naive.naive_translate,
        "engine:translate": engine.engine_translate,
        "naive:summarize": naive.naive_summarize,
        "engine:summarize": engine.engine_summarize,
    }[f"{side}:{stage}"]


def run_side(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side in this process; adds ``peak_rss_mb`` (sampled from the side's start)."""
    fn = side_function(spec["side"], spec["stage"])
    with rss_sampler() as rss:
        result = fn(spec["model"], spec["items"], **spec["kwargs"])
    result["peak_rss_mb"] = round(rss["peak_mb"], 1)
    result["rss_method"] = "sampled"
    _add_gpu_peak(result)
    return result


def _add_gpu_peak(result: dict[str, Any]) -> None:
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
            result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)


def worker_main(argv: Sequence[str] | None = None) -> None:
    """Subprocess entry: run the side described by a JSON spec file, write its result."""
    args = list(sys.argv[1:] if argv is None else argv)
    spec = json.loads(Path(args[0]).read_text("utf-8"))
    fn = side_function(spec["side"], spec["stage"])
    result = fn(spec["model"], spec["items"], **spec["kwargs"])
    from summarize.run.stats import peak_rss_mb

    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["rss_method"] = "ru_maxrss"
    _add_gpu_peak(result)
    Path(args[1]).write_text(json.dumps(result), "utf-8")


def subprocess_env(threads: int, local_model: bool = True) -> dict[str, str]:
    """The environment of a side's subprocess: this checkout first on the path, the thread
    count, offline when the model is a local folder."""
    import summarize

    env = dict(os.environ)
    if local_model:
        env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["OMP_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    root = str(Path(summarize.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_side_subprocess(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one side in a fresh Python process so that its peak RSS is its own."""
    with tempfile.TemporaryDirectory(prefix="summarize-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec), "utf-8")
        env = subprocess_env(threads, is_local(spec["model"]))
        code = ("import sys; from summarize.devtools.bench.harness import worker_main; "
                "worker_main(sys.argv[1:])")
        proc = subprocess.run([sys.executable, "-c", code, str(spec_path), str(out_path)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"{spec['side']} {spec['stage']} failed "
                               f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        return json.loads(out_path.read_text("utf-8"))


def is_local(model: str) -> bool:
    """Whether ``model`` names a folder here (else a hub id)."""
    return Path(model).expanduser().is_dir()


def agreement(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """How many outputs of two sides are identical, item by item."""
    n = min(len(a["outputs"]), len(b["outputs"]))
    same = sum(1 for i in range(n) if a["outputs"][i] == b["outputs"][i])
    return {"compared": n, "identical": same, "share": round(same / n, 4) if n else None}


def compare_sides(naive: dict[str, Any], engine: dict[str, Any]) -> dict[str, Any]:
    """Ratio of output tokens per second (engine / naive) and an output-by-output check.

    The ratio is computed from the rounded ``tokens_per_s`` both sides report, so it can be
    recomputed from the printed numbers.
    """
    n = min(len(naive["outputs"]), len(engine["outputs"]))
    mismatched = [i for i in range(n) if naive["outputs"][i] != engine["outputs"][i]]
    ratio = None
    if naive.get("tokens_per_s") and engine.get("tokens_per_s"):
        ratio = round(engine["tokens_per_s"] / naive["tokens_per_s"], 2)
    return {
        "ratio": ratio,
        "wall_ratio": round(naive["seconds"] / engine["seconds"], 2)
        if engine["seconds"] > 0 and naive["items"] == engine["items"] else None,
        "same_work": naive["output_tokens"] == engine["output_tokens"]
        and naive["items"] == engine["items"],
        "compared": n,
        "identical": n - len(mismatched),
        "mismatched": mismatched[:50],
    }


def cpu_info() -> dict[str, Any]:
    """The CPU's name and the features that matter to torch (Linux ``/proc/cpuinfo``;
    elsewhere the platform's processor string and no features)."""
    name = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        text = Path("/proc/cpuinfo").read_text("utf-8", "replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and value.strip():
            name = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return {"cpu": name, "cpu_features": [f for f in CPU_FEATURES if f in flags]}


def machine_info(threads: int) -> dict[str, Any]:
    """What ran the benchmark (no torch import needed)."""
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            **cpu_info(), "cpu_count": os.cpu_count(), "threads": threads}
    from importlib.metadata import PackageNotFoundError, version

    for name in ("torch", "transformers", "tokenizers", "ctranslate2"):
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = None
    return info
