"""The config file and the flags, merged into one RunConfig (flags win over the file, the
file over the defaults); every key is a row of :mod:`summarize.settings.table`.

Config file (TOML)::

    to = ["ko", "ja"]
    translate = "both"
    backend = "ct2"
    quantization = "int8"

    [summarizer]
    model = "facebook/bart-large-cnn"
    num_beams = 4

    [translator]
    model = "facebook/m2m100_418M"      # every pair without a model of its own
    [translator.models]
    ko = "Helsinki-NLP/opus-mt-tc-big-en-ko"   # one target
    "ja-en" = "Helsinki-NLP/opus-mt-ja-en"     # one pair
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from summarize.backends import GENERATION_KEYS
from summarize.errors import ConfigError
from summarize.settings.config import RayConfig, RoleConfig, RunConfig
from summarize.settings.table import Setting, all_settings, by_key
from summarize.settings.validate import TASK_KEYS, check_pair, split_langs

TABLES = ("summarizer", "translator")
#: Largest config file read.
MAX_CONFIG_BYTES = 1_000_000


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config: top-level settings plus [summarizer] and [translator] tables.

    Raises:
        ConfigError: Unreadable file, bad TOML or unknown keys (one line naming the file).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    text = read_config_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    keys = {s.key for s in all_settings() if s.file}
    allowed = keys | set(TABLES)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(unknown)}; "
                          f"expected: {', '.join(sorted(allowed))}")
    table_keys = {"model", *GENERATION_KEYS, *TASK_KEYS}
    for table in TABLES:
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"config file {path}: '{table}' must be a table ([{table}])")
        allowed_here = table_keys | ({"models"} if table == "translator" else set())
        bad = sorted(set(section) - allowed_here)
        if bad:
            raise ConfigError(f"config file {path}: unknown [{table}] setting(s) "
                              f"{', '.join(bad)}; expected: {', '.join(sorted(allowed_here))}")
        if "models" in section and not isinstance(section["models"], dict):
            raise ConfigError(f"config file {path}: [translator] models must be a table "
                              "([translator.models]) of PAIR = MODEL")
    return data


def read_config_text(path: Path) -> str:
    """The config file's text: a regular file, at most :data:`MAX_CONFIG_BYTES`, UTF-8 (a
    BOM is fine); every failure one line naming the file."""
    from summarize.inputs.sidefiles import read_side_file

    return read_side_file(path, what="config file", max_bytes=MAX_CONFIG_BYTES)


def parse_translators(values: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """``--translator`` values: ``MODEL`` (every pair), ``LANG=MODEL`` or ``SRC-TGT=MODEL``.

    Raises:
        ConfigError: Two models for every pair, or two for the same target or pair (a
            repeated option is refused, never silently dropped).
    """
    model: str | None = None
    models: dict[str, str] = {}
    for value in values:
        key, sep, name = value.partition("=")
        if not sep or not key or "/" in key or key.startswith((".", "~")):
            if model is not None:
                raise ConfigError(f"--translator given twice for every pair ({model!r} and "
                                  f"{value!r}); name one, or LANG=MODEL per target")
            model = value
            continue
        pair = check_pair(key, "--translator")
        if pair in models:
            raise ConfigError(f"--translator {key}= given twice ({models[pair]!r} and "
                              f"{name!r})")
        if not name.strip():
            raise ConfigError(f"--translator {value!r}: no model after '='")
        models[pair] = name
    return model, models


def build_config(inputs: Sequence[Path | str], file: Mapping[str, Any],
                 flags: Mapping[str, Any]) -> RunConfig:
    """Merge defaults, the config file and command-line flags (flags win); not validated.

    Args:
        inputs: Input paths.
        file: The parsed config file (:func:`load_config_file`), or {}.
        flags: Flag values by setting key (:mod:`summarize.settings.table`); None means
            "not given". ``translator`` is the list of ``--translator`` values.
    """
    rows = by_key()
    values: dict[str, Any] = {}
    for key, value in file.items():
        if key in rows and rows[key].file:
            values[key] = value
    for key, value in flags.items():
        if value is not None and key not in ("translator", "summarizer"):
            values[key] = value
    if "to" in values:
        values["to"] = split_langs(values["to"])
    config = RunConfig(inputs=tuple(str(p) for p in inputs))
    top: dict[str, Any] = {}
    ray: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in values.items():
        s = rows[key]
        if s.backend is not None:
            options[key] = value
        elif s.attr.startswith("ray."):
            ray[s.attr.split(".", 1)[1]] = value
        elif "." not in s.attr:
            top[s.attr] = _as(s, value)
    summarizer = dict(file.get("summarizer", {}))
    translator = dict(file.get("translator", {}))
    summary_model = flags.get("summarizer") or summarizer.pop("model", None)
    summarizer.pop("model", None)
    file_model = translator.pop("model", None)
    file_models = dict(translator.pop("models", {}) or {})
    flag_model, flag_models = parse_translators(flags.get("translator") or ())
    known = {field.name for field in fields(RunConfig)}
    return replace(
        config, **{k: v for k, v in top.items() if k in known},
        summarizer=RoleConfig(model=summary_model, settings=summarizer),
        translator=RoleConfig(model=flag_model or file_model,
                              models={**file_models, **flag_models}, settings=translator),
        ray=RayConfig(**ray), backend_options=options)


def _as(s: Setting, value: Any) -> Any:
    if s.kind == "paths" and isinstance(value, str):
        return (value,)
    if s.kind == "paths" and isinstance(value, list):
        return tuple(value)
    if s.kind == "path" and isinstance(value, Path):
        return str(value)
    return value
