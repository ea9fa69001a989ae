"""The engine side: the objects ``summarize batch`` uses, timed on the same items.

:func:`summarize.run.models.load_models` loads the model as a run does (its engine, device,
dtype, CPU tuning and token budget), then ``Translator.translate_many`` /
``Summarizer.summarize_many`` run the items: pooled, sorted, packed by token budget, each
output cut to its own limit. The same path serves seq2seq and chat models, and the torch and
CTranslate2 engines.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from summarize.devtools.bench.harness import (
    generation_settings,
    side_result,
    timed,
    warm_settings,
)
from summarize.devtools.bench_command import DEFAULT_TARGET


def engine_config(role: str, model_dir: str, new_tokens: int, target: str, device: str,
                  dtype: str, batch_tokens: int | None, backend: str, quantization: str,
                  threads: int, models_dir: str | None = None) -> Any:
    """The validated RunConfig that loads ``model_dir`` as the ``role`` of a run, every
    output forced to ``new_tokens`` (greedy)."""
    from summarize.settings import RoleConfig, RunConfig, validate_config

    settings = generation_settings(new_tokens)
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


def syncer(device: str | None) -> Callable[[], None]:
    """A function that waits for the device (CUDA), else does nothing."""
    if device and device.startswith("cuda") and "torch" in sys.modules:
        import torch

        return torch.cuda.synchronize
    return lambda: None


def set_threads(threads: int) -> None:
    """Torch's CPU threads (the engine's CPU tuning may set them again from the config)."""
    import torch

    torch.set_num_threads(threads)


def _engine_info(models: Any, task: Any) -> dict[str, Any]:
    info = models.infos[0]
    return {"batch_tokens": task.budget.tokens, "device": models.device,
            "device_name": models.device_name, "dtype": models.dtype,
            "engine": models.engine, "family": getattr(info, "family", None),
            "tuning": dict(info.tuning or {}) if hasattr(info, "tuning") else {}}


def engine_translate(model_dir: str, sentences: Sequence[str], *, new_tokens: int,
                     target: str = DEFAULT_TARGET, device: str = "cpu", dtype: str = "auto",
                     threads: int = 2, batch_tokens: int | None = None, repeat: int = 1,
                     backend: str = "torch", quantization: str = "auto",
                     models_dir: str | None = None) -> dict[str, Any]:
    """Translate the sentences with the engine (``load_models`` + ``translate_many``)."""
    from summarize.run.models import load_models
    from summarize.tasks.batching import BatchStats

    set_threads(threads)
    models = load_models(engine_config("translator", model_dir, new_tokens, target, device,
                                       dtype, batch_tokens, backend, quantization, threads,
                                       models_dir))
    task = next(iter(models.translators.values()))
    task.backend.generate([task.request(sentences[0], "en")], warm_settings(task.settings),
                          [2])  # warm-up
    sync = syncer(models.device)
    sync()

    def work() -> dict[str, Any]:
        stats = BatchStats()
        results = task.translate_many(list(sentences), stats)
        return {"outputs": [r.text for r in results], "output_tokens": stats.output_tokens,
                "input_tokens": stats.input_tokens, "calls": stats.n_batches,
                "batch_sizes": stats.batch_sizes}

    result = timed(work, repeat, sync)
    out = side_result(backend, result, len(sentences), batch_sizes=result["batch_sizes"],
                      **_engine_info(models, task))
    models.close()
    return out


def engine_summarize(model_dir: str, articles: Sequence[str], *, new_tokens: int,
                     device: str = "cpu", dtype: str = "auto", threads: int = 2,
                     batch_tokens: int | None = None, repeat: int = 1,
                     backend: str = "torch", quantization: str = "auto",
                     models_dir: str | None = None) -> dict[str, Any]:
    """Summarize the articles with the engine (``load_models`` + ``summarize_many``)."""
    from summarize.run.models import load_models
    from summarize.tasks.batching import BatchStats

    set_threads(threads)
    models = load_models(engine_config("summarizer", model_dir, new_tokens, DEFAULT_TARGET,
                                       device, dtype, batch_tokens, backend, quantization,
                                       threads, models_dir))
    task = models.summarizer
    task.backend.generate([task.request(articles[0][:200])], warm_settings(task.settings),
                          [2])  # warm-up
    sync = syncer(models.device)
    sync()

    def work() -> dict[str, Any]:
        stats = BatchStats()
        results = task.summarize_many(list(articles), stats)
        return {"outputs": [r.text for r in results], "output_tokens": stats.output_tokens,
                "input_tokens": stats.input_tokens, "calls": stats.n_batches,
                "batch_sizes": stats.batch_sizes, "windows": sum(r.chunks for r in results)}

    result = timed(work, repeat, sync)
    out = side_result(backend, result, len(articles), windows=result["windows"],
                      batch_sizes=result["batch_sizes"], **_engine_info(models, task))
    models.close()
    return out
