"""The torch engine: Hugging Face models run with transformers + torch, seq2seq and chat.

Loading (:func:`load_backend`) picks the model's kind from its config: an encoder-decoder
model becomes a :class:`Seq2SeqTorch` (asked as :class:`~summarize.backends.hf_common.
Seq2SeqAsking` says), a decoder-only model with a chat template a
:class:`~summarize.backends.chat_torch.ChatTorch`. With :mod:`summarize.backends.cpu_tuning`
and :mod:`summarize.backends.chat_torch`, the only modules that import torch at module level.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSeq2SeqLM, LogitsProcessor, LogitsProcessorList

from summarize.backends import (
    BackendInfo,
    BatchOutOfMemory,
    Generated,
    Prompt,
)
from summarize.backends.catalog import KNOWN_LICENSES
from summarize.backends.cpu_tuning import apply_cpu_tuning
from summarize.backends.hf_common import (
    T5_FAMILY,
    Seq2SeqAsking,
    card_license,
    cut_outputs,
    end_ids,
    is_seq2seq,
    load_error,
    load_tokenizer,
    model_revision,
    quietly,
    resolve_config,
    row_scores,
)
from summarize.errors import ConfigError, ModelLoadError
from summarize.languages import LangPlan
from summarize.tasks.batching import make_batches

log = logging.getLogger(__name__)
# generate() warns when a minimum length is above the limit a text was given; the limit wins,
# as the tool intends (each output is cut to its own limit)
warnings.filterwarnings("ignore", message="Unfeasible length constraints", category=UserWarning)

# On CPU the encoder runs in length buckets of at most this many tokens (padding counted):
# batching gains a CPU encoder little, while padding each text to its batch's longest costs
# it in full. The decoder still runs the whole batch in one generate().
CPU_ENCODER_BUDGET = 2048


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
        return torch.float32 if model_type in T5_FAMILY else torch.float16
    if device.type == "mps":
        return torch.float32 if model_type in T5_FAMILY else torch.float16
    return torch.float32


def device_name(device: torch.device) -> str:
    """Human name of the device (GPU model on CUDA)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    import platform

    return platform.processor() or platform.machine() or "cpu"




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





def pad_batch(ids: Sequence[Sequence[int]], pad: int, side: str = "right"
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` of token rows padded to the longest, on ``side``."""
    longest = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(longest - len(row), longest) if side == "left" else slice(0, len(row))
        input_ids[i, span] = torch.tensor(list(row), dtype=torch.long)
        mask[i, span] = 1
    return input_ids, mask


def to_device(tensors: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move a batch to the device (through pinned memory on CUDA: the copy overlaps)."""
    if device.type == "cuda":
        return {k: v.pin_memory().to(device, non_blocking=True) for k, v in tensors.items()}
    return {k: v.to(device) for k, v in tensors.items()}


def torch_info(model_id: str, model: Any, *, path: str, revision: str | None,
               license: str | None, tuning: dict[str, Any] | None, **extra: Any
               ) -> BackendInfo:
    """What stats.json and the report say of a model the torch engine runs (its family,
    device, dtype and CPU tuning; ``extra``: the engine's own fields)."""
    return BackendInfo(
        model_id=model_id, path=path, revision=revision, license=license,
        family=model.config.model_type, engine="torch", device=str(model.device),
        device_name=device_name(model.device),
        dtype=str(model.dtype).replace("torch.", ""), tuning=dict(tuning or {}), **extra)


class Seq2SeqTorch(Seq2SeqAsking):
    """A transformers seq2seq model and its tokenizer on one device (the Backend contract).

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
                 revision: str | None, license: str | None,
                 tuning: dict[str, Any] | None = None,
                 prompts: Mapping[str, Prompt] | None = None):
        self.tokenizer = tokenizer
        self.model = model
        self.config = model.config
        self.generation_config = model.generation_config
        self.device = model.device
        self.info = torch_info(model_id, model, path=path, revision=revision, license=license,
                               tuning=tuning, language_family=None,
                               prompt="text prefix and language tokens")
        self._init_asking(model_id, prompts)
        family = self.language_family()
        if family != "generic":
            self.info = _with(self.info, language_family=family)

    def _generate(self, ids: list[list[int]], plan: LangPlan | None,
                  settings: Mapping[str, Any], max_new_tokens: list[int]) -> Generated:
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
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids, mask = pad_batch(ids, pad, getattr(self.tokenizer, "padding_side", "right"))
        enc = to_device({"input_ids": input_ids, "attention_mask": mask}, self.device)
        beams = int(kwargs.get("num_beams") or self.generation_config.num_beams or 1)
        tracker: _ChosenLogProbs | None = None
        if self.return_scores and beams > 1:
            kwargs.update(output_scores=True, return_dict_in_generate=True)
        elif self.return_scores:
            tracker = _ChosenLogProbs()
            kwargs["logits_processor"] = LogitsProcessorList([tracker])
        try:
            with torch.inference_mode():
                if self.device.type == "cpu" and len(ids) > 1:
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
        pad_out = self.generation_config.pad_token_id
        rows, hit_limit, n_out = cut_outputs(out.cpu().tolist(), max_new_tokens,
                                             end_ids(self.generation_config), pad_out)
        scores = None
        if logprobs is not None:
            scores = row_scores(logprobs.float().cpu().tolist(), rows, pad_out)
        decoded = self.tokenizer.batch_decode(
            rows, skip_special_tokens=True, clean_up_tokenization_spaces=True
        )
        n_in = sum(len(row) for row in ids)
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

    def save_pretrained(self, folder: Path) -> None:
        """Save the model and its tokenizer (``summarize models download``)."""
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def close(self) -> None:
        """Free the device memory held by the model."""
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _with(info: BackendInfo, **changes: Any) -> BackendInfo:
    from dataclasses import replace

    return replace(info, **changes)


def attention_candidates(device: torch.device, dtype: torch.dtype) -> list[str | None]:
    """Attention kernels to try, best first: Flash on CUDA in half precision when the
    flash-attn package is installed, then PyTorch SDPA, then the model's default."""
    import importlib.util

    candidates: list[str | None] = []
    half = dtype in (torch.float16, torch.bfloat16)
    if device.type == "cuda" and half and importlib.util.find_spec("flash_attn") is not None:
        candidates.append("flash_attention_2")
    return [*candidates, "sdpa", None]


def load_weights(auto_class: Any, source: str, dtype: torch.dtype, trust_remote_code: bool,
                 allow_pickle: bool, device: torch.device, **hub: Any) -> Any:
    """``auto_class.from_pretrained`` with the best attention kernel this architecture has."""
    common = {"dtype": dtype, "trust_remote_code": trust_remote_code,
              "use_safetensors": None if allow_pickle else True, **hub}
    candidates = attention_candidates(device, dtype)
    for attn in candidates:
        extra = {"attn_implementation": attn} if attn else {}
        try:
            return auto_class.from_pretrained(source, **common, **extra)
        except (ValueError, ImportError) as exc:
            # This architecture has no such kernel in transformers: try the next one.
            if attn is None or "attention" not in str(exc).lower() and attn not in str(exc):
                raise
            log.debug("attention %s unavailable for %s: %s", attn, source, exc)
    raise AssertionError("unreachable")




@quietly
def load_backend(
    model: str,
    *,
    role: str,
    models_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    cpu_tuning: bool = True,
    downloading: bool = False,
    prompts: Mapping[str, Prompt] | None = None,
    **_options: Any,
) -> Any:
    """Load a model from a local folder, ``models_dir`` or the hub, on ``device``.

    An encoder-decoder model becomes a :class:`Seq2SeqTorch`; a decoder-only model with a
    chat template a :class:`~summarize.backends.chat_torch.ChatTorch`.

    Args:
        model: Hub id (``Helsinki-NLP/opus-mt-tc-big-en-ko``) or a folder.
        role: "summarizer" or "translator", used in messages.
        models_dir: Local model store searched before the hub.
        device: Device spec (see :func:`select_device`).
        dtype: Dtype spec (see :func:`select_dtype`).
        trust_remote_code: Allow a model that ships its own Python code.
        allow_pickle: Allow ``.bin`` pickle weights when no safetensors exist.
        cpu_tuning: Apply :mod:`summarize.backends.cpu_tuning` on float32 CPU models.
        downloading: Called by ``summarize models download`` (changes the advice given when
            the hub cannot be reached).
        prompts: How each task this model serves is asked, and its input cap
            (:class:`~summarize.backends.Prompt` by task).
        **_options: Other engines' options (ignored).

    Raises:
        ModelLoadError: The model cannot be found, downloaded or loaded, or is of a kind
            this engine does not run.
        ConfigError: Bad device or dtype, or ``max_input_tokens`` above the model's limit.
    """
    torch_device = select_device(device)
    folder, source, config = resolve_config(model, role=role, models_dir=models_dir,
                                            trust_remote_code=trust_remote_code,
                                            allow_pickle=allow_pickle, downloading=downloading)
    torch_dtype = select_dtype(dtype, torch_device, config.model_type)
    common = {"path": str(folder) if folder is not None else "",
              "revision": model_revision(folder, config),
              "license": card_license(folder, model) or KNOWN_LICENSES.get(model),
              "prompts": prompts}
    if not is_seq2seq(config):
        from summarize.backends.chat_torch import load_chat

        return load_chat(model, source, folder, config, role=role, device=torch_device,
                         dtype=torch_dtype, trust_remote_code=trust_remote_code,
                         allow_pickle=allow_pickle, cpu_tuning=cpu_tuning,
                         downloading=downloading, **common)
    tokenizer = load_tokenizer(source, folder, role=role, model=model,
                               trust_remote_code=trust_remote_code, downloading=downloading)
    try:
        loaded = load_weights(AutoModelForSeq2SeqLM, source, torch_dtype, trust_remote_code,
                              allow_pickle, torch_device, **_hub(folder))
    except ModelLoadError:
        raise
    except Exception as exc:
        raise load_error(role, model, folder, exc, trust_remote_code, downloading) from exc
    loaded.to(torch_device)
    loaded.eval()
    tuning: dict[str, Any] = {}
    if torch_device.type == "cpu" and torch_dtype == torch.float32:
        tuning = apply_cpu_tuning(loaded, cpu_tuning)
    return Seq2SeqTorch(model, tokenizer, loaded, tuning=tuning, **common)


def _hub(folder: Path | None) -> dict[str, Any]:
    from summarize.backends.hf_common import pretrained_kwargs

    return pretrained_kwargs(folder)
