"""Check every setting before anything is read or any model loads.

A bad value is one :class:`~summarize.errors.ConfigError` line naming the setting the way
the user wrote it (``to``, ``from``, ``[summarizer] num_beams``), the value and what is
allowed (exit 2). Numbers are finite (NaN and infinity are refused) and bounded: a count
far beyond any real use (``num_beams = 100000``, ``--threads 20000``) is refused rather
than left to exhaust the machine. The backend's own check refuses generation settings it
cannot honour.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from summarize.backends import GENERATION_CHOICES, GENERATION_KEYS
from summarize.backends.registry import backend_spec
from summarize.errors import ConfigError, UnsupportedLanguageError, UsageError
from summarize.languages import normalize_lang
from summarize.settings.config import RayConfig, RoleConfig, RunConfig
from summarize.settings.table import Setting, all_settings
from summarize.tasks.prompts import check_prompt, read_template

#: Settings of a ``[summarizer]``/``[translator]`` table that are not generation settings:
#: the task's input cap and how it is asked (see :mod:`summarize.tasks.prompts`).
TASK_KEYS: dict[str, type | tuple[type, ...]] = {
    "max_input_tokens": int, "prefix": str, "system": str, "prompt": str, "sentences": int,
    "chat_template": str}
#: Bounds of the table settings: (lowest allowed, highest allowed or None).
RANGES: dict[str, tuple[float, float | None]] = {
    "num_beams": (1, 64), "min_new_tokens": (0, 65_536), "max_new_tokens": (1, 65_536),
    "min_length": (0, 65_536), "max_length": (1, 65_536), "no_repeat_ngram_size": (0, 64),
    "encoder_no_repeat_ngram_size": (0, 64), "num_beam_groups": (1, 64),
    "diversity_penalty": (0, 100), "temperature": (1e-6, 100), "top_k": (0, 1_000_000),
    "top_p": (1e-6, 1), "repetition_penalty": (1e-6, 100), "length_penalty": (-100, 100),
    "max_input_tokens": (8, 1_048_576), "sentences": (1, 100),
}
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_PAIR = re.compile(r"^(?:(?P<src>[A-Za-z0-9_-]+?)-(?=[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?$))?"
                   r"(?P<tgt>[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)$")


def _bad(setting: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"setting '{setting}' = {value!r}: expected {expected}")


def _num(value: float) -> str:
    """A bound as a person writes it: ``10000000``, ``0.5``, ``1e-06``."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def get(config: Any, attr: str) -> Any:
    """The value at a dotted path of a config (``ray.replicas``, ``backend_options.x``)."""
    value = config
    for part in attr.split("."):
        value = value.get(part) if isinstance(value, Mapping) else getattr(value, part)
    return value


def check_value(s: Setting, value: Any, name: str | None = None) -> Any:
    """One setting's value, checked against its row of the table (returns it normalized).

    Raises:
        ConfigError: Wrong type, out of bounds, not finite or not one of the choices.
    """
    name = name or s.key
    if value is None and s.optional:
        return None
    if s.kind == "bool":
        if not isinstance(value, bool):
            raise _bad(name, value, "true or false")
        return value
    if s.kind == "choice":
        if value not in s.choices:
            raise _bad(name, value, "one of: " + ", ".join(s.choices))
        return value
    if s.kind in ("int", "float"):
        ok = _is_int(value) if s.kind == "int" else _is_number(value)
        if not ok or (s.low is not None and value < s.low) or \
                (s.high is not None and value > s.high):
            what = "an integer" if s.kind == "int" else "a finite number"
            span = (f" from {_num(s.low)} to {_num(s.high)}"
                    if s.low is not None and s.high is not None
                    else f" of at least {_num(s.low)}" if s.low is not None else "")
            raise _bad(name, value, what + span)
        return value
    if s.kind == "device":
        if not isinstance(value, str) or not _DEVICE.fullmatch(value):
            raise _bad(name, value, "one of: auto, cpu, cuda, cuda:N, mps")
        return value
    if s.kind in ("path", "str", "address", "model"):
        if not isinstance(value, (str, Path)) or not str(value).strip():
            expected = {"path": "a folder path", "model": "a hub model id or a folder path",
                        "address": "a Ray address such as ray://host:10001"}.get(
                            s.kind, "a non-empty string")
            raise _bad(name, value, expected)
        return str(value)
    return value


def _check_lang(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, value, "a language code such as en, ko or ja")
    try:
        return normalize_lang(value)
    except UnsupportedLanguageError as exc:
        raise UsageError(f"setting '{name}': {exc}") from None


def check_role(table: str, role: Any) -> RoleConfig:
    """A ``[summarizer]``/``[translator]`` table: model names and settings checked."""
    if role is None:
        role = RoleConfig()
    elif isinstance(role, str):
        role = RoleConfig(model=role)
    if not isinstance(role, RoleConfig):
        raise ConfigError(f"[{table}] must be a model name or a RoleConfig")
    model = role.model
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise _bad(table, model, "a hub model id or a folder path")
    models: dict[str, str] = {}
    if not isinstance(role.models, Mapping):
        raise ConfigError(f"[{table}] models must be a table of PAIR = MODEL")
    if role.models and table != "translator":
        raise ConfigError(f"[{table}] takes one model; per-pair models are a translator's")
    for pair, name in role.models.items():
        models[check_pair(pair, f"[{table}] models")] = check_value(
            Setting(str(pair), "", "model", None, ""), name, f"[{table}] models.{pair}")
    return RoleConfig(model=model, models=models,
                      settings=check_generation(table, role.settings))


def check_pair(pair: Any, where: str) -> str:
    """``ko`` or ``ja-en`` (a target, or a source and target) in canonical codes."""
    match = _PAIR.match(pair) if isinstance(pair, str) else None
    if match is None:
        raise ConfigError(f"{where}: {pair!r} is not a target (ko) or a pair (ja-en)")
    target = _check_lang(where, match.group("tgt"))
    source = match.group("src")
    return f"{_check_lang(where, source)}-{target}" if source else target


def check_generation(table: str, settings: Any) -> dict[str, Any]:
    """The settings of one ``[summarizer]``/``[translator]`` table, each checked."""
    where = f"[{table}]"
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where} settings must be a table of generation settings")
    allowed = {**GENERATION_KEYS, **TASK_KEYS}
    for key, value in settings.items():
        if key not in allowed:
            raise ConfigError(f"{where} unknown setting '{key}'; expected one of: "
                              + ", ".join(sorted(allowed)))
        kind = allowed[key]
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if ok and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where} {key} = {value!r}: expected a finite number")
        if not ok:
            what = {int: "an integer", bool: "true or false", str: "a string"}.get(
                kind, "a number")  # type: ignore[call-overload]
            raise ConfigError(f"{where} {key} = {value!r}: expected {what}")
        if key in GENERATION_CHOICES and value not in GENERATION_CHOICES[key]:
            raise ConfigError(f"{where} {key} = {value!r}: expected one of: "
                              + ", ".join(GENERATION_CHOICES[key]))
        if key in RANGES:
            low, high = RANGES[key]
            if value < low or (high is not None and value > high):
                span = (f"at least {_num(low)}" if high is None
                        else f"from {_num(low)} to {_num(high)}")
                raise ConfigError(f"{where} {key} = {value!r}: expected a value {span}")
        if key in ("system", "prompt"):
            problem = check_prompt(table, key, value)
            if problem:
                raise ConfigError(problem)
    low_new, high_new = settings.get("min_new_tokens"), settings.get("max_new_tokens")
    if low_new is not None and high_new is not None and low_new > high_new:
        raise ConfigError(f"{where} min_new_tokens = {low_new} is above max_new_tokens = "
                          f"{high_new}")
    beams, groups = settings.get("num_beams", 1), settings.get("num_beam_groups")
    if groups is not None and beams % groups:
        raise ConfigError(f"{where} num_beam_groups = {groups} must divide num_beams = {beams}")
    if "chat_template" in settings:
        read_template(settings["chat_template"])
    return dict(settings)


def check_backend_options(config: RunConfig) -> dict[str, Any]:
    """The options of the configured backend, defaults filled in; another backend's option
    is refused (it would be silently ignored)."""
    spec = backend_spec(config.backend)
    given = config.backend_options
    if not isinstance(given, Mapping):
        raise ConfigError("backend_options must be a table of the backend's options")
    own = {option.name: option for option in spec.options}
    rows = {s.key: s for s in all_settings() if s.backend is not None}
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in own:
            owner = rows[key].backend if key in rows else None
            where = f"an option of --backend {owner}" if owner else "not a backend option"
            raise ConfigError(f"setting '{key}' is {where}; this run uses --backend "
                              f"{config.backend}")
        out[key] = check_value(rows[key], value)
    for name, option in own.items():
        out.setdefault(name, option.default)
    threads = out.get("threads")
    cores = os.cpu_count() or 1
    if _is_int(threads) and threads > 4 * cores:
        raise _bad("threads", threads, f"at most {4 * cores} (4 per core of this machine)")
    return out


def validate_config(config: RunConfig) -> RunConfig:
    """Check every setting's type and range; returns the config normalized (languages in
    canonical codes, roles as RoleConfig, the backend's options with their defaults).

    Raises:
        ConfigError: A value of the wrong type or out of range (one line: setting, value
            and what is allowed).
        UsageError: Contradictory options, or an unknown language code.
    """
    if not isinstance(config, RunConfig):
        raise ConfigError(f"expected a RunConfig, got {type(config).__name__}")
    if not isinstance(config.inputs, (tuple, list)) or not config.inputs or not all(
            isinstance(p, (str, Path)) and str(p) for p in config.inputs):
        raise _bad("inputs", config.inputs, "one or more file or folder paths")
    values: dict[str, Any] = {}
    for s in all_settings():
        if s.backend is not None or s.kind in ("model", "translators", "langs", "lang",
                                               "paths"):
            continue
        values[s.attr] = check_value(s, get(config, s.attr))
    summarizer = check_role("summarizer", config.summarizer)
    translator = check_role("translator", config.translator)
    if not isinstance(config.ray, RayConfig):
        raise ConfigError("ray must be a RayConfig")
    options = check_backend_options(config)
    if config.backend == "vllm" and config.batch_tokens is not None:
        raise ConfigError("setting 'batch_tokens' does not apply to --backend vllm: vLLM "
                          "batches every request of a group itself (its memory is set by "
                          "gpu_memory_utilization and kv_cache_gb)")
    spec = backend_spec(config.backend)  # what the backend cannot honour, before any load
    for table, role in (("summarizer", summarizer), ("translator", translator)):
        spec.check_settings(table, {k: v for k, v in role.settings.items()
                                    if k not in TASK_KEYS}, options)
    if not config.summarize and config.translate in ("summary", "both"):
        raise UsageError("--no-summary needs --translate article or none (nothing to translate)")
    if not config.summarize and config.translate == "none":
        raise UsageError("--no-summary with --translate none leaves nothing to do")
    targets = config.targets
    if isinstance(targets, str):
        targets = split_langs(targets)
    if not isinstance(targets, (tuple, list)):
        raise _bad("to", config.targets, "a language code or a list of them")
    targets = tuple(dict.fromkeys(_check_lang("to", t) for t in targets))
    if config.translate != "none" and not targets:
        raise UsageError("--to names no language")
    source = config.source_lang
    if source != "auto":
        source = _check_lang("from", source)
    glossary = config.glossary
    if isinstance(glossary, str):
        glossary = (glossary,)
    if not isinstance(glossary, (tuple, list)) or not all(isinstance(g, str) for g in glossary):
        raise _bad("glossary", config.glossary, "glossary file paths ([LANG=]FILE.tsv)")
    from summarize.review import glossaries_from_options

    glossaries_from_options(tuple(glossary), targets)  # a bad file: one line, before any model
    if not isinstance(config.backend_choice, str):
        raise ConfigError("backend_choice must be a string")
    from summarize.run.engine_choice import choose_backend

    return choose_backend(replace(
        config, inputs=tuple(str(p) for p in config.inputs), targets=targets,
        source_lang=source, glossary=tuple(glossary), out_dir=str(config.out_dir),
        models_dir=str(config.models_dir), summarizer=summarizer, translator=translator,
        backend_options=options))


def split_langs(values: Any) -> Any:
    """``["ko,ja", "de"]`` or ``"ko,ja"`` -> ``("ko", "ja", "de")``; other values unchanged
    (validation reports them)."""
    if isinstance(values, str):
        values = [values]
    if isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values):
        return tuple(p.strip() for v in values for p in v.split(",") if p.strip())
    return values
