"""Settings: read the TOML config file, merge it with the flags, and validate every value.

Every setting reaches a run as one :class:`~summarize.records.RunConfig`, whether it came
from a flag, the config file or the Python API, and :func:`validate_config` checks each
field's type and range before anything is read or any model loads: a bad value is one
``ConfigError`` line naming the setting, the value and what is allowed (exit 2).
Validation is written out here rather than delegated to a schema library: the rules are
few, and the messages name settings the way the user wrote them (``to``, ``from``,
``[summarizer] num_beams``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from summarize.backends import GENERATION_CHOICES, GENERATION_KEYS, TASK_KEYS, ct2_unsupported
from summarize.errors import ConfigError, UnsupportedLanguageError, UsageError
from summarize.languages import normalize_lang
from summarize.records import RunConfig

TRANSLATE_CHOICES = ("summary", "article", "both", "none")
DTYPES = ("auto", "float32", "bfloat16", "float16")
BACKENDS = ("torch", "ct2")
PIVOTS = ("auto", "never", "always")
ENGINES = ("local", "ray")
OVERLAPS = ("auto", "full", "io", "off")
QUANTIZATIONS = ("auto", "int8", "int8_float16", "int8_bfloat16", "float16", "bfloat16",
                 "float32")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

#: Top-level config-file keys and the RunConfig field each sets.
FILE_KEYS = {
    "out": "out_dir", "to": "targets", "from": "source_lang", "translate": "translate",
    "summary": "summarize", "device": "device", "dtype": "dtype",
    "batch_tokens": "batch_tokens", "group_size": "group_size", "max_bytes": "max_bytes",
    "models_dir": "models_dir", "force": "force", "trust_remote_code": "trust_remote_code",
    "allow_pickle": "allow_pickle", "dedupe": "dedupe", "backend": "backend",
    "quantization": "quantization", "threads": "threads", "cpu_tuning": "cpu_tuning",
    "follow_symlinks": "follow_symlinks", "pivot": "pivot",
    "max_loaded_models": "max_loaded_models", "engine": "engine",
    "ray_address": "ray_address", "replicas": "replicas",
    "gpus_per_replica": "gpus_per_replica", "glossary": "glossary",
    "overlap": "overlap", "read_workers": "read_workers",
}
TABLES = ("summarizer", "translator")
#: How each RunConfig field is named to the user.
_USER_NAMES = {field: key for key, field in FILE_KEYS.items()}
#: Ranges of generation settings: (lowest allowed, highest allowed or None).
_RANGES: dict[str, tuple[float, float | None]] = {
    "num_beams": (1, None), "min_new_tokens": (0, None), "max_new_tokens": (1, None),
    "min_length": (0, None), "max_length": (1, None), "no_repeat_ngram_size": (0, None),
    "encoder_no_repeat_ngram_size": (0, None), "num_beam_groups": (1, None),
    "diversity_penalty": (0, None), "temperature": (1e-6, None), "top_k": (0, None),
    "top_p": (1e-6, 1), "repetition_penalty": (1e-6, None), "max_input_tokens": (8, None),
}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config: top-level options plus [summarizer] and [translator] tables.

    Raises:
        ConfigError: Unreadable file, bad TOML or unknown keys.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    from summarize.inputs.sidefiles import CONFIG_MAX_BYTES, read_side_file

    try:
        data = tomllib.loads(read_side_file(path, what="config file", max_bytes=CONFIG_MAX_BYTES))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    allowed = set(FILE_KEYS) | set(TABLES)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}; "
            f"expected: {', '.join(sorted(allowed))}"
        )
    table_keys = {"model", *GENERATION_KEYS, *TASK_KEYS}
    for table in TABLES:
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"config file {path}: '{table}' must be a table ([{table}])")
        bad = sorted(set(section) - table_keys)
        if bad:
            raise ConfigError(
                f"config file {path}: unknown [{table}] setting(s) {', '.join(bad)}; "
                f"expected: {', '.join(sorted(table_keys))}"
            )
    return data


def split_langs(values: Any) -> Any:
    """``["ko,ja", "de"]`` or ``"ko,ja"`` -> ``("ko", "ja", "de")``; other values unchanged
    (validation reports them)."""
    if isinstance(values, str):
        values = [values]
    if isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values):
        return tuple(p.strip() for v in values for p in v.split(",") if p.strip())
    return values


def build_config(inputs: list[Path], file: Mapping[str, Any], flags: Mapping[str, Any]
                 ) -> RunConfig:
    """Merge defaults, the config file and command-line flags (flags win); not validated.

    Args:
        inputs: Input paths.
        file: The parsed config file (:func:`load_config_file`), or {}.
        flags: Flag values by RunConfig field name; None means "not given".
    """
    values: dict[str, Any] = {FILE_KEYS[k]: v for k, v in file.items() if k in FILE_KEYS}
    summarizer_table = dict(file.get("summarizer", {}))
    translator_table = dict(file.get("translator", {}))
    if "model" in summarizer_table:
        values["summarizer"] = summarizer_table.pop("model")
    if "model" in translator_table:
        values["translator"] = translator_table.pop("model")
    values.update({k: v for k, v in flags.items() if v is not None})
    if "targets" in values:
        values["targets"] = split_langs(values["targets"])
    return RunConfig(inputs=tuple(str(p) for p in inputs),
                     summarizer_generation=summarizer_table,
                     translator_generation=translator_table, **values)


def _name(field_name: str) -> str:
    return _USER_NAMES.get(field_name, field_name)


def _bad(field_name: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"setting '{_name(field_name)}' = {value!r}: expected {expected}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not _is_int(value) or value < low:
        raise _bad(name, value, f"an integer of at least {low}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _bad(name, value, "one of: " + ", ".join(choices))


def _check_generation(table: str, settings: Any) -> dict[str, Any]:
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
        if not ok:
            what = {int: "an integer", bool: "true or false", str: "a string"}.get(
                kind, "a number")  # type: ignore[call-overload]
            raise ConfigError(f"{where} {key} = {value!r}: expected {what}")
        if key in GENERATION_CHOICES and value not in GENERATION_CHOICES[key]:
            raise ConfigError(f"{where} {key} = {value!r}: expected one of: "
                              + ", ".join(GENERATION_CHOICES[key]))
        if key in _RANGES:
            low, high = _RANGES[key]
            if value < low or (high is not None and value > high):
                span = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
                raise ConfigError(f"{where} {key} = {value!r}: expected a value {span}")
    low_new, high_new = settings.get("min_new_tokens"), settings.get("max_new_tokens")
    if low_new is not None and high_new is not None and low_new > high_new:
        raise ConfigError(f"{where} min_new_tokens = {low_new} is above max_new_tokens = "
                          f"{high_new}")
    beams, groups = settings.get("num_beams", 1), settings.get("num_beam_groups")
    if groups is not None and beams % groups:
        raise ConfigError(f"{where} num_beam_groups = {groups} must divide num_beams = {beams}")
    return dict(settings)


def _check_lang(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, value, "a language code such as en, ko or ja")
    try:
        return normalize_lang(value)
    except UnsupportedLanguageError as exc:
        raise UsageError(f"setting '{_name(name)}': {exc}") from None


def validate_config(config: RunConfig) -> RunConfig:
    """Check every setting's type and range; returns the config with normalized languages.

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
    for name in ("out_dir", "models_dir"):
        value = getattr(config, name)
        if not isinstance(value, (str, Path)) or not str(value):
            raise _bad(name, value, "a folder path")
    for name in ("summarizer", "translator"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _bad(name, value, "a hub model id or a folder path")
    for f in fields(RunConfig):
        if f.type in ("bool",) or isinstance(getattr(RunConfig, f.name, None), bool):
            value = getattr(config, f.name)
            if not isinstance(value, bool):
                raise _bad(f.name, value, "true or false")
    _check_choice("translate", config.translate, TRANSLATE_CHOICES)
    _check_choice("dtype", config.dtype, DTYPES)
    _check_choice("backend", config.backend, BACKENDS)
    _check_choice("quantization", config.quantization, QUANTIZATIONS)
    if not isinstance(config.device, str) or not _DEVICE.fullmatch(config.device):
        raise _bad("device", config.device, "one of: auto, cpu, cuda, cuda:N, mps")
    _check_int("batch_tokens", config.batch_tokens, 16, optional=True)
    _check_int("group_size", config.group_size, 1)
    _check_int("max_bytes", config.max_bytes, 1)
    _check_int("threads", config.threads, 0)
    _check_int("max_loaded_models", config.max_loaded_models, 1)
    _check_choice("pivot", config.pivot, PIVOTS)
    _check_choice("engine", config.engine, ENGINES)
    _check_int("replicas", config.replicas, 0)
    _check_choice("overlap", config.overlap, OVERLAPS)
    _check_int("read_workers", config.read_workers, 0, optional=True)
    if config.ray_address is not None and (not isinstance(config.ray_address, str)
                                           or not config.ray_address.strip()):
        raise _bad("ray_address", config.ray_address, "a Ray address such as ray://host:10001")
    gpus = config.gpus_per_replica
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, (int, float))
                             or not 0 <= gpus <= 64):
        raise _bad("gpus_per_replica", gpus, "a number of GPUs from 0 to 64 (0.5 shares one)")
    summarizer_settings = _check_generation("summarizer", config.summarizer_generation)
    translator_settings = _check_generation("translator", config.translator_generation)
    if config.backend == "ct2":  # what CTranslate2 cannot honour, before any model loads
        for table, values in (("summarizer", summarizer_settings),
                              ("translator", translator_settings)):
            problem = ct2_unsupported({k: v for k, v in values.items() if k not in TASK_KEYS})
            if problem:
                raise ConfigError(f"[{table}] {problem}")
    if not config.summarize and config.translate in ("summary", "both"):
        raise UsageError("--no-summary needs --translate article or none (nothing to translate)")
    if not config.summarize and config.translate == "none":
        raise UsageError("--no-summary with --translate none leaves nothing to do")
    targets = config.targets
    if isinstance(targets, str):
        targets = split_langs(targets)
    if not isinstance(targets, (tuple, list)):
        raise _bad("targets", config.targets, "a language code or a list of them")
    targets = tuple(dict.fromkeys(_check_lang("targets", t) for t in targets))
    if config.translate != "none" and not targets:
        raise UsageError("--to names no language")
    source = config.source_lang
    if source != "auto":
        source = _check_lang("source_lang", source)
    glossary = config.glossary
    if isinstance(glossary, str):
        glossary = (glossary,)
    if not isinstance(glossary, (tuple, list)) or not all(isinstance(g, str) for g in glossary):
        raise _bad("glossary", config.glossary, "glossary file paths ([LANG=]FILE.tsv)")
    from summarize.review import glossaries_from_options

    glossaries_from_options(tuple(glossary), targets)  # a bad file: one line, before any model
    return replace(
        config, inputs=tuple(str(p) for p in config.inputs), targets=targets,
        source_lang=source, glossary=tuple(glossary),
        out_dir=str(config.out_dir), models_dir=str(config.models_dir),
        summarizer_generation=summarizer_settings, translator_generation=translator_settings,
    )
