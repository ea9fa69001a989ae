"""One table of settings: it drives the command line, the config file, validation, the resume
fingerprint and the README's options table.

Each :class:`Setting` names a field of :class:`~summarize.settings.config.RunConfig` (a
dotted path into its groups), its type and bounds, its flag, its config-file key, and
whether it changes an article's record (then it is part of the resume key). The options of
each backend (``--quantization`` for ct2 ...) come from the backend registry
(:mod:`summarize.backends.registry`), so a backend owns its options in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from summarize.backends.registry import BACKENDS

#: Kinds of values (how a flag parses and validation checks them).
KINDS = ("str", "int", "float", "bool", "choice", "lang", "langs", "path", "paths", "model",
         "translators", "address", "device")


@dataclass(frozen=True)
class Setting:
    """One setting of a run.

    Attributes:
        key: Its name in the config file; the flag is ``--key`` with ``_`` as ``-``.
        attr: Dotted path of its field in RunConfig (``ray.replicas``).
        kind: One of :data:`KINDS`.
        default: The value when nothing sets it.
        help: One line for ``--help`` and the README.
        metavar: The flag's value name (``DIR``, ``N``).
        choices: Allowed values of a ``choice``.
        low: Smallest value of a number.
        high: Largest value of a number.
        optional: None is allowed (means "pick for me").
        flag: The flag's spelling when it is not ``--key`` ("" for no flag).
        file: Settable in the config file.
        fingerprint: It changes an article's record (part of the resume key).
        group: Where ``--help`` and the README list it.
        backend: The backend that owns it (its options live in ``backend_options``).
    """

    key: str
    attr: str
    kind: str
    default: Any
    help: str
    metavar: str = ""
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    optional: bool = False
    flag: str | None = None
    file: bool = True
    fingerprint: bool = False
    group: str = "run"
    backend: str | None = None

    @property
    def option(self) -> str:
        """The command-line flag (``--batch-tokens``), or "" when there is none."""
        if self.flag is not None:
            return self.flag
        return "--" + self.key.replace("_", "-")


def _s(*args: Any, **kwargs: Any) -> Setting:
    return Setting(*args, **kwargs)


#: Most of anything a count may be: far above any real use, below the point where a thread
#: pool, a beam search or a process pool exhausts the machine.
MAX_WORKERS = 256

SETTINGS: tuple[Setting, ...] = (
    # -- what to make -----------------------------------------------------------------------
    _s("out", "out_dir", "path", "outputs", "Output folder.", "DIR", group="output"),
    _s("to", "targets", "langs", ("ko",), "Target language(s), ISO 639-1 or 639-3: ko or "
       "ko,ja; repeatable.", "LANGS", fingerprint=True, group="what"),
    _s("from", "source_lang", "lang", "auto", "Source language, or auto to detect each "
       "article's.", "LANG", fingerprint=True, group="what"),
    _s("translate", "translate", "choice", "summary", "What to translate: summary, article, "
       "both or none.", "WHAT",
       choices=("summary", "article", "both", "none"), fingerprint=True, group="what"),
    _s("summary", "summarize", "bool", True, "Translate only; skip summaries.",
       flag="--no-summary", fingerprint=True, group="what"),
    _s("pivot", "pivot", "choice", "auto", "Summaries of articles the summarizer cannot "
       "summarize in their own language: auto (through English when needed), never or "
       "always.", "WHEN", choices=("auto", "never", "always"), fingerprint=True,
       group="what"),
    _s("glossary", "glossary", "paths", (), "Glossary TSV (source term, tab, required target "
       "term) whose misses the review flags: FILE for every target or LANG=FILE; "
       "repeatable.", "[LANG=]FILE", fingerprint=True, group="what"),
    # -- models -----------------------------------------------------------------------------
    _s("summarizer", "summarizer.model", "model", None, "Summarization model: hub id or "
       "folder (seq2seq, or a chat model). [default: sshleifer/distilbart-cnn-12-6]",
       "MODEL", optional=True, file=False, fingerprint=True, group="models"),
    _s("translator", "translator", "translators", None, "Translation model: MODEL for every "
       "pair, LANG=MODEL for one target, SRC-TGT=MODEL for one pair; repeatable. "
       "[default: per language]", "[PAIR=]MODEL", optional=True, file=False,
       fingerprint=True, group="models"),
    _s("backend", "backend", "choice", "auto", "Inference engine: "
       + "; ".join(f"{name} ({spec.summary})" for name, spec in BACKENDS.items()) + ".",
       "NAME", choices=tuple(BACKENDS), fingerprint=True, group="models"),
    _s("device", "device", "device", "auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, "
       "cuda:N or mps.", "DEVICE",
       group="models"),
    _s("dtype", "dtype", "choice", "auto", "Compute type of the torch and vLLM engines: auto "
       "(torch: bfloat16 on GPUs that have it, else float16, float32 for T5; float32 on CPU; "
       "vLLM: its own choice), float32, bfloat16, float16.", "DTYPE",
       choices=("auto", "float32", "bfloat16", "float16"), fingerprint=True, group="models"),
    _s("batch_tokens", "batch_tokens", "int", None, "Token budget per batch, padding counted. "
       "[default: per device]", "N", low=16, high=10_000_000, optional=True,
       group="models"),
    _s("max_loaded_models", "max_loaded_models", "int", 4, "Most translation models loaded "
       "at once.", "N", low=1, high=64, group="models"),
    _s("models_dir", "models_dir", "path", "models", "Local model store searched before the "
       "hub.", "DIR", group="models"),
    _s("trust_remote_code", "trust_remote_code", "bool", False, "Allow models that run their "
       "own code.", group="models"),
    _s("allow_pickle", "allow_pickle", "bool", False, "Allow .bin pickle weights when no "
       "safetensors exist.", group="models"),
    _s("cpu_tuning", "cpu_tuning", "bool", True, "Tune float32 CPU runs (oneDNN linear "
       "layers; glibc keeps freed memory).", flag="--cpu-tuning/--no-cpu-tuning",
       group="models"),
    # -- inputs -----------------------------------------------------------------------------
    _s("max_bytes", "max_bytes", "int", 50_000_000, "Refuse input files larger than this.",
       "N", low=1, high=2**40, group="inputs"),
    _s("follow_symlinks", "follow_symlinks", "bool", False, "Follow symbolic links that lead "
       "outside the input folders.", group="inputs"),
    # -- the run ----------------------------------------------------------------------------
    _s("group_size", "group_size", "int", 64, "Articles pooled per group; bounds memory.", "N",
       low=1, high=100_000, group="run"),
    _s("force", "force", "bool", False, "Recompute articles already in the output.",
       group="run"),
    _s("dedupe", "dedupe", "bool", False, "Process identical texts once.", group="run"),
    _s("engine", "engine", "choice", "local", "local, or ray for every GPU of the machine or "
       "a cluster (pip install 'summarize[ray]').", "NAME", choices=("local", "ray"),
       group="run"),
    _s("overlap", "overlap", "choice", "auto", "auto (read and write beside the model; "
       "translate one group while the next is summarized on a GPU), full (that on CPU "
       "too), io, or off.", "MODE", choices=("auto", "full", "io", "off"), group="run"),
    _s("read_workers", "read_workers", "int", None, "Processes reading and extracting inputs "
       "ahead of the model; 0: none. [default: one per core]", "N", low=0, high=MAX_WORKERS,
       optional=True, group="run"),
    _s("ray_address", "ray.address", "address", None, "Ray cluster to join (or "
       "RAY_ADDRESS); default: start a local one.", "ADDRESS", optional=True, group="ray"),
    _s("replicas", "ray.replicas", "int", 0, "Model replicas per stage with --engine ray; 0: "
       "one per GPU (or CPU core).", "N", low=0, high=MAX_WORKERS, group="ray"),
    _s("gpus_per_replica", "ray.gpus_per_replica", "float", None, "GPUs per replica with "
       "--engine ray; 0.5 lets two share one GPU.", "GPUS", low=0, high=64, optional=True,
       group="ray"),
)


def backend_settings() -> Iterator[Setting]:
    """The settings the backends own (their options), as table rows."""
    seen: set[str] = set()
    for name, spec in BACKENDS.items():
        if name == "auto":  # its options are ct2's (what it may choose), owned there
            continue
        for option in spec.options:
            if option.name in seen:
                continue
            seen.add(option.name)
            kind = ("choice" if option.choices else "int" if isinstance(option.default, int)
                    else "float" if isinstance(option.default, float) else "str")
            owners = name + (" or auto" if option in BACKENDS["auto"].options else "")
            yield Setting(option.name, f"backend_options.{option.name}", kind,
                          option.default, f"{option.help} (--backend {owners})",
                          "TYPE" if option.choices else "N", choices=option.choices,
                          low=option.low, high=option.high, fingerprint=option.fingerprint,
                          group="models", backend=name)


def all_settings() -> tuple[Setting, ...]:
    """Every setting: the table's and the backends' options."""
    return (*SETTINGS, *backend_settings())


def by_key() -> dict[str, Setting]:
    """Every setting by its config-file key."""
    return {s.key: s for s in all_settings()}


def markdown_table() -> str:
    """The README's options table, made from the table (a test keeps the README equal)."""
    lines = ["| option | default | meaning |", "| --- | --- | --- |"]
    for s in all_settings():
        if not s.option:
            continue
        flag = s.option.split("/")[0] if s.kind == "bool" and "/" in s.option else s.option
        if s.kind != "bool":
            flag += f" {s.metavar}"
        default = "" if s.default is None or s.kind == "bool" and s.flag is None else \
            ",".join(s.default) if isinstance(s.default, tuple) else str(s.default)
        if s.kind == "bool":
            default = "on" if s.default else "off"
        text = s.help.replace("|", "\\|")
        lines.append(f"| `{flag}` | {f'`{default}`' if default else ''} | {text} |")
    return "\n".join(lines) + "\n"
