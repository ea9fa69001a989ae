"""The registry of backends (inference engines): each one's name, install hint, options,
check of the settings, and loader, in one place that imports none of them.

A new engine is one module (its backend classes and a ``load_backend`` function) and one
:class:`BackendSpec` here. The run asks :func:`engine` for the spec of ``--backend NAME``:
:meth:`BackendSpec.check` runs on the settings before any model loads (so a setting the
engine cannot honour is one usage error, exit 2), and :meth:`BackendSpec.loader` imports the
engine only when a model must load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from summarize.backends import GENERATION_KEYS, setting
from summarize.errors import ConfigError, UsageError

#: A check: ``(settings of one task, the engine's options) -> why they cannot be honoured``
#: (one line naming the setting), or None.
Check = Callable[[Mapping[str, Any], Mapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class BackendOption:
    """One setting an engine owns (``--quantization`` for ct2 ...).

    Attributes:
        name: The setting's name, as the config file and the flag spell it.
        default: Its default.
        help: One line for ``--help`` and the README.
        choices: The values it may take, when they are few.
        low: Smallest value, for a number.
        high: Largest value, for a number.
        fingerprint: It changes outputs (part of the resume key).
    """

    name: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    fingerprint: bool = False


@dataclass(frozen=True)
class BackendSpec:
    """One engine of the registry.

    Attributes:
        name: ``--backend`` value.
        summary: One line for ``--help``.
        module: Module holding ``load_backend`` (imported on first load only).
        package: The Python package the engine needs, for the install hint.
        extra: The ``summarize[...]`` extra that installs it, or None (always installed).
        options: The settings this engine owns.
        check: Refuses generation settings it cannot honour (torch-free).
    """

    name: str
    summary: str
    module: str
    package: str
    extra: str | None = None
    options: tuple[BackendOption, ...] = ()
    check: Check | None = None

    def check_settings(self, table: str, settings: Mapping[str, Any],
                       options: Mapping[str, Any]) -> None:
        """Refuse, before any model loads, what this engine cannot honour.

        Raises:
            ConfigError: One line: ``[table] setting ...: why``.
        """
        if self.check is None:
            return
        problem = self.check(settings, options)
        if problem:
            raise ConfigError(f"[{table}] {problem}")

    def loader(self) -> Callable[..., Any]:
        """The engine's ``load_backend`` (imports the engine: seconds for torch).

        Raises:
            UsageError: The engine's package is not installed (one line: how to install).
        """
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            install = (f"pip install 'summarize[{self.extra}]'" if self.extra
                       else f"pip install {self.package}")
            raise UsageError(
                f"--backend {self.name} needs {self.package}: {install} ({exc})") from None
        return module.load_backend


def _torch_check(settings: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
    """What transformers 5's ``generate`` no longer does without running a model's code."""
    if settings.get("num_beam_groups", 1) > 1 or settings.get("diversity_penalty", 0.0):
        key = "num_beam_groups" if settings.get("num_beam_groups", 1) > 1 else \
            "diversity_penalty"
        return (f"{key} (diverse beam search) is not supported: transformers 5 moved it to "
                "remote code; use num_beams alone")
    return None


def ct2_unsupported(settings: Mapping[str, Any], defaults: Any = None) -> str | None:
    """Why CTranslate2 cannot honour these generation settings, or None.

    The settings check (before any model loads) passes the user's settings alone; the ct2
    backend passes the model's generation config as ``defaults`` too: the same rule.
    """
    unknown = [k for k in settings if k not in GENERATION_KEYS and k != "forced_eos_token_id"]
    if unknown:
        return f"generation setting '{unknown[0]}' is not supported by --backend ct2"

    def get(key: str, fallback: Any) -> Any:
        return setting(settings, defaults, key, fallback)

    if settings.get("cache_implementation", "dynamic") != "dynamic":
        return (f"cache_implementation = {settings['cache_implementation']!r} is not "
                "supported by --backend ct2 (it manages its own cache)")
    if settings.get("forced_eos_token_id") is not None:
        return "generation setting 'forced_eos_token_id' is not supported by --backend ct2"
    if get("num_beam_groups", 1) > 1 or get("diversity_penalty", 0.0):
        key = "num_beam_groups" if get("num_beam_groups", 1) > 1 else "diversity_penalty"
        return (f"generation setting '{key}' (diverse beam search) is not supported by "
                "--backend ct2")
    if get("encoder_no_repeat_ngram_size", 0):
        return ("generation setting 'encoder_no_repeat_ngram_size' is not supported by "
                "--backend ct2")
    if get("do_sample", False) and int(get("num_beams", 1)) > 1:
        return ("generation setting 'do_sample' with num_beams > 1 (beam sampling) is not "
                "supported by --backend ct2")
    return None


def _ct2_check(settings: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
    return ct2_unsupported(settings)


#: CTranslate2 compute types (``auto``: int8 on CPU, int8_float16 on CUDA, bfloat16 for T5).
QUANTIZATIONS = ("auto", "int8", "int8_float16", "int8_bfloat16", "float16", "bfloat16",
                 "float32")
#: Most CPU threads an engine may be given: more than any machine this runs on has cores,
#: and below the point where a thread pool exhausts the process limit.
MAX_THREADS = 1024

TORCH = BackendSpec(
    name="torch", summary="transformers + torch on CPU, CUDA or MPS; seq2seq and chat models",
    module="summarize.backends.hf_torch", package="torch", check=_torch_check)
CT2 = BackendSpec(
    name="ct2", summary="CTranslate2; seq2seq models, int8 on CPU",
    module="summarize.backends.ct2", package="ctranslate2", extra="ct2", check=_ct2_check,
    options=(
        BackendOption("quantization", "auto", "CTranslate2 compute type: auto (int8 on CPU; "
                      "int8_float16, or bfloat16 for T5, on CUDA), int8, int8_float16, "
                      "int8_bfloat16, float16, bfloat16, float32.",
                     choices=QUANTIZATIONS, fingerprint=True),
        BackendOption("threads", 0, "CPU threads for the ct2 engine; 0 uses every core.",
                     low=0, high=MAX_THREADS),
    ))



def _vllm_check(settings: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
    from summarize.backends.vllm import vllm_unsupported  # torch-free at import

    return vllm_unsupported(settings)


VLLM = BackendSpec(
    name="vllm", summary="vLLM's offline engine on GPUs; chat models, whole windows at once",
    module="summarize.backends.vllm", package="vllm", extra="vllm", check=_vllm_check,
    options=(
        BackendOption("gpu_memory_utilization", 0.9, "Fraction of the GPU's memory the run's "
                      "vLLM models use (split between two models).", low=0.05, high=1.0),
        BackendOption("tensor_parallel_size", 1, "GPUs one vLLM model is split over.",
                      low=1, high=64),
        BackendOption("max_model_len", 0, "Longest prompt plus answer of a vLLM model, in "
                      "tokens; 0: the model's.", low=0, high=1_048_576),
        BackendOption("kv_cache_gb", 0.0, "vLLM KV cache in GB; 0: vLLM's (1 GB on CPU).",
                      low=0.0, high=4096.0),
    ))

AUTO = BackendSpec(
    name="auto", summary="the fastest installed for the run's models: ct2 (int8) on a CPU "
    "for seq2seq models when installed, else torch (summarize.run.engine_choice)",
    module="summarize.backends.hf_torch", package="torch", check=_torch_check,
    options=CT2.options)

#: Every backend, by ``--backend`` name (``auto`` is resolved to one of the others by
#: :func:`summarize.run.engine_choice.choose_backend` before anything loads).
BACKENDS: dict[str, BackendSpec] = {spec.name: spec for spec in (AUTO, TORCH, CT2, VLLM)}


def backend_spec(name: str) -> BackendSpec:
    """The registry entry of ``--backend name``.

    Raises:
        ConfigError: No such backend (the message lists them).
    """
    if name not in BACKENDS:
        raise ConfigError(f"setting 'backend' = {name!r}: expected one of: "
                          + ", ".join(BACKENDS))
    return BACKENDS[name]
