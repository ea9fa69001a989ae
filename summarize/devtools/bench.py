"""Measure the engine's throughput against a naive per-item generate loop, and its memory.

``summarize bench`` runs, one after another in one process tree on the same machine, the
loop the transformers documentation shows (one article or one sentence at a time:
tokenizer, ``model.generate``, decode) and the engine through the same objects
``summarize batch`` uses (:func:`summarize.run.pipeline.load_models`, then
``Summarizer.summarize_many`` / ``Translator.translate_many``). Both sides see the same
real texts, the same model files and the same generation settings, with every output
forced to the same length (``min_new_tokens == max_new_tokens``, greedy), so both do
exactly the same work and their outputs can be compared item by item. Each side runs in a
fresh subprocess so its peak resident memory is its own.

``--backend torch,ct2`` adds the CTranslate2 engine as a column (``--quantization``, int8
by default on CPU) on the same text and models, plus a float32 CTranslate2 run whose
outputs the quantized ones are compared with (their agreement).

The text is the NTREX-128 sample shipped in ``summarize/benchdata`` (CC BY-SA 4.0, see its
ATTRIBUTION), or ``--text FILE`` (one sentence per line; articles are blocks separated by
blank lines), or with ``--data DIR`` the shared development data (WMT19/NTREX sentences,
CNN/DailyMail articles). Without ``--summarizer``/``--translator`` the models are
random-weight models of the published sizes (opus-mt-en-* Marian, distilbart-cnn-12-6
BART; :mod:`summarize.devtools.tinymodels`) with tokenizers trained on that text, built once and
cached (``~/.cache/summarize-bench``).

Importing this module imports no torch, transformers or sentencepiece.

``--stage memory`` runs the real ``summarize batch`` command on 200 and on 2,000 article
files (tiny models) and compares the peak resident memory each run records.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from summarize.devtools.bench_command import (  # noqa: F401  (the command's defaults)
    DEFAULT_ARTICLES,
    DEFAULT_SENTENCES,
    DEFAULT_TARGET,
    bench,
)

STAGES = ("translate", "summarize")
DEFAULT_NEW_TOKENS = {"translate": 24, "summarize": 48}

MEMORY_COUNTS = (200, 2000)
MEMORY_LIMIT = 1.3  # peak RSS of the large run over the small one, at most
BUILD_VERSION = 3  # bump when the random models' recipe changes: cached copies are rebuilt

CNNDM_ARTICLES = "cnndm_frank_250/articles"
NTREX_SENTENCES = "ntrex128_news/sentences/newstest2019-src.eng.txt"
NTREX_GERMAN = "ntrex128_news/sentences/newstest2019-ref.deu.txt"
#: The shipped sample: NTREX-128 English documents, one sentence per line, blank-line blocks.
SAMPLE_TEXT = Path(__file__).resolve().parent / "benchdata" / "ntrex_en.txt"
BACKENDS = ("torch", "ct2")


# --- data -----------------------------------------------------------------------------------


def _blocks(path: Path) -> list[list[str]]:
    """A text file as blocks of non-empty lines (blocks are separated by blank lines)."""
    blocks: list[list[str]] = [[]]
    for line in path.read_text("utf-8").splitlines():
        line = " ".join(line.split())
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def load_articles(n: int, data_dir: Path | None = None, text: Path | None = None
                  ) -> list[str]:
    """``n`` articles: blocks of ``text``, else CNN/DailyMail from ``data_dir``, else the sample.

    Args:
        n: How many articles; fewer are returned when fewer exist.
        data_dir: The shared data folder (used only when given).
        text: A text file; each blank-line-separated block (or, with no blank line, each
            line) is one article.
    """
    if text is None and data_dir is not None and (data_dir / CNNDM_ARTICLES).is_dir():
        files = sorted(p for p in (data_dir / CNNDM_ARTICLES).glob("*.txt") if p.is_file())
        texts = [" ".join(p.read_text("utf-8").split()) for p in files]
        return [t for t in texts if t][:n]
    blocks = _blocks(text or SAMPLE_TEXT)
    if text is not None and len(blocks) == 1:
        blocks = [[line] for line in blocks[0]]
    return [" ".join(b) for b in blocks][:n]


def load_sentences(n: int, data_dir: Path | None = None, lang: str = "en",
                   text: Path | None = None) -> list[str]:
    """``n`` distinct news sentences, each one sentence to the engine's splitter.

    The lines of ``text``, else the WMT19 news test set (NTREX) of ``data_dir``, else the
    shipped sample, are read in order; a line that the engine's sentence splitter would cut
    into several sentences is left out, so that every side translates exactly the same
    segments.
    """
    from summarize.text import segment_text

    if text is None and data_dir is not None and (data_dir / NTREX_SENTENCES).is_file():
        lines = (data_dir / NTREX_SENTENCES).read_text("utf-8").splitlines()
    else:
        lines = [line for block in _blocks(text or SAMPLE_TEXT) for line in block]
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        line = " ".join(line.split())
        if not line or line in seen:
            continue
        segments = segment_text(line, lang)
        if len(segments) != 1 or segments[0] != [line]:
            continue
        seen.add(line)
        out.append(line)
        if len(out) >= n:
            break
    return out


def _corpus(data_dir: Path | None) -> list[str]:
    """English news text for training tokenizers (shared data when given, else the sample)."""
    if data_dir is None:
        return [line for block in _blocks(SAMPLE_TEXT) for line in block]
    texts = load_articles(10_000, data_dir)
    for path in sorted((data_dir / "bbc_news_summary_100" / "article").glob("*/*.txt")):
        texts.append(path.read_text("utf-8", "replace"))
    path = data_dir / NTREX_SENTENCES
    if path.is_file():
        texts.extend(path.read_text("utf-8").splitlines())
    return [line for text in texts for line in text.splitlines() if line.strip()]


def _target_corpus(data_dir: Path | None) -> list[str]:
    path = data_dir / NTREX_GERMAN if data_dir else None
    if path is not None and path.is_file():
        return [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    return _corpus(data_dir)


# --- random-weight models of the published sizes (summarize.devtools.tinymodels) -----------


def default_work_dir() -> Path:
    """Where built models are cached: ``$SUMMARIZE_BENCH_DIR`` or ``~/.cache/summarize-bench``."""
    env = os.environ.get("SUMMARIZE_BENCH_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "summarize-bench"


def ensure_model(kind: str, size: str = "base", work_dir: Path | None = None,
                 data_dir: Path | None = None) -> Path:
    """The cached random model ``kind`` (marian, bart) of ``size``, built on first use.

    Tokenizers are trained on the shared data when ``data_dir`` is given, else on the
    shipped sample; the two are cached apart.
    """
    from summarize.devtools import tinymodels

    work_dir = work_dir or default_work_dir()
    name = "opus-mt-en-de" if kind == "marian" else "distilbart-cnn-12-6"
    corpus_key = "data" if data_dir is not None else "sample"
    path = work_dir / f"random-{size}-v{BUILD_VERSION}-{corpus_key}" / name
    marker = path / ".complete"
    if marker.is_file():
        return path
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    # the folder name matters: the translator's target language is read from it
    staging = tmp / name
    if kind == "marian":
        tinymodels.build_sized_marian(staging, _corpus(data_dir), size,
                                      target_corpus=_target_corpus(data_dir))
    else:
        tinymodels.build_sized_bart(staging, _corpus(data_dir), size)
    (staging / ".complete").write_text(json.dumps({"kind": kind, "size": size}), "utf-8")
    if path.exists():
        shutil.rmtree(path)
    staging.rename(path)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


# --- the two sides --------------------------------------------------------------------------


@contextmanager
def _rss_sampler(every_s: float = 0.01) -> Iterator[dict[str, float]]:
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


def _generation_settings(new_tokens: int) -> dict[str, Any]:
    """Greedy, every output exactly ``new_tokens`` long (EOS is held back until then).

    No forced EOS either: it would fight the minimum on the last step (the engine turns it
    off anyway, so that an output never depends on its batch-mates' limits).
    """
    return {"num_beams": 1, "do_sample": False, "min_new_tokens": new_tokens,
            "max_new_tokens": new_tokens}


def _warm(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings for a two-token warm-up call (no length constraint beyond it)."""
    return {**settings, "min_new_tokens": 2, "min_length": 0}


class _NaiveModel:
    """A model and tokenizer loaded the documented way, plus the engine's own settings.

    The tokenizer and model come straight from ``from_pretrained``; the engine's
    :class:`~summarize.tasks.summarize.Summarizer` / :class:`~summarize.tasks.translate.Translator`
    are built over them only to read the same generation settings, prefix and input
    windows. Inside the timed loop only tokenizer work of the engine runs (counting tokens,
    ``Summarizer.chunk`` for the partial summaries of long articles).
    """

    def __init__(self, model_dir: str, device: str, dtype: str, threads: int):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from summarize.backends import Prompt
        from summarize.backends.hf_torch import Seq2SeqTorch, select_device, select_dtype

        hf_logging.set_verbosity_error()
        torch.set_num_threads(threads)
        self.torch = torch
        self.device = select_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        config_dtype = select_dtype(dtype, self.device, _model_type(model_dir))
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=config_dtype)
        self.model.to(self.device).eval()
        self.backend = Seq2SeqTorch(model_dir, self.tokenizer, self.model, path=model_dir,
                                    revision=None, license=None,
                                    prompts={"summarize": Prompt(), "translate": Prompt()})

    def use_plan(self, plan: Any) -> dict[str, Any]:
        """Set the plan's source language on the tokenizer (as the docs do); returns the
        ``generate`` arguments of its target (``forced_bos_token_id``)."""
        if plan.src_lang is not None and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = plan.src_lang
        if plan.forced_bos_token_id is None:
            return {}
        return {"forced_bos_token_id": plan.forced_bos_token_id}

    def generate_one(self, request: Any, kwargs: dict[str, Any], limit: int
                     ) -> tuple[str, int]:
        """One request through tokenizer -> generate -> decode; returns (text, output
        tokens). The input ids are the engine's own for the request (its prefix, language
        tag and special tokens), so both sides read the same tokens."""
        from summarize.backends.hf_common import cut_outputs, end_ids

        [ids], _ = self.backend._ids([request])
        inputs = self.torch.tensor([ids], device=self.device)
        out = self.model.generate(input_ids=inputs, attention_mask=self.torch.ones_like(inputs),
                                  **kwargs, max_new_tokens=limit)
        # counted as the engine counts its outputs (same cut, padding excluded)
        config = self.model.generation_config
        [tokens], _, n_out = cut_outputs([out[0].tolist()], [limit], end_ids(config),
                                         config.pad_token_id)
        decoded = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return decoded.strip(), n_out

    def sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


def _model_type(model_dir: str) -> str:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir).model_type


def _cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(work: Callable[[], dict[str, Any]], repeat: int,
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


def _side_result(side: str, timed: dict[str, Any], n_items: int, **extra: Any
                 ) -> dict[str, Any]:
    seconds, out_tokens = timed["seconds"], timed["output_tokens"]
    return {
        "side": side, "items": n_items, "seconds": round(seconds, 6),
        "output_tokens": out_tokens, "input_tokens": timed["input_tokens"],
        "tokens_per_s": round(out_tokens / seconds, 1) if seconds > 0 else None,
        "items_per_s": round(n_items / seconds, 3) if seconds > 0 else None,
        "generate_calls": timed["calls"], "cpu_s": timed["cpu_s"], "runs_s": timed["runs_s"],
        "load_avg": timed["load_avg"], "outputs": timed["outputs"], **extra,
    }


def naive_translate(model_dir: str, sentences: Sequence[str], *, new_tokens: int,
                    target: str = DEFAULT_TARGET, device: str = "cpu", dtype: str = "auto",
                    threads: int = 2, repeat: int = 1) -> dict[str, Any]:
    """Translate sentence by sentence, batch size 1, as the transformers docs show it.

    A sentence longer than the model's input is cut where the engine's
    ``Translator._fit`` cuts it and the pieces' translations are joined the engine's way,
    so that both sides translate exactly the same segments.

    Returns:
        The side's result: seconds of the loop, output and input tokens, outputs.
    """
    from summarize.tasks.batching import TokenBudget
    from summarize.tasks.translate import Translator
    from summarize.text import join_sentences

    nm = _NaiveModel(model_dir, device, dtype, threads)
    task = Translator(nm.backend, target, _generation_settings(new_tokens), TokenBudget(1),
                      source_lang="en")
    plan = nm.backend.plan("en", target)
    kwargs = {**task.settings, "forced_eos_token_id": None}
    kwargs.update(nm.use_plan(plan))
    segments = [[task.request(piece, "en") for piece in task._fit(s, "en")] for s in sentences]
    nm.generate_one(segments[0][0], _warm(kwargs), 2)  # warm-up, as the engine side gets
    nm.sync()

    def work() -> dict[str, Any]:
        outputs: list[str] = []
        n_out = n_in = calls = 0
        for pieces in segments:
            translated = []
            for text in pieces:
                n = nm.backend.count_tokens([text])[0]
                decoded, tokens = nm.generate_one(text, kwargs, task._limit(n, "en"))
                translated.append(decoded)
                n_in += n
                n_out += tokens
                calls += 1
            outputs.append(join_sentences(translated, task.target))
        return {"outputs": outputs, "output_tokens": n_out, "input_tokens": n_in,
                "calls": calls}

    return _side_result("naive", _timed(work, repeat, nm.sync), len(sentences))


def naive_summarize(model_dir: str, articles: Sequence[str], *, new_tokens: int,
                    device: str = "cpu", dtype: str = "auto", threads: int = 2,
                    repeat: int = 1) -> dict[str, Any]:
    """Summarize article by article, batch size 1, over the engine's own windows.

    An article longer than the model's input is cut into the windows the engine's
    ``Summarizer.chunk`` makes; each window is summarized alone and the joined partial
    summaries are summarized again, as the engine does, so both sides do the same work.
    """
    from summarize.tasks.batching import TokenBudget
    from summarize.tasks.summarize import Summarizer

    nm = _NaiveModel(model_dir, device, dtype, threads)
    task = Summarizer(nm.backend, _generation_settings(new_tokens), TokenBudget(1))
    kwargs = {**task.settings, "forced_eos_token_id": None}
    nm.generate_one(task.request(articles[0][:200]), _warm(kwargs), 2)  # warm-up
    nm.sync()

    def work() -> dict[str, Any]:
        outputs: list[str] = []
        n_out = n_in = calls = windows = 0
        for article in articles:
            pieces = task.chunk(article)
            windows += len(pieces)
            while True:
                parts = []
                for piece in pieces:
                    text = task.request(piece)
                    n_in += nm.backend.count_tokens([text])[0]
                    decoded, tokens = nm.generate_one(text, kwargs, task.max_new)
                    parts.append(decoded)
                    n_out += tokens
                    calls += 1
                if len(parts) == 1:
                    outputs.append(parts[0])
                    break
                pieces = task.chunk(" ".join(p for p in parts if p))
        return {"outputs": outputs, "output_tokens": n_out, "input_tokens": n_in,
                "calls": calls, "windows": windows}

    timed = _timed(work, repeat, nm.sync)
    return _side_result("naive", timed, len(articles), windows=timed["windows"])


def _engine_config(role: str, model_dir: str, new_tokens: int, target: str, device: str,
                   dtype: str, batch_tokens: int | None, backend: str, quantization: str,
                   threads: int, models_dir: str | None = None) -> Any:
    from summarize.settings import RoleConfig, RunConfig, validate_config

    settings = _generation_settings(new_tokens)
    options = {"quantization": quantization, "threads": threads} if backend == "ct2" else {}
    common = {"device": device, "dtype": dtype, "batch_tokens": batch_tokens,
              "backend": backend, "backend_options": options,
              "models_dir": models_dir or "models"}
    # inputs are never read: load_models only needs the models' part of the config
    if role == "summarizer":
        config = RunConfig(inputs=("-",), translate="none",
                           summarizer=RoleConfig(model=model_dir, settings=settings), **common)
    else:
        config = RunConfig(inputs=("-",), summarize=False, translate="article",
                           targets=(target,),
                           translator=RoleConfig(model=model_dir, settings=settings), **common)
    return validate_config(config)


def _syncer(device: str | None) -> Callable[[], None]:
    if device and device.startswith("cuda") and "torch" in sys.modules:
        import torch

        return torch.cuda.synchronize
    return lambda: None


def _engine_info(models: Any, task: Any) -> dict[str, Any]:
    info = models.infos[0]
    return {"batch_tokens": task.budget.tokens, "device": models.device,
            "device_name": models.device_name, "dtype": models.dtype,
            "engine": models.engine, "tuning": dict(info.tuning or {})
            if hasattr(info, "tuning") else {}}


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def engine_translate(model_dir: str, sentences: Sequence[str], *, new_tokens: int,
                     target: str = DEFAULT_TARGET, device: str = "cpu", dtype: str = "auto",
                     threads: int = 2, batch_tokens: int | None = None, repeat: int = 1,
                     backend: str = "torch", quantization: str = "auto",
                     models_dir: str | None = None) -> dict[str, Any]:
    """Translate the sentences with the engine (``load_models`` + ``translate_many``)."""
    from summarize.run.models import load_models
    from summarize.tasks.batching import BatchStats

    _set_threads(threads)
    models = load_models(_engine_config("translator", model_dir, new_tokens, target, device,
                                        dtype, batch_tokens, backend, quantization, threads,
                                        models_dir))
    task = next(iter(models.translators.values()))
    task.backend.generate([task.request(sentences[0], "en")], _warm(task.settings),
                          [2])  # warm-up
    sync = _syncer(models.device)
    sync()

    def work() -> dict[str, Any]:
        stats = BatchStats()
        results = task.translate_many(list(sentences), stats)
        return {"outputs": [r.text for r in results], "output_tokens": stats.output_tokens,
                "input_tokens": stats.input_tokens, "calls": stats.n_batches,
                "batch_sizes": stats.batch_sizes}

    timed = _timed(work, repeat, sync)
    result = _side_result(backend, timed, len(sentences), batch_sizes=timed["batch_sizes"],
                          **_engine_info(models, task))
    models.close()
    return result


def engine_summarize(model_dir: str, articles: Sequence[str], *, new_tokens: int,
                     device: str = "cpu", dtype: str = "auto", threads: int = 2,
                     batch_tokens: int | None = None, repeat: int = 1,
                     backend: str = "torch", quantization: str = "auto",
                     models_dir: str | None = None) -> dict[str, Any]:
    """Summarize the articles with the engine (``load_models`` + ``summarize_many``)."""
    from summarize.run.models import load_models
    from summarize.tasks.batching import BatchStats

    _set_threads(threads)
    models = load_models(_engine_config("summarizer", model_dir, new_tokens, DEFAULT_TARGET,
                                        device, dtype, batch_tokens, backend, quantization,
                                        threads, models_dir))
    task = models.summarizer
    task.backend.generate([task.request(articles[0][:200])], _warm(task.settings), [2])
    sync = _syncer(models.device)
    sync()

    def work() -> dict[str, Any]:
        stats = BatchStats()
        results = task.summarize_many(list(articles), stats)
        return {"outputs": [r.text for r in results], "output_tokens": stats.output_tokens,
                "input_tokens": stats.input_tokens, "calls": stats.n_batches,
                "batch_sizes": stats.batch_sizes, "windows": sum(r.chunks for r in results)}

    timed = _timed(work, repeat, sync)
    result = _side_result(backend, timed, len(articles), windows=timed["windows"],
                          batch_sizes=timed["batch_sizes"], **_engine_info(models, task))
    models.close()
    return result


SIDES: dict[str, Callable[..., dict[str, Any]]] = {
    "naive:translate": naive_translate,
    "engine:translate": engine_translate,
    "naive:summarize": naive_summarize,
    "engine:summarize": engine_summarize,
}


def run_side(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side in this process; adds ``peak_rss_mb`` (sampled from the side's start)."""
    fn = SIDES[f"{spec['side']}:{spec['stage']}"]
    with _rss_sampler() as rss:
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
    fn = SIDES[f"{spec['side']}:{spec['stage']}"]
    result = fn(spec["model"], spec["items"], **spec["kwargs"])
    from summarize.run.stats import peak_rss_mb

    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["rss_method"] = "ru_maxrss"
    _add_gpu_peak(result)
    Path(args[1]).write_text(json.dumps(result), "utf-8")


def run_side_subprocess(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one side in a fresh Python process so that its peak RSS is its own."""
    with tempfile.TemporaryDirectory(prefix="summarize-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec), "utf-8")
        env = dict(os.environ)
        if _is_local(spec["model"]):
            env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env["OMP_NUM_THREADS"] = str(threads)
        env["MKL_NUM_THREADS"] = str(threads)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        code = ("import sys; from summarize.devtools.bench import worker_main; "
                "worker_main(sys.argv[1:])")
        proc = subprocess.run([sys.executable, "-c", code, str(spec_path), str(out_path)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"{spec['side']} {spec['stage']} failed "
                               f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        return json.loads(out_path.read_text("utf-8"))


def _is_local(model: str) -> bool:
    return Path(model).expanduser().is_dir()


# --- stages ---------------------------------------------------------------------------------


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


def _parse_backends(backends: str | Sequence[str]) -> tuple[str, ...]:
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
        model_dir: Model folder or hub id used by every side.
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
    engines = _parse_backends(backends)
    # CTranslate2 conversions of a model folder go to the bench's cache, not ./models/.ct2
    store = str(default_work_dir() / "models") if _is_local(model_dir) else None
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


def write_memory_inputs(folder: Path, n: int, data_dir: Path | None = None,
                        text: Path | None = None) -> Path:
    """Write ``n`` distinct article files by cycling the real articles (each made unique)."""
    articles = load_articles(10_000, data_dir, text)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = articles[i % len(articles)]
        (folder / f"article-{i:05d}.txt").write_text(
            f"Report number {i} from the news desk. {body}\n", encoding="utf-8")
    return folder


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
            env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                       OMP_NUM_THREADS=str(threads))
            root = str(Path(__file__).resolve().parents[1])
            env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
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


def machine_info(threads: int) -> dict[str, Any]:
    """What ran the benchmark (no torch import needed)."""
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu": platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count(), "threads": threads}
    from importlib.metadata import PackageNotFoundError, version

    for name in ("torch", "transformers", "tokenizers", "ctranslate2"):
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = None
    return info


def run_bench(
    *,
    stage: str = "both",
    summarizer: str | None = None,
    translator: str | None = None,
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
    """Run the chosen stages and return the report (see :func:`format_report`).

    Args:
        stage: ``translate``, ``summarize``, ``both`` or ``memory``.
        summarizer: Summarization model folder or hub id (default: random distilbart size).
        translator: Translation model folder or hub id (default: random opus-mt size).
        target: Target language of the translation stage.
        sentences: Sentences for the translation stage.
        articles: Articles for the summarization stage.
        new_tokens: Output tokens per item (default: 24 translation, 48 summaries).
        threads: Torch CPU threads on every side.
        batch_tokens: The engine's token budget per batch (default: its device default).
        device: Device spec for both sides.
        dtype: Dtype spec for both sides.
        work_dir: Cache folder of built models (default: :func:`default_work_dir`).
        data_dir: Shared data folder (WMT19/NTREX sentences, CNN/DailyMail articles), used
            only when given; default text: the NTREX sample shipped with the package.
        text: A text file to use instead (one sentence per line; blank-line-separated
            blocks are articles).
        backends: Engines to compare with the naive loop: ``torch``, ``ct2`` or both.
        quantization: CTranslate2 compute type (``auto``: int8 on CPU).
        isolate: One subprocess per side.
        naive_sentences: Run the naive loop on only the first N sentences (slow devices).
        naive_articles: Run the naive loop on only the first N articles.
        repeat: Timed runs per side; the fastest counts.
        memory_counts: Article counts of the memory stage (small, large).
        group_size: ``--group-size`` of the memory stage's runs.
        size: Size of the built random models (``base`` or, for tests, ``tiny``).
        log: Progress messages.
    """
    if stage not in (*STAGES, "both", "memory"):
        raise ValueError(f"--stage {stage}: expected translate, summarize, both or memory")
    work_dir = Path(work_dir) if work_dir else default_work_dir()
    log = log or (lambda message: None)
    engines = _parse_backends(backends)
    if data_dir is not None:
        data_dir = Path(data_dir)
        if not (data_dir / CNNDM_ARTICLES).is_dir() and not (data_dir / NTREX_SENTENCES).is_file():
            raise ValueError(f"--data {data_dir}: neither {CNNDM_ARTICLES} nor "
                             f"{NTREX_SENTENCES} is there")
    text_source = str(text) if text else f"--data {data_dir}" if data_dir else "sample"
    report: dict[str, Any] = {"machine": machine_info(threads), "device": device,
                              "dtype": dtype, "backends": list(engines),
                              "quantization": quantization, "text": text_source,
                              "stages": {}}
    if stage == "memory":
        report["stages"]["memory"] = run_memory(
            work_dir, counts=memory_counts, data_dir=data_dir, text=text,
            group_size=group_size, threads=threads, log=log)
        return report
    for name in STAGES if stage == "both" else (stage,):
        n_new = new_tokens or DEFAULT_NEW_TOKENS[name]
        if name == "translate":
            model = translator or str(ensure_model("marian", size, work_dir, data_dir))
            items = load_sentences(sentences, data_dir, text=text)
            naive_items = naive_sentences
        else:
            model = summarizer or str(ensure_model("bart", size, work_dir, data_dir))
            items = load_articles(articles, data_dir, text)
            naive_items = naive_articles
        log(f"{name}: {len(items)} items, {n_new} new tokens each, model {model}")
        report["stages"][name] = run_stage(
            name, model, items, new_tokens=n_new, threads=threads, device=device, dtype=dtype,
            batch_tokens=batch_tokens, target=target, isolate=isolate, naive_items=naive_items,
            repeat=repeat, backends=engines, quantization=quantization)
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as a few plain-text tables."""
    lines = []
    for name, st in report["stages"].items():
        if name == "memory":
            lines.append(f"memory  (summarize batch, models {Path(st['summarizer']).name} + "
                         f"{Path(st['translator']).name})")
            lines.append(f"  {'articles':>8}  {'peak RSS MB':>11}  {'wall s':>8}  "
                         f"{'articles/s':>10}")
            for run in st["runs"]:
                aps = run.get("articles_per_s")
                lines.append(f"  {run['articles']:>8}  {run['peak_rss_mb']:>11.1f}  "
                             f"{run['wall_s']:>8.1f}  {aps if aps is not None else '':>10}")
            verdict = "ok" if st["ok"] else "OVER"
            lines.append(f"  ratio {st['runs'][-1]['articles']}/{st['runs'][0]['articles']}: "
                         f"{st['ratio']:.3f} (limit {st['limit']}: {verdict})")
            lines.append("")
            continue
        unit = "sentences" if name == "translate" else "articles"
        engine = st["engine"]
        lines.append(f"{name}  ({st['items']} {unit}, {st['new_tokens']} new tokens each; "
                     f"{Path(st['model']).name}; {engine.get('device', '?')}, "
                     f"{report['machine']['threads']} threads)")
        lines.append(f"  {'side':<12} {'dtype':<9} {'seconds':>9} {'out tokens':>10} "
                     f"{'tok/s':>9} {f'{unit}/s':>12} {'x naive':>8} {'peak RSS MB':>11} "
                     f"{'CPU s':>8} {'= naive':>8}")
        for side in ("naive", *[k for k in ("torch", "ct2", "ct2_float32") if k in st]):
            r = st[side]
            ratio = st["ratios"].get(side) if side != "naive" else 1.0
            same = st["identical_to_naive"].get(side) if side != "naive" else None
            same_s = f"{same['identical']}/{same['compared']}" if same else ""
            dtype_s = r.get("dtype") or ("float32" if side == "naive" else "")
            lines.append(f"  {side:<12} {dtype_s:<9} {r['seconds']:>9.2f} "
                         f"{r['output_tokens']:>10} {r['tokens_per_s'] or 0:>9.1f} "
                         f"{r['items_per_s'] or 0:>12.3f} {ratio or 0:>7.2f}x "
                         f"{r['peak_rss_mb']:>11.1f} {r['cpu_s']:>8.1f} {same_s:>8}")
        if st["naive"]["items"] < st["engine"]["items"]:
            work = f"naive loop on the first {st['naive']['items']} {unit} only"
        else:
            work = f"same work: {'yes' if st['same_work'] else 'NO'}"
        lines.append(f"  ratio engine/naive (tok/s): {st['ratio']}x;  {work};  identical "
                     f"outputs: {st['identical']}/{st['compared']}")
        if "ct2_over_torch" in st:
            lines.append(f"  ratio ct2/torch engine (tok/s): {st['ct2_over_torch']}x")
        if "ct2_agreement" in st:
            ag = st["ct2_agreement"]
            lines.append(f"  ct2 {st['ct2'].get('dtype')} outputs identical to ct2 float32: "
                         f"{ag['identical']}/{ag['compared']} ({100 * (ag['share'] or 0):.1f}%)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """``python -m summarize.devtools.bench``: the bench command on its own."""
    typer.run(bench)


if __name__ == "__main__":
    main()
