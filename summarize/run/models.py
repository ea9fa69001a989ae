"""Model loading for a run: pick the engine, load each backend once, build the two tasks.

``load_models`` loads every model the run needs (the summarizer, one translator per model
used by the targets) and checks each target language against its model's vocabulary, so
every problem surfaces as one usage error (exit 2) before any article. A caller of the
Python API may supply backends of its own (``backends=``); they go through the same checks.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.backends import Backend, Prompt
from summarize.backends.catalog import (
    DEFAULT_CHAT,
    DEFAULT_SUMMARIZER,
    default_translator,
    gpu_present,
)
from summarize.backends.registry import backend_spec
from summarize.errors import UsageError
from summarize.languages import same_language
from summarize.records import ModelInfo
from summarize.settings import RunConfig
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
    load_backend: Callable[[str], Backend] | None = None
    given: Backend | None = None
    max_loaded: int = 4
    _pool: OrderedDict[str, Backend] = field(default_factory=OrderedDict)
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

    def summarizes(self, lang: str) -> bool:
        """Whether the summarizer can summarize ``lang`` text in that language (mT5 or
        mBART summarizers, chat models; an English-only one cannot)."""
        return self.summarizer is not None and self.summarizer.backend.summarizes(lang)

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
            preset.check(source)  # raises for a pair the model cannot translate
            return preset, preset.backend.info.model_id
        name = translator_for(self.config, target, source)
        if self.given is not None:
            name = self.given.info.model_id
        if preset is not None and preset.backend.info.model_id == name:
            preset.check(source)
            return preset, name
        key = (name, target)
        if key not in self._tasks:
            backend = self.given if self.given is not None else self._backend(name)
            budget = budget_for(self.config, backend)
            task = Translator(backend, target, dict(self.config.translator_role.settings), budget,
                              source_lang=source)
            self._tasks[key] = task
            self.infos.append(ModelInfo.of(f"translator:{source}-{target}", backend.info, 0.0))
        task = self._tasks[key]
        task.check(source)
        return task, name

    def _backend(self, name: str) -> Backend:
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


def translator_for(config: RunConfig, lang: str, source: str | None = None) -> str:
    """The translation model used into ``lang`` from ``source`` (default: the configured
    source; English when it is detected per article): the pair's own model
    (``--translator ja-en=MODEL``), the target's (``ko=MODEL``), the one for every pair
    (``--translator MODEL``), else the per-pair default."""
    source = source or config.source_lang
    source = "en" if source == "auto" else source
    role = config.translator_role
    chosen = role.models.get(f"{source}-{lang}") or role.models.get(lang) or role.model
    if chosen:
        return chosen
    if config.backend == "vllm" and config.summarizer_role.model:
        return config.summarizer_role.model  # vLLM serves chat models: the same one
    if uses_chat_defaults(config):
        return DEFAULT_CHAT  # with the default summarizer: one model for both roles
    return default_translator(source, lang)


def uses_chat_defaults(config: RunConfig) -> bool:
    """Whether the run's defaults are the chat model (a GPU) rather than the seq2seq
    models (a CPU): ``--backend vllm``, ``--device cuda``, or ``--device auto`` on a
    machine with an NVIDIA GPU (and the torch engine)."""
    if config.backend == "vllm" or config.device.startswith("cuda"):
        return True
    return config.device == "auto" and config.backend in ("torch", "auto") and gpu_present()


def summarizer_name(config: RunConfig) -> str:
    """The summarization model of the run."""
    if config.summarizer_role.model:
        return config.summarizer_role.model
    return DEFAULT_CHAT if uses_chat_defaults(config) else DEFAULT_SUMMARIZER


def build_tasks(
    config: RunConfig,
    summarizer: Backend | None,
    translators: Mapping[str, Backend],
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
        budget = budget_for(config, summarizer)
        summary_task = Summarizer(summarizer, dict(config.summarizer_role.settings), budget,
                                  base_source(config))
        infos.append(ModelInfo.of("summarizer", summarizer.info, times.get("summarizer", 0.0)))
    tasks: dict[str, Translator] = {}
    if config.translate != "none" and "translators" in roles:
        for lang in preset_targets(config):
            backend = translators.get(lang)
            if backend is None:
                raise UsageError(f"no translator backend was given for {lang!r}")
            budget = budget_for(config, backend)
            task = Translator(backend, lang, dict(config.translator_role.settings), budget,
                              source_lang=base_source(config))
            tasks[lang] = task
            info = ModelInfo.of(f"translator:{lang}", backend.info,
                                times.get(f"translator:{lang}", 0.0))
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


def _default_budget(backend: Backend) -> int:
    own = getattr(backend, "default_batch_tokens", None)
    if own:
        return int(own)
    kind = backend.info.device.split(":")[0]
    return DEFAULT_BATCH_TOKENS.get(kind, DEFAULT_BATCH_TOKENS["cpu"])


#: The "budget" of a backend that batches by itself: every request of a round in one call.
WINDOW = 1 << 62


def budget_for(config: RunConfig, backend: Backend) -> TokenBudget:
    """The token budget of a task over ``backend``: ``--batch-tokens``, the device's
    default, or the whole window for a backend that batches by itself."""
    if getattr(backend, "batches_itself", False):
        return TokenBudget(WINDOW, max_batch=WINDOW)
    return TokenBudget(config.batch_tokens or _default_budget(backend))


def role_prompt(config: RunConfig, role: str) -> Prompt:
    """How the user asks the task of ``role`` (its ``[summarizer]``/``[translator]`` table)."""
    table = (config.summarizer_role if role == "summarizer" else config.translator_role).settings
    return Prompt(prefix=table.get("prefix"), system=table.get("system"),
                  template=table.get("prompt"), sentences=table.get("sentences"),
                  max_input_tokens=table.get("max_input_tokens"),
                  chat_template=table.get("chat_template"))


def engine_loader(config: RunConfig) -> Callable[..., Backend]:
    """Load a model by name with the configured engine, for the tasks it serves.

    The returned ``load(name, tasks=("translate",))`` passes each task's prompt settings
    (:func:`role_prompt`) and the engine's own options; the engine is imported on the first
    call (seconds for torch).
    """
    spec = backend_spec(config.backend)
    common = {
        "models_dir": Path(config.models_dir),
        "device": config.device,
        "dtype": config.dtype,
        "trust_remote_code": config.trust_remote_code,
        "allow_pickle": config.allow_pickle,
        "cpu_tuning": config.cpu_tuning,
        **engine_options(config),
    }
    prompts = {"summarize": role_prompt(config, "summarizer"),
               "translate": role_prompt(config, "translator")}
    loader: list[Callable[..., Backend]] = []

    def load(name: str, tasks: tuple[str, ...] = ("translate",), share: float = 1.0
             ) -> Backend:
        if not loader:
            loader.append(spec.loader())
        role = "summarizer" if tasks == ("summarize",) else "translator"
        if len(tasks) > 1:
            role = "summarizer and translator"
        return loader[0](name, role=role, prompts={t: prompts[t] for t in tasks},
                         memory_share=share, **common)

    return load


def engine_options(config: RunConfig) -> dict[str, Any]:
    """The configured engine's own options (``quantization`` and ``threads`` for ct2)."""
    spec = backend_spec(config.backend)
    return {option.name: config.backend_options.get(option.name, option.default)
            for option in spec.options}


def load_models(config: RunConfig,
                backends: Mapping[str, Backend] | None = None, *,
                roles: tuple[str, ...] = ROLES) -> LoadedModels:
    """Load every model the run needs and check each target language (exit 2 on failure).

    A model named for both roles (a chat model that summarizes and translates) is loaded
    once and serves both.

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
    load = engine_loader(config)
    times: dict[str, float] = {}
    wanted: dict[str, list[str]] = {}  # model name -> the tasks it serves at start
    summarizer = given.get("summarizer")
    summary_name = summarizer_name(config)
    if config.summarize and summarizer is None and "summarizer" in roles:
        wanted.setdefault(summary_name, []).append("summarize")
    translator_names: dict[str, str] = {}
    if config.translate != "none" and "translators" in roles:
        for lang in preset_targets(config):
            if given.get(f"translator:{lang}") or given.get("translator"):
                continue
            name = translator_for(config, lang)
            translator_names[lang] = name
            if "translate" not in wanted.setdefault(name, []):
                wanted[name].append("translate")
    import_s = 0.0
    if wanted:
        backend_spec(config.backend).loader()  # the engine's import (torch, transformers)
        import_s = time.perf_counter() - started
    loaded: dict[str, Backend] = {}
    spent: dict[str, float] = {}
    for name, tasks in wanted.items():
        t0 = time.perf_counter()
        # models that load at start share one GPU's memory (vLLM reserves its share)
        loaded[name] = load(name, tuple(tasks), 1.0 / len(wanted))
        spent[name] = time.perf_counter() - t0
    if summary_name in spent and config.summarize and "summarizer" in roles:
        times["summarizer"] = spent.pop(summary_name)
    if summarizer is None and summary_name in loaded and "summarize" in wanted[summary_name]:
        summarizer = loaded[summary_name]
    translators: dict[str, Backend] = {}
    if config.translate != "none" and "translators" in roles:
        for lang in preset_targets(config):
            backend = given.get(f"translator:{lang}") or given.get("translator")
            if backend is None:
                name = translator_names[lang]
                backend = loaded[name]
                times[f"translator:{lang}"] = spent.pop(name, 0.0)
            translators[lang] = backend
    models = build_tasks(config, summarizer, translators, times, roles=roles)
    models.import_s = import_s
    models.load_s = time.perf_counter() - started
    models.config = config
    models.max_loaded = config.max_loaded_models
    models.given = given.get("translator")
    if models.given is None:
        models.load_backend = load
    return models


def describe_models(config: RunConfig, models: LoadedModels) -> str:
    """One line saying which models the run uses, and which of them are defaults."""
    parts = []
    for info in models.infos:
        given = (config.summarizer_role.model if info.role == "summarizer"
                 else config.translator_role.model or config.translator_role.models)
        why = ""
        if not given:
            why = " (default with a GPU)" if uses_chat_defaults(config) else " (default)"
        parts.append(f"{info.role.replace('translator:', 'translator ')} {info.model_id}{why}")
    return "models: " + "; ".join(parts) if parts else "models: none"


def describe_engine(config: RunConfig) -> str | None:
    """The line saying which engine ``--backend auto`` chose and why (None when the user
    named one)."""
    if config.backend_choice.startswith(f"{config.backend}: "):
        return f"engine: {config.backend_choice}"
    return None
