"""The settings of one run as typed records: :class:`RunConfig` and its groups (stdlib only).

Every setting reaches a run as one :class:`RunConfig`, whether it came from a flag, the
config file or the Python API; :mod:`summarize.settings.table` says for each one its name,
type, bounds, flag and whether it changes an article's record, and
:func:`summarize.settings.validate_config` checks them all before anything is read or any
model loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TranslateWhat = Literal["summary", "article", "both", "none"]


@dataclass(frozen=True)
class RoleConfig:
    """One model role: the ``[summarizer]`` or ``[translator]`` table.

    Attributes:
        model: Hub id or local folder; None picks the default (a translator: per pair).
        models: Translator only: a model per target (``"ko"``) or per pair (``"ja-en"``),
            over ``model`` for those (``--translator ko=MODEL``).
        settings: Generation settings (transformers' names: ``num_beams``,
            ``max_new_tokens`` ...) and how the task is asked (``prefix``, ``system``,
            ``prompt``, ``sentences``, ``max_input_tokens``, ``chat_template``).
    """

    model: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RayConfig:
    """How ``--engine ray`` places its replicas.

    Attributes:
        address: Ray cluster to join (``ray://host:10001`` or ``auto``); None starts a
            local instance unless ``RAY_ADDRESS`` is set.
        replicas: Model replicas (actors) per stage; 0: one per GPU, or one per CPU core on
            a machine without GPUs.
        gpus_per_replica: GPUs each replica holds (0.5 lets two replicas share one GPU);
            None: 1 where GPUs exist, else 0.
    """

    address: str | None = None
    replicas: int = 0
    gpus_per_replica: float | None = None


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a run does (see the table for each setting's meaning).

    ``summarizer`` and ``translator`` may be given as a model name (a string) through the
    Python API; validation turns it into a :class:`RoleConfig`.
    """

    inputs: tuple[str, ...]
    out_dir: str = "outputs"
    # what to make
    targets: tuple[str, ...] = ("ko",)
    source_lang: str = "auto"
    translate: TranslateWhat = "summary"
    summarize: bool = True
    pivot: str = "auto"
    glossary: tuple[str, ...] = ()
    # which models, and how they run
    summarizer: RoleConfig | str | None = field(default_factory=RoleConfig)
    translator: RoleConfig | str | None = field(default_factory=RoleConfig)
    backend: str = "auto"
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int | None = None
    max_loaded_models: int = 4
    models_dir: str = "models"
    trust_remote_code: bool = False
    allow_pickle: bool = False
    cpu_tuning: bool = True
    # reading the inputs
    max_bytes: int = 50_000_000
    follow_symlinks: bool = False
    # the run
    group_size: int = 64
    force: bool = False
    dedupe: bool = False
    engine: str = "local"
    overlap: str = "auto"
    read_workers: int | None = None
    ray: RayConfig = field(default_factory=RayConfig)
    debug: bool = False
    #: Why the run uses its backend (set by ``--backend auto``'s choice; stats.json).
    backend_choice: str = ""

    @property
    def summarizer_role(self) -> RoleConfig:
        """``summarizer`` as a :class:`RoleConfig` (a validated config always holds one)."""
        return _role(self.summarizer)

    @property
    def translator_role(self) -> RoleConfig:
        """``translator`` as a :class:`RoleConfig` (a validated config always holds one)."""
        return _role(self.translator)


def _role(value: RoleConfig | str | None) -> RoleConfig:
    if isinstance(value, RoleConfig):
        return value
    return RoleConfig(model=value) if isinstance(value, str) else RoleConfig()
