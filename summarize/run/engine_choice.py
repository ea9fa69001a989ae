"""``--backend auto`` (the default): the fastest engine installed for the run's models on this
machine, chosen before any model loads, with the reason recorded in stats.json.

The rule (each figure measured by ``summarize bench`` on this project's CPUs; see the README's
CPU table):

* On a CPU, CTranslate2 when it is installed (``pip install 'summarize[ct2]'``), every model
  of the run is a seq2seq family it converts (BART, PEGASUS, T5, Marian, NLLB/M2M100,
  mBART) and every generation setting is one it honours: its int8 engine is 2-7x the torch
  engine on these CPUs.
* Else torch: on GPUs (``--backend vllm`` is the chat models' GPU engine, asked for by name),
  for chat models (CTranslate2 here runs seq2seq models only), and wherever CTranslate2 is
  missing or would refuse a setting.

``--backend torch`` (or ``ct2``, ``vllm``) turns the choice off. Nothing here imports torch
or an engine: a model's family is read from its ``config.json`` (local, the Hub's cache, or
the default models' known families).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from summarize.backends.catalog import (
    DEFAULT_SUMMARIZER,
    MULTILINGUAL_FALLBACK,
    PAIR_TRANSLATORS,
    gpu_present,
    local_model_dir,
)
from summarize.settings import TASK_KEYS, RunConfig

#: Model families (``model_type``) the CTranslate2 engine converts and runs.
CT2_FAMILIES = frozenset({"bart", "mbart", "marian", "pegasus", "t5", "mt5", "m2m_100"})
#: The default models' families, known without reading their files.
KNOWN_FAMILIES = {
    DEFAULT_SUMMARIZER: "bart",
    MULTILINGUAL_FALLBACK: "m2m_100",
    **dict.fromkeys(PAIR_TRANSLATORS.values(), "marian"),
}


def choose_backend(config: RunConfig) -> RunConfig:
    """``config`` with ``backend`` resolved when it is ``auto`` (else unchanged), and
    ``backend_choice`` saying why, for the console and stats.json."""
    if config.backend != "auto":
        return config if config.backend_choice else replace(
            config, backend_choice=f"--backend {config.backend} (asked for)")
    backend, why = _choose(config)
    options = dict(config.backend_options)
    if backend != "ct2":  # the ct2 options auto accepts mean nothing to torch
        options = {}
    return replace(config, backend=backend, backend_options=options,
                   backend_choice=f"{backend}: {why}")


def _choose(config: RunConfig) -> tuple[str, str]:
    if config.device != "cpu" and (config.device != "auto" or gpu_present()):
        return "torch", (f"device {config.device}" if config.device != "auto" else
                         "a GPU is present") + " (--backend vllm runs chat models there)"
    if config.device == "auto" and _mps():
        return "torch", "Apple GPU (MPS) present"
    if importlib.util.find_spec("ctranslate2") is None:
        return "torch", ("CTranslate2 is not installed (pip install 'summarize[ct2]' makes "
                         "it the CPU engine)")
    from summarize.backends.registry import ct2_unsupported
    from summarize.run.models import preset_targets, summarizer_name, translator_for

    models: dict[str, str] = {}
    if config.summarize:
        models[summarizer_name(config)] = "summarizer"
    if config.translate != "none":
        for lang in preset_targets(config):
            models.setdefault(translator_for(config, lang), "translator")
    for model, role in models.items():
        family = model_family(model, Path(config.models_dir))
        if family is None:
            return "torch", f"the {role} {model}'s family is not known before it downloads"
        if family not in CT2_FAMILIES:
            return "torch", (f"the {role} {model} is a {family} model (CTranslate2 runs "
                             "the seq2seq families here)")
    for role in (config.summarizer_role, config.translator_role):
        problem = ct2_unsupported({k: v for k, v in role.settings.items()
                                   if k not in TASK_KEYS})
        if problem:
            return "torch", problem.replace(" by --backend ct2", " by CTranslate2")
    quantization = config.backend_options.get("quantization", "auto")
    kind = "int8" if quantization == "auto" else quantization
    return "ct2", f"a CPU with CTranslate2 installed and seq2seq models ({kind})"


def _mps() -> bool:
    import platform

    return platform.system() == "Darwin" and platform.machine() == "arm64"


def model_family(model: str, models_dir: Path) -> str | None:
    """A model's ``model_type`` from its ``config.json`` (a folder, the models folder, the
    Hub's cache) or the default models' known families; None when it is not at hand."""
    folder = local_model_dir(model, models_dir)
    path: Any = folder / "config.json" if folder is not None else None
    if path is None:
        if model in KNOWN_FAMILIES:
            return KNOWN_FAMILIES[model]
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "config.json")
        except Exception:  # not a hub id, or no cache
            cached = None
        path = Path(cached) if isinstance(cached, str) else None
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    family = data.get("model_type") if isinstance(data, dict) else None
    return str(family) if family else None


__all__ = ["CT2_FAMILIES", "KNOWN_FAMILIES", "choose_backend", "model_family"]
