"""Load Hugging Face seq2seq models and run batched generation with transformers + torch.

This is the only module of the package that imports torch or transformers.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    LogitsProcessor,
    LogitsProcessorList,
)

from summarize.backends import (
    GENERATION_KEYS,
    BackendInfo,
    BatchOutOfMemory,
    Generated,
    Task,
    TaskDefaults,
)
from summarize.backends.catalog import KNOWN_LICENSES, SOURCE_FILE, is_hub_id, local_model_dir
from summarize.backends.cpu_tuning import apply_cpu_tuning
from summarize.errors import ConfigError, ModelLoadError
from summarize.languages import LangPlan, plan_target
from summarize.tasks.batching import make_batches

log = logging.getLogger(__name__)

_FP16_UNSAFE = frozenset({"t5", "mt5", "umt5", "longt5"})  # activations overflow in fp16
# On CPU the encoder runs in length buckets of at most this many tokens (padding counted):
# batching gains a CPU encoder little, while padding each text to its batch's longest costs
# it in full. The decoder still runs the whole batch in one generate().
CPU_ENCODER_BUDGET = 2048


#: Seconds to wait for the Hugging Face Hub before treating it as unreachable.
HUB_PROBE_TIMEOUT_S = 4.0


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


def select_device(spec: str) -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into a device, checking it exists.

    Raises:
        ConfigError: The device is unknown or not available on this machine.
    """
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", spec):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {spec}: CUDA is not available on this machine")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
        return torch.device(f"cuda:{index}")
    if spec == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("--device mps: MPS is not available on this machine")
        return torch.device("mps")
    raise ConfigError(f"unknown device '{spec}'; expected one of: auto, cpu, cuda, cuda:N, mps")


def select_dtype(spec: str, device: torch.device, model_type: str) -> torch.dtype:
    """Pick the compute dtype: bf16 where the GPU has it, else fp16 except for T5; fp32 on CPU."""
    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if spec != "auto":
        if spec not in names:
            raise ConfigError(
                f"unknown dtype '{spec}'; expected one of: auto, float32, bfloat16, float16"
            )
        return names[spec]
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return torch.bfloat16
        return torch.float32 if model_type in _FP16_UNSAFE else torch.float16
    if device.type == "mps":
        return torch.float32 if model_type in _FP16_UNSAFE else torch.float16
    return torch.float32


def device_name(device: torch.device) -> str:
    """Human name of the device (GPU model on CUDA)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    import platform

    return platform.processor() or platform.machine() or "cpu"


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


def _has_safetensors(folder: Path) -> bool:
    return any(folder.glob("*.safetensors"))


class _ChosenLogProbs(LogitsProcessor):
    """Keeps, step by step, the log-probability of the token each row chose (no beams).

    Put last in the processor list it sees the scores the token is chosen from (after the
    settings' masks and penalties; sampling warpers come after it). It keeps one step's
    scores and their log-sum-exp; at the next step (or :meth:`finish`) it gathers the token
    that was chosen, so memory stays one ``(batch, vocab)`` tensor instead of one per step.
    """

    def __init__(self) -> None:
        self.steps: list[torch.Tensor] = []
        self._scores: torch.Tensor | None = None
        self._lse: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._scores is not None:
            self._take(input_ids[:, -1])
        self._scores = scores
        self._lse = torch.logsumexp(scores.float(), dim=-1)
        return scores

    def _take(self, chosen: torch.Tensor) -> None:
        assert self._scores is not None and self._lse is not None
        picked = self._scores.gather(1, chosen[:, None].to(self._scores.device)).squeeze(1)
        self.steps.append(picked.float() - self._lse)
        self._scores = self._lse = None

    def finish(self, sequences: torch.Tensor) -> torch.Tensor:
        """``(batch, generated tokens)`` log-probabilities, given generate()'s output."""
        if self._scores is not None:
            self._take(sequences[:, -1])
        if not self.steps:
            return sequences.new_zeros((sequences.shape[0], 0), dtype=torch.float32)
        return torch.stack(self.steps, dim=1)


def row_scores(logprobs: list[list[float]], rows: list[list[int]], pad: int | None
               ) -> list[tuple[float, float] | None]:
    """Mean and minimum log-probability of each cut row's tokens (pads left out).

    Args:
        logprobs: Per text, the log-probability of each generated token (start token
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


class HFTokenization:
    """The contract's language plan and token counts over a Hugging Face tokenizer.

    Shared by the engines that keep the Hugging Face tokenizer (torch, CTranslate2), so
    token counts, language codes and chunking are the same whichever engine runs. Needs
    ``tokenizer``, ``config``, ``info`` and a ``_lock`` (``threading.Lock``) on the instance.
    """

    tokenizer: Any
    config: Any
    info: BackendInfo
    _lock: threading.Lock

    def plan_language(self, target: str, source: str) -> LangPlan:
        """The language plan for this model's vocabulary (see languages.plan_target)."""
        return plan_target(self.tokenizer, self.config, target, source,
                           model_name=self.info.model_id)

    def _tokenize(self, texts: Sequence[str], plan: LangPlan | None, **kwargs: Any) -> Any:
        src_lang = plan.src_lang if plan is not None else None
        with self._lock:
            if src_lang is None or not hasattr(self.tokenizer, "src_lang"):
                return self.tokenizer(list(texts), **kwargs)
            previous = self.tokenizer.src_lang
            self.tokenizer.src_lang = src_lang
            try:
                return self.tokenizer(list(texts), **kwargs)
            finally:
                self.tokenizer.src_lang = previous

    def count_tokens(self, texts: Sequence[str], plan: LangPlan | None = None) -> list[int]:
        """Encoder tokens of each text, special tokens included."""
        if not texts:
            return []
        ids = self._tokenize(texts, plan, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(x) for x in ids]


class HFBackend(HFTokenization):
    """A transformers seq2seq model and its tokenizer on one device (see Seq2SeqBackend).

    Attributes:
        info: What stats.json records (model, revision, licence, device, dtype, tuning).
        max_input_tokens: Longest input the encoder accepts, in tokens.
        max_output_tokens: Most tokens the decoder can emit, or None.
        tokenizer: The Hugging Face tokenizer (engine-specific; the tasks never use it).
        model: The torch model (engine-specific).
        return_scores: Whether :meth:`generate` returns token log-probability scores
            (``Generated.scores``); on by default.
    """

    return_scores: bool = True

    def __init__(self, model_id: str, tokenizer: Any, model: Any, *, path: str,
                 revision: str | None, license: str | None, max_input_tokens: int | None = None,
                 tuning: dict[str, Any] | None = None):
        self.tokenizer = tokenizer
        self.model = model
        self.config = model.config
        self.device = model.device
        self.info = BackendInfo(
            model_id=model_id, path=path, revision=revision, license=license,
            family=model.config.model_type, engine="torch", device=str(model.device),
            device_name=device_name(model.device),
            dtype=str(model.dtype).replace("torch.", ""), tuning=dict(tuning or {}),
        )
        self.max_input_tokens = _input_limit(model_id, tokenizer, model.config, max_input_tokens)
        self.max_output_tokens = decoder_limit(model.config)
        # Tokenizers of NLLB, M2M100 and mBART keep the source language as state: set it
        # per call under this lock, so one shared tokenizer serves every language pair.
        self._lock = threading.Lock()

    def task_defaults(self, task: Task) -> TaskDefaults:
        """What the model ships for ``task`` (prefix, generation settings, output limit)."""
        return task_defaults(self.config, self.model.generation_config, task)

    def generate(
        self,
        texts: Sequence[str],
        settings: Mapping[str, Any],
        max_new_tokens: Sequence[int],
        plan: LangPlan | None = None,
    ) -> Generated:
        """Generate one output per text in a single padded batch (see Seq2SeqBackend)."""
        kwargs = dict(settings)
        kwargs.pop("max_length", None)
        if kwargs.get("cache_implementation") == "dynamic":
            kwargs.pop("cache_implementation")  # transformers' default
        kwargs["max_new_tokens"] = max(max_new_tokens)
        if plan is not None and plan.forced_bos_token_id is not None:
            kwargs["forced_bos_token_id"] = plan.forced_bos_token_id
        kwargs.setdefault("do_sample", False)
        # A forced EOS lands on the batch's last step, which depends on the batch-mates'
        # limits; without it each text's output depends on that text alone.
        kwargs.setdefault("forced_eos_token_id", None)
        enc = self._tokenize(texts, plan, return_tensors="pt", padding=True, truncation=False)
        if self.device.type == "cuda":
            # pinned host memory lets the copy run asynchronously, overlapping the launch
            enc = {k: v.pin_memory().to(self.device, non_blocking=True) for k, v in enc.items()}
        else:
            enc = {k: v.to(self.device) for k, v in enc.items()}
        beams = int(kwargs.get("num_beams") or self.model.generation_config.num_beams or 1)
        tracker: _ChosenLogProbs | None = None
        if self.return_scores and beams > 1:
            kwargs.update(output_scores=True, return_dict_in_generate=True)
        elif self.return_scores:
            tracker = _ChosenLogProbs()
            kwargs["logits_processor"] = LogitsProcessorList([tracker])
        try:
            with torch.inference_mode():
                if self.device.type == "cpu" and len(texts) > 1:
                    encoded = self._encode(enc)
                    if encoded is not None:
                        kwargs["encoder_outputs"] = encoded
                out = self.model.generate(**enc, **kwargs)  # (batch, 1 + new tokens)
                logprobs = None
                if self.return_scores and beams > 1:
                    logprobs = self.model.compute_transition_scores(
                        out.sequences, out.scores, out.beam_indices, normalize_logits=False)
                    out = out.sequences
                elif tracker is not None:
                    logprobs = tracker.finish(out)
        except torch.OutOfMemoryError as exc:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise BatchOutOfMemory(str(exc)) from exc
        rows, hit_limit, n_out = cut_outputs(
            out.cpu().tolist(), max_new_tokens, self.model.generation_config
        )
        scores = None
        if logprobs is not None:
            scores = row_scores(logprobs.float().cpu().tolist(), rows,
                                self.model.generation_config.pad_token_id)
        decoded = self.tokenizer.batch_decode(
            rows, skip_special_tokens=True, clean_up_tokenization_spaces=True
        )
        n_in = int(enc["attention_mask"].sum())
        return Generated([d.strip() for d in decoded], n_in, n_out, hit_limit, scores)

    def _encode(self, enc: dict[str, torch.Tensor]) -> Any | None:
        """Encoder outputs of a padded batch, computed in length buckets of similar rows.

        Each bucket is cut to its own longest row, so short texts are not run through the
        encoder with the padding of the batch's longest. Rows keep their places; a row's
        padded tail stays zero and is masked by the attention mask as before. Returns None
        (generate() then runs the encoder itself) for left-padding tokenizers.
        """
        if getattr(self.tokenizer, "padding_side", "right") != "right":
            return None
        from transformers.modeling_outputs import BaseModelOutput

        ids, mask = enc["input_ids"], enc["attention_mask"]
        lengths = mask.sum(dim=1).tolist()
        encoder = self.model.get_encoder()
        hidden = None
        for group in make_batches(lengths, CPU_ENCODER_BUDGET):
            longest = max(lengths[i] for i in group)
            rows = torch.tensor(group, device=ids.device)
            states = encoder(input_ids=ids[rows, :longest],
                             attention_mask=mask[rows, :longest]).last_hidden_state
            if hidden is None:
                hidden = states.new_zeros((ids.shape[0], ids.shape[1], states.shape[-1]))
            hidden[rows, :longest] = states
        return BaseModelOutput(last_hidden_state=hidden)

    def close(self) -> None:
        """Free the device memory held by the model."""
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def cut_outputs(rows: list[list[int]], limits: Sequence[int], generation_config: Any
                ) -> tuple[list[list[int]], list[bool], int]:
    """Cut each generated row to its own limit and first end token.

    Args:
        rows: Generated ids per text, starting with the decoder start token.
        limits: Per-text ``max_new_tokens``.
        generation_config: The model's, for its end and pad token ids.

    Returns:
        (token rows without the start token, whether each stopped at its limit with no end
        token, number of tokens kept, padding excluded).
    """
    eos = generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    pad = generation_config.pad_token_id
    out: list[list[int]] = []
    hit: list[bool] = []
    n_out = 0
    for row, limit in zip(rows, limits, strict=True):
        tokens = row[1:1 + limit]  # drop the decoder start token; cut to this text's limit
        ended = False
        for i, tok in enumerate(tokens):
            if tok in eos_ids:
                tokens = tokens[: i + 1]
                ended = True
                break
        kept = [t for t in tokens if t != pad]
        n_out += len(kept)
        hit.append(not ended and len(tokens) >= limit)
        out.append(tokens)
    return out, hit, n_out


def _encoder_limit(tokenizer: Any, config: Any) -> int:
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


def _input_limit(model_id: str, tokenizer: Any, config: Any, requested: int | None) -> int:
    """The encoder input limit: the model's, or a smaller one the user asked for.

    Raises:
        ConfigError: ``max_input_tokens`` is above what the model's positions allow.
    """
    limit = _encoder_limit(tokenizer, config)
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


def task_defaults(config: Any, generation_config: Any, task: Task) -> TaskDefaults:
    """What a model's config ships for ``task``: prefix, generation settings, output limit.

    The summarization settings come from ``task_specific_params`` (distilbart's beams and
    lengths); T5-family models get their ``summarize: `` prefix. A ``max_length`` there or in
    the generation config (other than transformers' built-in 20) becomes the output limit.
    """
    params = getattr(config, "task_specific_params", None) or {}
    gen_max = getattr(generation_config, "max_length", None)
    # 20 is transformers' built-in default, not a choice the model made
    max_new = gen_max if gen_max and gen_max != 20 else None
    if task != "summarization":
        return TaskDefaults("", {}, max_new)
    shipped = dict(params.get("summarization", {})) if config.is_encoder_decoder else {}
    prefix = str(shipped.pop("prefix", "") or "")
    if not prefix and config.model_type in _FP16_UNSAFE:
        prefix = "summarize: "
    shipped_max = shipped.pop("max_length", None)
    settings = {k: v for k, v in shipped.items() if k in GENERATION_KEYS}
    return TaskDefaults(prefix, settings, max_new or shipped_max)


def load_backend(
    model: str,
    *,
    role: str,
    models_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    max_input_tokens: int | None = None,
    cpu_tuning: bool = True,
    downloading: bool = False,
) -> HFBackend:
    """Load a seq2seq model from a local folder, ``models_dir`` or the hub.

    Args:
        model: Hub id (``Helsinki-NLP/opus-mt-tc-big-en-ko``) or a folder.
        role: "summarizer" or "translator", used in messages.
        models_dir: Local model store searched before the hub.
        device: Device spec (see :func:`select_device`).
        dtype: Dtype spec (see :func:`select_dtype`).
        trust_remote_code: Allow a model that ships its own Python code.
        allow_pickle: Allow ``.bin`` pickle weights when no safetensors exist.
        max_input_tokens: A smaller encoder input limit than the model's.
        cpu_tuning: Apply :mod:`summarize.backends.cpu_tuning` on float32 CPU models.
        downloading: Called by ``summarize models download`` (changes the advice given when
            the hub cannot be reached).

    Raises:
        ModelLoadError: The model cannot be found, downloaded or loaded.
        ConfigError: Bad device or dtype, or ``max_input_tokens`` above the model's limit.
    """
    torch_device = select_device(device)
    folder, source, config = resolve_config(model, role=role, models_dir=models_dir,
                                            trust_remote_code=trust_remote_code,
                                            allow_pickle=allow_pickle, downloading=downloading)
    flag = "--summarizer" if role == "summarizer" else "--translator"
    torch_dtype = select_dtype(dtype, torch_device, config.model_type)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code,
                                                  **pretrained_kwargs(folder))
        loaded = _load_model(source, torch_dtype, trust_remote_code, allow_pickle, torch_device,
                             **pretrained_kwargs(folder))
    except ModelLoadError:
        raise
    except Exception as exc:
        raise _load_error(role, model, flag, folder, exc, trust_remote_code, downloading) from exc
    loaded.to(torch_device)
    loaded.eval()
    tuning: dict[str, Any] = {}
    if torch_device.type == "cpu" and torch_dtype == torch.float32:
        tuning = apply_cpu_tuning(loaded, cpu_tuning)
    return HFBackend(
        model,
        tokenizer,
        loaded,
        path=str(folder) if folder is not None else "",
        revision=model_revision(folder, config),
        license=card_license(folder, model) or KNOWN_LICENSES.get(model),
        max_input_tokens=max_input_tokens,
        tuning=tuning,
    )


def resolve_config(model: str, *, role: str, models_dir: Path, trust_remote_code: bool,
                   allow_pickle: bool, downloading: bool = False
                   ) -> tuple[Path | None, str, Any]:
    """Find a model and read its config, refusing what must not be loaded.

    Returns:
        (local folder or None, what to pass to ``from_pretrained``, the config).

    Raises:
        ModelLoadError: Not found, not a seq2seq model, pickle-only or remote code.
    """
    folder = local_model_dir(model, models_dir)
    flag = "--summarizer" if role == "summarizer" else "--translator"
    if folder is None and Path(model).expanduser().exists():
        raise ModelLoadError(f"{role} '{model}' is not a folder of model files")
    if folder is None and not is_hub_id(model):
        raise ModelLoadError(f"{role} folder not found: {model}")
    source = str(folder) if folder is not None else model
    if folder is not None and not (folder / "config.json").is_file():
        raise ModelLoadError(f"{role} folder {folder} has no config.json; is it a model folder?")
    if folder is not None and not _has_safetensors(folder) and not allow_pickle:
        raise ModelLoadError(
            f"{role} folder {folder} has no .safetensors weights; pickle weights (.bin) can run "
            "code when loaded, so they are refused unless you pass --allow-pickle"
        )
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code,
                                            **pretrained_kwargs(folder))
    except Exception as exc:  # every failure becomes one message
        raise _load_error(role, model, flag, folder, exc, trust_remote_code, downloading) from exc
    if getattr(config, "auto_map", None) and not trust_remote_code:
        raise ModelLoadError(
            f"{role} '{model}' asks to run its own code (auto_map in config.json); "
            "refused unless you pass --trust-remote-code"
        )
    if not getattr(config, "is_encoder_decoder", False):
        raise ModelLoadError(
            f"{role} '{model}' is a {config.model_type} model, not an encoder-decoder "
            "(seq2seq) model such as BART, PEGASUS, T5, Marian, NLLB or M2M100"
        )
    return folder, source, config


def model_revision(folder: Path | None, config: Any) -> str | None:
    """The hub commit of a model: from ``models/`` metadata, else the config's own."""
    revision = getattr(config, "_commit_hash", None)
    if folder is not None and (folder / SOURCE_FILE).is_file():
        try:
            revision = json.loads((folder / SOURCE_FILE).read_text("utf-8")).get("revision")
        except (OSError, ValueError):
            pass
    return revision


def attention_candidates(device: torch.device, dtype: torch.dtype) -> list[str | None]:
    """Attention kernels to try, best first: Flash on CUDA in half precision when the
    flash-attn package is installed, then PyTorch SDPA, then the model's default."""
    import importlib.util

    candidates: list[str | None] = []
    half = dtype in (torch.float16, torch.bfloat16)
    if device.type == "cuda" and half and importlib.util.find_spec("flash_attn") is not None:
        candidates.append("flash_attention_2")
    return [*candidates, "sdpa", None]


def _load_model(source: str, dtype: torch.dtype, trust_remote_code: bool, allow_pickle: bool,
                device: torch.device, **hub: Any):
    common = {"dtype": dtype, "trust_remote_code": trust_remote_code,
              "use_safetensors": None if allow_pickle else True, **hub}
    candidates = attention_candidates(device, dtype)
    for attn in candidates:
        extra = {"attn_implementation": attn} if attn else {}
        try:
            return AutoModelForSeq2SeqLM.from_pretrained(source, **common, **extra)
        except (ValueError, ImportError) as exc:
            # This architecture has no such kernel in transformers: try the next one.
            if attn is None or "attention" not in str(exc).lower() and attn not in str(exc):
                raise
            log.debug("attention %s unavailable for %s: %s", attn, source, exc)
    raise AssertionError("unreachable")


def _load_error(role: str, model: str, flag: str, folder: Path | None, exc: Exception,
                trust_remote_code: bool, downloading: bool = False) -> ModelLoadError:
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
        f"and copy models/ here, or pass {flag} /path/to/model-folder"
    )
