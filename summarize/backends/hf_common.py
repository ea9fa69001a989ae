"""What every engine of Hugging Face models shares, without torch: finding a model, its
licence and revision, the one-line load errors, its limits, and how a seq2seq model is asked.

The torch engine (:mod:`~summarize.backends.hf_torch`) and the CTranslate2 engine
(:mod:`~summarize.backends.ct2`) both keep the Hugging Face tokenizer, so token counts,
language codes and chunking are the same whichever runs. Importing this module imports
neither torch nor transformers (transformers is imported inside the functions that load).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from summarize.backends import (
    GENERATION_KEYS,
    BackendInfo,
    Generated,
    Prompt,
    Request,
    Task,
    TaskDefaults,
)
from summarize.backends.catalog import SOURCE_FILE, is_hub_id, local_model_dir
from summarize.errors import ConfigError, ModelLoadError
from summarize.languages import LangPlan, detect_family, plan_target, same_language

#: Architectures whose activations overflow in float16 (they run in bfloat16 or float32).
T5_FAMILY = frozenset({"t5", "mt5", "umt5", "longt5"})
#: Summarizer architectures trained on many languages (mT5 XL-Sum, mBART): no pivot needed.
MULTILINGUAL_SUMMARIZERS = frozenset({"mt5", "umt5", "mbart", "mbart50"})
#: Seconds to wait for the Hugging Face Hub before treating it as unreachable.
HUB_PROBE_TIMEOUT_S = 4.0
#: Whether the engines keep transformers' advice and progress bars off the console while
#: they load and run models (the CLI's ``--debug`` turns it off). The same for the command
#: line and the Python API: the tool's own lines only.
QUIET = True
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[int, bool] | None = None


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Within: transformers logs errors only and draws no progress bars ("Both
    max_new_tokens and max_length seem to have been set", "Loading weights"...); restored
    after the outermost one exits (threads may nest). Nothing changes when :data:`QUIET` is
    off."""
    global _quiet_depth, _quiet_saved
    if not QUIET:
        yield
        return
    from transformers.utils import logging as hf_logging

    with _quiet_lock:
        _quiet_depth += 1
        if _quiet_depth == 1:
            _quiet_saved = (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled())
            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                level, bars = _quiet_saved
                hf_logging.set_verbosity(level)
                if bars:
                    hf_logging.enable_progress_bar()


def quietly(function: Any) -> Any:
    """Run ``function`` inside :func:`quiet_transformers` (a decorator for engine calls)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with quiet_transformers():
            return function(*args, **kwargs)

    return wrapper


# --- finding a model ------------------------------------------------------------------------


@functools.cache
def hub_reachable() -> bool:
    """Whether the Hugging Face Hub answers at all (one request, no retries; cached).

    Without this, an unreachable hub costs every file lookup five retries with back-off
    (about 30 s) before the load fails; with it, the load goes straight to the local cache.
    """
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    request = urllib.request.Request(constants.ENDPOINT, method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=HUB_PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False
    return True


def pretrained_kwargs(folder: Path | None) -> dict[str, Any]:
    """Extra ``from_pretrained`` arguments: cache only when the hub cannot be reached."""
    if folder is not None or hub_reachable():
        return {}
    return {"local_files_only": True}


def card_license(folder: Path | None, model_id: str) -> str | None:
    """Read ``license:`` from a model card's front matter (local, or the hub cache)."""
    card: Path | None = folder / "README.md" if folder is not None else None
    if card is None or not card.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model_id, "README.md")
            card = Path(cached) if isinstance(cached, str) else None
        except Exception:  # a missing card only loses the licence
            card = None
    if card is None or not card.is_file():
        return None
    match = re.search(r"^license:\s*(\S.*)$", card.read_text("utf-8", "replace")[:4000], re.M)
    return match.group(1).strip().strip("'\"") if match else None


def model_revision(folder: Path | None, config: Any) -> str | None:
    """The hub commit of a model: from ``models/`` metadata, else the config's own."""
    revision = getattr(config, "_commit_hash", None)
    if folder is not None and (folder / SOURCE_FILE).is_file():
        try:
            revision = json.loads((folder / SOURCE_FILE).read_text("utf-8")).get("revision")
        except (OSError, ValueError):
            pass
    return revision


def flag_of(role: str) -> str:
    """The command-line option that names the model of ``role``."""
    return "--summarizer" if role == "summarizer" else "--translator"


def resolve_config(model: str, *, role: str, models_dir: Path, trust_remote_code: bool,
                   allow_pickle: bool, downloading: bool = False
                   ) -> tuple[Path | None, str, Any]:
    """Find a model and read its config, refusing what must not be loaded.

    Returns:
        (local folder or None, what to pass to ``from_pretrained``, the config).

    Raises:
        ModelLoadError: Not found, pickle-only weights, or remote code.
    """
    folder = local_model_dir(model, models_dir)
    if folder is None and Path(model).expanduser().exists():
        raise ModelLoadError(f"{role} '{model}' is not a folder of model files")
    if folder is None and not is_hub_id(model):
        raise ModelLoadError(f"{role} folder not found: {model}")
    source = str(folder) if folder is not None else model
    if folder is not None and not (folder / "config.json").is_file():
        raise ModelLoadError(f"{role} folder {folder} has no config.json; is it a model folder?")
    if folder is not None and not any(folder.glob("*.safetensors")) and not allow_pickle:
        raise ModelLoadError(
            f"{role} folder {folder} has no .safetensors weights; pickle weights (.bin) can run "
            "code when loaded, so they are refused unless you pass --allow-pickle"
        )
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code,
                                            **pretrained_kwargs(folder))
    except Exception as exc:  # every failure becomes one message
        raise load_error(role, model, folder, exc, trust_remote_code, downloading) from exc
    if getattr(config, "auto_map", None) and not trust_remote_code:
        raise ModelLoadError(
            f"{role} '{model}' asks to run its own code (auto_map in config.json); "
            "refused unless you pass --trust-remote-code"
        )
    return folder, source, config


def load_tokenizer(source: str, folder: Path | None, *, role: str, model: str,
                   trust_remote_code: bool, downloading: bool = False, **kwargs: Any) -> Any:
    """The model's Hugging Face tokenizer (every failure one ModelLoadError)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code,
                                             **pretrained_kwargs(folder), **kwargs)
    except Exception as exc:
        raise load_error(role, model, folder, exc, trust_remote_code, downloading) from exc


def load_error(role: str, model: str, folder: Path | None, exc: Exception,
               trust_remote_code: bool, downloading: bool = False) -> ModelLoadError:
    """One line saying why ``model`` could not be loaded and what to do about it."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "trust_remote_code" in str(exc) and not trust_remote_code:
        return ModelLoadError(
            f"{role} '{model}' asks to run its own code; refused unless you pass "
            "--trust-remote-code"
        )
    if "safetensors" in str(exc):
        return ModelLoadError(
            f"{role} '{model}' has no .safetensors weights; pickle weights can run code when "
            "loaded, so they are refused unless you pass --allow-pickle"
        )
    if folder is not None:
        return ModelLoadError(f"cannot load {role} from {folder}: {text}")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub could not be reached"
    if not offline and not hub_reachable():
        text = "no copy in the local cache either"
    if downloading:
        return ModelLoadError(
            f"cannot download '{model}': {why} ({text}). Run this command on a machine that "
            "reaches huggingface.co (unset HF_HUB_OFFLINE), then copy the models/ folder here"
        )
    return ModelLoadError(
        f"cannot load {role} '{model}': it is not in models/ and {why} ({text}). "
        f"To run offline, run `summarize models download {model}` on a machine with internet "
        f"and copy models/ here, or pass {flag_of(role)} /path/to/model-folder"
    )


def layer_values(config: Any, name: str) -> list[Any]:
    """``name`` in each layer of ``config``'s text model: one value per layer.

    transformers 5.25 marks attributes that vary by layer (Gemma 4's ``head_dim``) and
    refuses to read them from the global config; those come from ``per_layer_config``.
    A config without the attribute gives ``[None] * layers``."""
    text = getattr(config, "text_config", None) or config
    layers = int(getattr(text, "num_hidden_layers", 1) or 1)
    try:
        value = getattr(text, name, None)
    except RuntimeError:  # AmbiguousGlobalPerLayerAttributeError
        per_layer = text.per_layer_config
        return [getattr(per_layer[i], name, None) for i in range(len(per_layer))]
    return [value] * layers


def head_sizes(config: Any) -> list[int]:
    """Each layer's attention head size (``head_dim``, else hidden size / heads)."""
    text = getattr(config, "text_config", None) or config
    heads = layer_values(config, "num_attention_heads")
    hidden = layer_values(config, "hidden_size")
    return [int(d) if d else int(h or 64) // int(n or 1)
            for d, h, n in zip(layer_values(config, "head_dim"), hidden, heads, strict=True)
            ] or [int(getattr(text, "hidden_size", 64))]


def is_seq2seq(config: Any) -> bool:
    """Whether a config is an encoder-decoder model (BART, T5, Marian, NLLB ...)."""
    return bool(getattr(config, "is_encoder_decoder", False))


# --- limits -----------------------------------------------------------------------------------


def encoder_limit(tokenizer: Any, config: Any) -> int:
    """The longest input the model reads, in tokens (tokenizer and position limits)."""
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    for key in ("max_encoder_position_embeddings", "max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    return min(limits) if limits else 512


def input_limit(model_id: str, tokenizer: Any, config: Any, requested: int | None) -> int:
    """The encoder input limit: the model's, or a smaller one the user asked for.

    Raises:
        ConfigError: ``max_input_tokens`` is above what the model's positions allow.
    """
    limit = encoder_limit(tokenizer, config)
    if requested is None:
        return limit
    has_positions = any(isinstance(getattr(config, k, None), int) for k in
                        ("max_encoder_position_embeddings", "max_position_embeddings",
                         "n_positions"))
    if requested > limit and has_positions:
        raise ConfigError(
            f"max_input_tokens = {requested}: model '{model_id}' reads at most {limit} tokens; "
            f"set a value from 8 to {limit}"
        )
    return requested


def decoder_limit(config: Any) -> int | None:
    """Most tokens the decoder can emit (learned positions), or None (relative positions)."""
    for key in ("max_decoder_position_embeddings", "max_position_embeddings"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 2:
            return value - 1  # the decoder start token takes one position
    return None


def seq2seq_defaults(config: Any, generation_config: Any, task: Task
                     ) -> tuple[str, TaskDefaults]:
    """What a seq2seq model's config ships for ``task``: its input prefix and defaults.

    The summarization settings come from ``task_specific_params`` (distilbart's beams and
    lengths); T5-family models get their ``summarize: `` prefix. A ``max_length`` there or in
    the generation config (other than transformers' built-in 20) becomes the output limit.
    """
    params = getattr(config, "task_specific_params", None) or {}
    gen_max = getattr(generation_config, "max_length", None)
    # 20 is transformers' built-in default, not a choice the model made
    max_new = gen_max if gen_max and gen_max != 20 else None
    if task != "summarize":
        return "", TaskDefaults({}, max_new)
    shipped = dict(params.get("summarization", {})) if is_seq2seq(config) else {}
    prefix = str(shipped.pop("prefix", "") or "")
    if not prefix and config.model_type in T5_FAMILY:
        prefix = "summarize: "
    shipped_max = shipped.pop("max_length", None)
    settings = {k: v for k, v in shipped.items() if k in GENERATION_KEYS}
    return prefix, TaskDefaults(settings, max_new or shipped_max)


# --- outputs ----------------------------------------------------------------------------------


def end_ids(generation_config: Any) -> set[int]:
    """The token ids that end an output (the generation config's ``eos_token_id``)."""
    eos = generation_config.eos_token_id
    return set(eos if isinstance(eos, list) else [eos] if eos is not None else [])


def cut_outputs(rows: list[list[int]], limits: Sequence[int], ends: set[int], pad: int | None,
                skip: int = 1) -> tuple[list[list[int]], list[bool], int]:
    """Cut each generated row to its own limit and first end token.

    Args:
        rows: Generated ids per request (after ``skip`` leading ids: a decoder start token).
        limits: Per-request ``max_new_tokens``.
        ends: Ids that end an output.
        pad: The pad id (padding is not counted).
        skip: Leading ids of each row that are not output.

    Returns:
        (token rows, whether each stopped at its limit with no end token, number of tokens
        kept, padding excluded).
    """
    out: list[list[int]] = []
    hit: list[bool] = []
    n_out = 0
    for row, limit in zip(rows, limits, strict=True):
        tokens = row[skip:skip + limit]
        ended = False
        for i, tok in enumerate(tokens):
            if tok in ends:
                tokens = tokens[: i + 1]
                ended = True
                break
        kept = [t for t in tokens if t != pad]
        n_out += len(kept)
        hit.append(not ended and len(tokens) >= limit)
        out.append(tokens)
    return out, hit, n_out


def row_scores(logprobs: list[list[float]], rows: list[list[int]], pad: int | None
               ) -> list[tuple[float, float] | None]:
    """Mean and minimum log-probability of each cut row's tokens (pads left out).

    Args:
        logprobs: Per request, the log-probability of each generated token (start token
            excluded), as long as the uncut batch.
        rows: The rows as :func:`cut_outputs` kept them.
        pad: The pad token id.

    Returns:
        ``(mean, min)`` per row, None for a row with no token.
    """
    out: list[tuple[float, float] | None] = []
    for values, row in zip(logprobs, rows, strict=True):
        kept = [v for v, tok in zip(values, row, strict=False) if tok != pad]
        out.append((math.fsum(kept) / len(kept), min(kept)) if kept else None)
    return out


def merge_parts(n: int, parts: list[tuple[list[int], Generated]]) -> Generated:
    """One Generated in request order from those of sub-batches (``(indices, output)``)."""
    texts = [""] * n
    hits = [False] * n
    scores: list[tuple[float, float] | None] = [None] * n
    has_scores = False
    n_in = n_out = 0
    for index, part in parts:
        n_in += part.input_tokens
        n_out += part.output_tokens
        has_scores = has_scores or part.scores is not None
        for j, i in enumerate(index):
            texts[i] = part.texts[j]
            hits[i] = part.hit_limit[j] if part.hit_limit else False
            scores[i] = part.scores[j] if part.scores else None
    return Generated(texts, n_in, n_out, hits, scores if has_scores else None)


# --- how a seq2seq model is asked --------------------------------------------------------------


class Seq2SeqAsking:
    """The contract's asking side for a Hugging Face seq2seq model (torch and ct2 engines).

    A summary request is the summary prefix (the user's, the model's ``task_specific_params``
    or T5's ``summarize: ``) and the text; a translation request is the language plan of its
    pair (:func:`summarize.languages.plan_target`: ``src_lang`` on the tokenizer, a language
    token id first in the input, a forced first output token) and the text, or the user's
    prefix and the text. Token counts are of the encoder input, special tokens included.

    Call :meth:`_init_asking` from ``__init__``; the instance needs ``tokenizer``,
    ``config``, ``generation_config`` and ``info``.
    """

    translation_unit = "sentence"
    tokenizer: Any
    config: Any
    generation_config: Any
    info: BackendInfo

    def _init_asking(self, model_id: str, prompts: Mapping[str, Prompt] | None) -> None:
        self._prompts = dict(prompts or {})
        self._limits = {task: input_limit(model_id, self.tokenizer, self.config,
                                          prompt.max_input_tokens)
                        for task, prompt in self._prompts.items()}
        self.max_input_tokens = encoder_limit(self.tokenizer, self.config)
        self.max_output_tokens = decoder_limit(self.config)
        shipped_prefix, _ = seq2seq_defaults(self.config, self.generation_config, "summarize")
        own = self._prompts.get("summarize", Prompt()).prefix
        self._summary_prefix = shipped_prefix if own is None else own
        self._translation_prefix = self._prompts.get("translate", Prompt()).prefix
        self._plans: dict[tuple[str, str], LangPlan] = {}
        # Tokenizers of NLLB, M2M100 and mBART keep the source language as state: set it
        # per call under this lock, so one shared tokenizer serves every language pair.
        self._lock = threading.Lock()

    def task_defaults(self, task: Task) -> TaskDefaults:
        """What the model ships for ``task`` (generation settings, output limit)."""
        return seq2seq_defaults(self.config, self.generation_config, task)[1]

    def input_limit(self, task: Task, max_new_tokens: int) -> int:
        """The encoder's input limit, or the task's smaller ``max_input_tokens`` (the output
        has positions of its own)."""
        return self._limits.get(task, self.max_input_tokens)

    def summarizes(self, lang: str) -> bool:
        """English, or any language for a multilingual summarizer (mT5, mBART)."""
        return same_language(lang, "en") or self.info.family in MULTILINGUAL_SUMMARIZERS

    def check_languages(self, task: Task, source: str, target: str) -> None:
        """Refuse a translation pair the model's vocabulary cannot serve."""
        if task == "translate":
            self.plan(source, target)

    def plan(self, source: str, target: str) -> LangPlan:
        """The language plan of a pair for this model's vocabulary (cached)."""
        key = (source, target)
        if key not in self._plans:
            self._plans[key] = plan_target(self.tokenizer, self.config, target, source,
                                           model_name=self.info.model_id)
        return self._plans[key]

    def language_family(self) -> str:
        """How the model is told its languages (``marian``, ``nllb``, ``madlad`` ...)."""
        return detect_family(self.config, self.tokenizer)

    def _asked(self, request: Request) -> tuple[str, LangPlan | None, int | None]:
        """(text as the encoder reads it, the pair's plan, a language token id to put first)."""
        if request.task == "summarize":
            return self._summary_prefix + request.text, None, None
        plan = self.plan(request.source_lang, request.target_lang)
        if self._translation_prefix is not None:
            return self._translation_prefix + request.text, plan, None
        return plan.prefix + request.text, plan, plan.prefix_token_id

    @quietly
    def _ids(self, requests: Sequence[Request]) -> tuple[list[list[int]], list[LangPlan | None]]:
        """The encoder input ids of each request (special tokens included) and its plan."""
        asked = [self._asked(r) for r in requests]
        ids: list[list[int] | None] = [None] * len(requests)
        by_src: dict[str | None, list[int]] = {}
        for i, (_, plan, _) in enumerate(asked):
            by_src.setdefault(plan.src_lang if plan is not None else None, []).append(i)
        for src_lang, index in by_src.items():
            rows = self._tokenize([asked[i][0] for i in index], src_lang)
            for i, row in zip(index, rows, strict=True):
                first = asked[i][2]
                ids[i] = [first, *row] if first is not None else list(row)
        return [row for row in ids if row is not None], [plan for _, plan, _ in asked]

    def _tokenize(self, texts: list[str], src_lang: str | None) -> list[list[int]]:
        with self._lock:
            if src_lang is None or not hasattr(self.tokenizer, "src_lang"):
                return self.tokenizer(texts, add_special_tokens=True,
                                      truncation=False)["input_ids"]
            previous = self.tokenizer.src_lang
            self.tokenizer.src_lang = src_lang
            try:
                return self.tokenizer(texts, add_special_tokens=True,
                                      truncation=False)["input_ids"]
            finally:
                self.tokenizer.src_lang = previous

    @quietly
    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        """Answer the requests: one engine batch (``_generate``) per forced first token
        (see Backend)."""
        ids, plans = self._ids(requests)
        groups = group_by_plan(requests, plans)
        if len(groups) == 1:
            return self._generate(ids, plans[0], settings, list(max_new_tokens))
        return merge_parts(len(requests), [
            (g, self._generate([ids[i] for i in g], plans[g[0]], settings,
                               [max_new_tokens[i] for i in g])) for g in groups])

    def _generate(self, ids: list[list[int]], plan: LangPlan | None,
                  settings: Mapping[str, Any], max_new_tokens: list[int]) -> Generated:
        raise NotImplementedError  # the engine's batch

    def count_tokens(self, requests: Sequence[Request]) -> list[int]:
        """Encoder tokens of each request, special and language tokens included."""
        if not requests:
            return []
        return [len(row) for row in self._ids(requests)[0]]

    def prompt_tokens(self, request: Request) -> int:
        """0: a seq2seq model's input is the text (its prefix and tags count with it)."""
        return 0


def group_by_plan(requests: Sequence[Request], plans: Sequence[LangPlan | None]
                  ) -> list[list[int]]:
    """Indices of the requests that can share one ``generate`` call (same forced first
    token), in order of first appearance."""
    groups: dict[int | None, list[int]] = {}
    for i, plan in enumerate(plans):
        groups.setdefault(plan.forced_bos_token_id if plan is not None else None, []).append(i)
    return list(groups.values())
