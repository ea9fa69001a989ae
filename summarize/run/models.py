"""Model loading for a run: pick the engine, load each backend once, build the two tasks.

``load_models`` loads every model the run needs (the summarizer, one translator per model
used by the targets) and checks each target language against its model's vocabulary, so
every problem surfaces as one usage error (exit 2) before any article. A caller of the
Python API may supply backends of its own (``backends=``); they go through the same checks.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.backends import Seq2SeqBackend
from summarize.backends.catalog import (
    DEFAULT_SUMMARIZER,
    SOURCE_FILE,
    default_translator,
    is_hub_id,
)
from summarize.errors import ModelLoadError, UsageError
from summarize.languages import same_language
from summarize.records import ModelInfo, RunConfig
from summarize.tasks.batching import TokenBudget
from summarize.tasks.summarize import Summarizer
from summarize.tasks.translate import Translator

#: Token budget per batch (padding counted) by device type, when the user sets none.
DEFAULT_BATCH_TOKENS = {"cpu": 8192, "cuda": 65536, "mps": 16384}
#: What :func:`load_models` loads: both sides by default; a Ray stage's replica loads one
#: (``("summarizer",)``: routed translators, such as a pivot's into English, still load on
#: first use; ``("translators",)``: no summarizer).
ROLES = ("summarizer", "translators")


class ModelLocks:
    """What lets two threads share one run's models (the engine summarizes one group while
    it translates the previous one): a model runs one call at a time (a tokenizer and a
    model's state are not shared mid-call), translations are routed under one lock
    (routing may load a model and evict another), and a model is closed only under its
    own lock (never while the other thread runs it). On MPS every model shares one lock:
    PyTorch's MPS backend crashes when two threads run operations at once
    (pytorch/pytorch#197805), so there only the CPU work of one stage overlaps the other's
    model call."""

    def __init__(self) -> None:
        self.translation = threading.RLock()
        self._guard = threading.Lock()
        self._by_model: dict[Any, threading.Lock] = {}

    def model(self, backend: Any) -> threading.Lock:
        """The lock of one loaded model (the device's, on MPS)."""
        device = str(getattr(getattr(backend, "info", None), "device", "") or "")
        key: Any = "mps" if device.startswith("mps") else id(backend)
        with self._guard:
            return self._by_model.setdefault(key, threading.Lock())


@dataclass
class LoadedModels:
    """The tasks of one run, the models behind them, and what stats.json records of them.

    The summarizer and the translators of the configured source language are loaded when
    the run starts (so a model that cannot be had is one error before any work). Other
    language pairs, met as articles of other languages arrive, are routed through
    :meth:`translation_task`: the per-pair default (or the configured ``--translator``),
    loaded on first use, with at most ``max_loaded`` models kept (least recently used
    first out).

    Attributes:
        summarizer: The summarization task, or None with ``--no-summary``.
        translators: Translation task per target language, for the configured source.
        infos: One entry per loaded model and role (``summarizer``, ``translator:ko`` ...).
        load_s: Seconds spent loading, importing the engine included.
        import_s: Of ``load_s``, seconds spent importing the engine (torch, transformers).
        config: The run configuration (routing and task settings).
        load_backend: Loads a model by name for routed pairs; None when every backend was
            given (routing then uses ``translators`` for every pair).
        given: A translator backend supplied by the caller for every pair, or None.
    """

    summarizer: Summarizer | None
    translators: dict[str, Translator]
    infos: list[ModelInfo] = field(default_factory=list)
    load_s: float = 0.0
    import_s: float = 0.0
    config: RunConfig | None = None
    load_backend: Callable[[str], Seq2SeqBackend] | None = None
    given: Seq2SeqBackend | None = None
    max_loaded: int = 4
    _pool: OrderedDict[str, Seq2SeqBackend] = field(default_factory=OrderedDict)
    _tasks: dict[tuple[str, str], Translator] = field(default_factory=dict)
    _failed: dict[str, UsageError] = field(default_factory=dict)
    locks: ModelLocks = field(default_factory=ModelLocks, repr=False, compare=False)

    @property
    def device(self) -> str | None:
        return self.infos[0].device if self.infos else None

    @property
    def device_name(self) -> str | None:
        return self.infos[0].device_name if self.infos else None

    @property
    def dtype(self) -> str | None:
        return self.infos[0].dtype if self.infos else None

    @property
    def engine(self) -> str | None:
        return self.infos[0].engine if self.infos else None

    @property
    def summarizer_multilingual(self) -> bool:
        """Whether the summarizer is a multilingual family (mT5, mBART: e.g. XL-Sum)."""
        if self.summarizer is None:
            return False
        return self.summarizer.backend.info.family in MULTILINGUAL_SUMMARIZER_FAMILIES

    def translation_task(self, source: str, target: str) -> tuple[Translator, str]:
        """The task translating ``source`` into ``target``, and its model's name.

        Raises:
            UsageError: The model for the pair cannot be loaded, or cannot translate it
                (the message names the pair and how to add a model).
        """
        preset = self.translators.get(target)
        if self.config is None or (self.load_backend is None and self.given is None):
            if preset is None:
                raise UsageError(f"no translator for {target!r}")
            preset.plan_for(source)  # raises for a pair the model cannot translate
            return preset, preset.backend.info.model_id
        name = self.config.translator or default_translator(source, target)
        if self.given is not None:
            name = self.given.info.model_id
        if preset is not None and preset.backend.info.model_id == name:
            preset.plan_for(source)
            return preset, name
        key = (name, target)
        if key not in self._tasks:
            backend = self.given if self.given is not None else self._backend(name)
            budget = TokenBudget(self.config.batch_tokens or _default_budget(backend))
            task = Translator(backend, target, dict(self.config.translator_generation), budget,
                              source_lang=source)
            self._tasks[key] = task
            self.infos.append(ModelInfo.of(f"translator:{source}-{target}", backend.info, 0.0,
                                           family=task.plan.family))
        task = self._tasks[key]
        task.plan_for(source)
        return task, name

    def _backend(self, name: str) -> Seq2SeqBackend:
        if name in self._failed:
            raise self._failed[name]
        for task in [*self.translators.values()]:
            if task.backend.info.model_id == name:
                return task.backend
        if name in self._pool:
            self._pool.move_to_end(name)
            return self._pool[name]
        while len(self._pool) >= max(1, self.max_loaded - 1 - len(self.translators)):
            old, backend = self._pool.popitem(last=False)
            self._tasks = {k: v for k, v in self._tasks.items() if k[0] != old}
            with self.locks.model(backend):  # waits for a call the other thread runs on it
                backend.close()
        assert self.load_backend is not None
        t0 = time.perf_counter()
        try:
            backend = self.load_backend(name)
        except UsageError as exc:
            self._failed[name] = exc
            raise
        self.load_s += time.perf_counter() - t0
        self._pool[name] = backend
        return backend

    def close(self) -> None:
        """Release every backend (the run calls it for the models it loaded itself)."""
        seen: set[int] = set()
        backends: list[Any] = [task.backend for task in
                               [self.summarizer, *self.translators.values()] if task is not None]
        for backend in [*backends, *self._pool.values()]:
            if id(backend) not in seen:
                seen.add(id(backend))
                backend.close()
        self._pool.clear()
        self._tasks.clear()


#: Summarizer families trained on many languages (mT5 XL-Sum, mBART): no pivot needed.
MULTILINGUAL_SUMMARIZER_FAMILIES = frozenset({"mt5", "umt5", "mbart", "mbart50"})


def translator_for(config: RunConfig, lang: str, source: str | None = None) -> str:
    """The translation model used into ``lang`` from ``source`` (default: the configured
    source; English when it is detected per article)."""
    source = source or config.source_lang
    return config.translator or default_translator("en" if source == "auto" else source, lang)


def summarizer_name(config: RunConfig) -> str:
    """The summarization model of the run."""
    return config.summarizer or DEFAULT_SUMMARIZER


def build_tasks(
    config: RunConfig,
    summarizer: Seq2SeqBackend | None,
    translators: Mapping[str, Seq2SeqBackend],
    load_s: Mapping[str, float] | None = None,
    *,
    roles: tuple[str, ...] = ROLES,
) -> LoadedModels:
    """Build the summarization and translation tasks over loaded backends.

    Args:
        config: The (validated) run configuration.
        summarizer: Backend of the summarizer (None when the run makes no summary).
        translators: Backend per target language (the same object may serve several).
        load_s: Seconds each role took to load, for stats.json.
        roles: The sides to build (:data:`ROLES`); a side left out gets no task.

    Raises:
        UsageError: A target language the translator cannot produce, a summarizer whose
            window is too small, or a missing backend.
    """
    times = dict(load_s or {})
    infos: list[ModelInfo] = []
    summary_task = None
    if config.summarize and "summarizer" in roles:
        if summarizer is None:
            raise UsageError("no summarizer backend was given")
        budget = TokenBudget(config.batch_tokens or _default_budget(summarizer))
        summary_task = Summarizer(summarizer, dict(config.summarizer_generation), budget,
                                  base_source(config))
        infos.append(ModelInfo.of("summarizer", summarizer.info, times.get("summarizer", 0.0)))
    tasks: dict[str, Translator] = {}
    if config.translate != "none" and "translators" in roles:
        for lang in preset_targets(config):
            backend = translators.get(lang)
            if backend is None:
                raise UsageError(f"no translator backend was given for {lang!r}")
            budget = TokenBudget(config.batch_tokens or _default_budget(backend))
            task = Translator(backend, lang, dict(config.translator_generation), budget,
                              source_lang=base_source(config))
            tasks[lang] = task
            info = ModelInfo.of(f"translator:{lang}", backend.info,
                                times.get(f"translator:{lang}", 0.0), family=task.plan.family)
            infos.append(info)
    return LoadedModels(summary_task, tasks, infos, sum(times.values()))


def base_source(config: RunConfig) -> str:
    """The source language the run prepares for: ``--from``, or English with ``auto``
    (English articles, and summaries pivoted through English, are the common case)."""
    return "en" if config.source_lang == "auto" else config.source_lang


def preset_targets(config: RunConfig) -> list[str]:
    """Targets whose translator loads at start: all but the base source's own language
    (same-language text is copied, not translated)."""
    base = base_source(config)
    return [t for t in config.targets if not same_language(base, t)]


def _default_budget(backend: Seq2SeqBackend) -> int:
    kind = backend.info.device.split(":")[0]
    return DEFAULT_BATCH_TOKENS.get(kind, DEFAULT_BATCH_TOKENS["cpu"])


def engine_loader(config: RunConfig) -> Callable[..., Seq2SeqBackend]:
    """The ``load_backend`` function of the configured engine (imports it: seconds)."""
    if config.backend == "ct2":
        try:
            from summarize.backends.ct2 import load_backend as load_ct2
        except ImportError as exc:
            raise UsageError(
                f"--backend ct2 needs CTranslate2: pip install 'summarize[ct2]' ({exc})"
            ) from None

        def load(model: str, **kwargs: Any) -> Seq2SeqBackend:
            return load_ct2(model, quantization=config.quantization,
                            threads=config.threads, **kwargs)

        return load
    from summarize.backends.hf_torch import load_backend as load_hf

    return load_hf


def load_models(config: RunConfig,
                backends: Mapping[str, Seq2SeqBackend] | None = None, *,
                roles: tuple[str, ...] = ROLES) -> LoadedModels:
    """Load every model the run needs and check each target language (exit 2 on failure).

    Args:
        config: The validated run configuration.
        backends: Backends supplied by the caller, by role: ``"summarizer"``,
            ``"translator"`` (every target) or ``"translator:<lang>"``; the others are
            loaded with the configured engine.
        roles: The sides to load (:data:`ROLES`, both by default); a Ray stage's replica
            loads only its own.
    """
    started = time.perf_counter()
    given = dict(backends or {})
    common = {
        "models_dir": Path(config.models_dir),
        "device": config.device,
        "dtype": config.dtype,
        "trust_remote_code": config.trust_remote_code,
        "allow_pickle": config.allow_pickle,
        "cpu_tuning": config.cpu_tuning,
    }
    load = engine_loader(config) if _needs_engine(config, given) else None
    import_s = time.perf_counter() - started  # importing torch and transformers
    times: dict[str, float] = {}
    summarizer = given.get("summarizer")
    if config.summarize and summarizer is None and "summarizer" in roles:
        assert load is not None
        t0 = time.perf_counter()
        summarizer = load(summarizer_name(config), role="summarizer",
                          max_input_tokens=config.summarizer_generation.get("max_input_tokens"),
                          **common)
        times["summarizer"] = time.perf_counter() - t0
    translators: dict[str, Seq2SeqBackend] = {}
    by_name: dict[str, Seq2SeqBackend] = {}
    if config.translate != "none" and "translators" in roles:
        for lang in preset_targets(config):
            backend = given.get(f"translator:{lang}") or given.get("translator")
            t0 = time.perf_counter()
            if backend is None:
                assert load is not None
                name = translator_for(config, lang)
                if name not in by_name:
                    by_name[name] = load(
                        name, role="translator",
                        max_input_tokens=config.translator_generation.get("max_input_tokens"),
                        **common)
                backend = by_name[name]
            translators[lang] = backend
            times[f"translator:{lang}"] = time.perf_counter() - t0
    models = build_tasks(config, summarizer, translators, times, roles=roles)
    models.import_s = import_s
    models.load_s = time.perf_counter() - started
    models.config = config
    models.max_loaded = config.max_loaded_models
    models.given = given.get("translator")
    if models.given is None:
        engine = load or engine_loader(config)

        def load_routed(name: str) -> Seq2SeqBackend:
            return engine(name, role="translator",
                          max_input_tokens=config.translator_generation.get("max_input_tokens"),
                          **common)

        models.load_backend = load_routed
    return models


def _needs_engine(config: RunConfig, given: Mapping[str, Seq2SeqBackend]) -> bool:
    if config.summarize and "summarizer" not in given:
        return True
    return config.translate != "none" and "translator" not in given and any(
        f"translator:{lang}" not in given for lang in preset_targets(config))


def download_model(model_id: str, models_dir: Path, *, allow_pickle: bool = False) -> Path:
    """Fetch a hub model and store it under ``models_dir/<model_id>`` as safetensors.

    The model is loaded once (so pickle-only repositories are converted, when allowed) and
    saved with ``save_pretrained``; the model card and the hub revision are kept beside it.
    The copy is written to a temporary folder and renamed into place, so an interrupted
    download never leaves a half-written model that later runs would use.

    Raises:
        ModelLoadError: The id is malformed or the model cannot be fetched.
    """
    if not is_hub_id(model_id) or "/" not in model_id:
        raise ModelLoadError(f"'{model_id}' is not a hub model id such as org/name")
    from summarize.backends.hf_torch import load_backend

    backend = load_backend(model_id, role="model", models_dir=models_dir / "__none__",
                           device="cpu", dtype="float32", allow_pickle=allow_pickle,
                           cpu_tuning=False, downloading=True)
    target = models_dir / model_id
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    backend.model.save_pretrained(tmp)
    backend.tokenizer.save_pretrained(tmp)
    try:
        from huggingface_hub import hf_hub_download

        card = hf_hub_download(model_id, "README.md")
        (tmp / "README.md").write_bytes(Path(card).read_bytes())
    except Exception:  # the card only carries the licence; the model works without it
        pass
    (tmp / SOURCE_FILE).write_text(
        json.dumps({"model_id": model_id, "revision": backend.info.revision}, indent=2), "utf-8"
    )
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target
