"""Chat models (decoder-only, with a chat template) run with transformers + torch.

Requests are rendered by :class:`~summarize.backends.chat.ChatAsking` and generated
greedily (unless the user asks for sampling) with a generation config of the tool's own:
the model's sampling settings are not inherited, its stop tokens are. On a CPU the shared
instruction of the prompts is computed once and each prompt prefilled alone before the
batch decodes together (:mod:`summarize.backends.chat_batching`); elsewhere, and for beam
search, the batch is left-padded into one ``generate``. Each answer is cut at its own limit
and first stop token, so an answer does not depend on its batch-mates, and cleaned of
thoughts and template tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
)

from summarize.backends import BatchOutOfMemory, Generated, Prompt, Request
from summarize.backends.chat import ChatAsking, no_template_message
from summarize.backends.chat_batching import PrefixCache, common_prefix, prefill_and_decode
from summarize.backends.chat_batching import supported as prefill_supported
from summarize.backends.cpu_tuning import apply_cpu_tuning
from summarize.backends.hf_common import (
    cut_outputs,
    head_sizes,
    layer_values,
    load_error,
    load_tokenizer,
    pretrained_kwargs,
    quietly,
    row_scores,
)
from summarize.backends.hf_torch import (
    _ChosenLogProbs,
    load_weights,
    pad_batch,
    to_device,
    torch_info,
)
from summarize.errors import ConfigError, ModelLoadError

#: Key/value cache a CPU batch may hold by default (its token budget follows from the model's
#: cache bytes per token): 1 GiB.
CPU_KV_BYTES = 1 << 30
#: Bounds of that budget, in tokens.
CPU_BATCH_TOKENS = (2048, 65536)


def kv_bytes_per_token(config: Any, dtype: torch.dtype) -> int:
    """Bytes of key/value cache one token takes in every layer (sliding-window layers
    counted in full: an upper bound)."""
    kv_heads = layer_values(config, "num_key_value_heads")
    heads = layer_values(config, "num_attention_heads")
    size = torch.empty((), dtype=dtype).element_size()
    return max(1, sum(2 * int(kv or n or 1) * d * size
                      for kv, n, d in zip(kv_heads, heads, head_sizes(config), strict=True)))


def cpu_batch_tokens(config: Any, dtype: torch.dtype) -> int:
    """The default token budget of a chat model on a CPU: :data:`CPU_KV_BYTES` of cache.

    On a CPU each prompt is prefilled alone, so padding costs no arithmetic and the budget
    bounds memory; decoding reads every weight once per step for the whole batch, so the
    larger the batch the cheaper each token (SmolLM2-135M: 23,000 tokens; Qwen3-0.6B: 4,700).
    """
    low, high = CPU_BATCH_TOKENS
    return max(low, min(high, CPU_KV_BYTES // kv_bytes_per_token(config, dtype)))


class OwnTokensPenalty(LogitsProcessor):
    """transformers' ``repetition_penalty`` over each row's own tokens only.

    Batches are left-padded, and a chat model's pad token is often its stop token (Qwen's
    ``<|im_end|>``): the stock processor penalises every token id in ``input_ids``, pads
    included, so a padded row would be less likely to stop than the same prompt alone, and
    answers would depend on their batch-mates. Here row ``i``'s first ``starts[i]``
    positions (its padding) are left out; beam rows repeat their request's start.
    """

    def __init__(self, penalty: float, starts: Sequence[int]):
        self.penalty = penalty
        self.starts = torch.tensor(list(starts), dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        starts = self.starts.to(input_ids.device)
        if input_ids.shape[0] != starts.shape[0]:  # beams: rows of a request are adjacent
            starts = starts.repeat_interleave(input_ids.shape[0] // starts.shape[0])
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        own = (positions[None, :] >= starts[:, None]).to(torch.int32)
        seen = torch.zeros(scores.shape, dtype=torch.int32, device=scores.device)
        seen.scatter_add_(1, input_ids.to(scores.device), own.to(scores.device))
        penalised = torch.where(scores < 0, scores * self.penalty, scores / self.penalty)
        return torch.where(seen > 0, penalised, scores)


class ChatTorch(ChatAsking):
    """A transformers causal LM with a chat template on one device (the Backend contract).

    Attributes:
        info: What stats.json records.
        tokenizer: The Hugging Face tokenizer (left padding).
        model: The torch model.
        return_scores: Whether :meth:`generate` returns token log-probability scores.
        default_batch_tokens: The token budget per batch the run uses when the user sets
            none: on a CPU, what :data:`CPU_KV_BYTES` of key/value cache holds (the
            decoding batch is that big); elsewhere None (the device's default).
        prefill: How a batch is run: ``rows`` (shared prefixes cached, each prompt
            prefilled alone, the batch decoded together), ``batch`` (one left-padded
            ``generate``) or ``auto`` (``rows`` on a CPU for a model whose cache allows it
            and without beam search, else ``batch``).
    """

    return_scores: bool = True
    prefill: str = "auto"
    default_batch_tokens: int | None = None

    def __init__(self, model_id: str, tokenizer: Any, model: Any, *, path: str,
                 revision: str | None, license: str | None, role: str = "model",
                 tuning: dict[str, Any] | None = None,
                 prompts: Mapping[str, Prompt] | None = None):
        self.tokenizer = tokenizer
        self.model = model
        self.config = model.config
        self.generation_config = model.generation_config
        self.device = model.device
        self.info = torch_info(model_id, model, path=path, revision=revision, license=license,
                               tuning=tuning, prompt="chat template")
        self._init_chat(model_id, prompts, role)
        tokenizer.padding_side = "left"
        pad = tokenizer.pad_token_id
        self._pad = pad if isinstance(pad, int) else self._stops[0] if self._stops else 0
        # transformers fills a generation config's unset values from the model's: keep only
        # the model's token ids, so its sampling settings (Qwen3: temperature 0.6, top_k
        # 20) never apply to the tool's greedy decoding.
        model.generation_config = GenerationConfig(
            eos_token_id=self._stops or None, pad_token_id=self._pad,
            bos_token_id=self.generation_config.bos_token_id)
        self._rows_ok = prefill_supported(model)
        if self.device.type == "cpu":
            self.default_batch_tokens = cpu_batch_tokens(model.config, model.dtype)
        self._prefixes = PrefixCache(model)
        self._templates: dict[tuple[str, str, str], list[int]] = {}

    def _by_rows(self, beams: int, kwargs: Mapping[str, Any]) -> bool:
        """Whether this batch runs prefilled row by row (see :attr:`prefill`)."""
        if self.prefill == "batch" or beams > 1 or not self._rows_ok:
            return False
        if kwargs.get("cache_implementation"):  # a static cache: generate() owns it
            return False
        return self.prefill == "rows" or self.device.type == "cpu"

    def _prefix_lengths(self, requests: Sequence[Request], ids: Sequence[Sequence[int]]
                        ) -> list[int]:
        """Per request, the leading tokens its prompt shares with the same task and
        languages asked with no text and no title: the instruction, the same for every
        request of the task (the request alone decides it, not its batch-mates)."""
        out = []
        for request, row in zip(requests, ids, strict=True):
            key = (request.task, request.source_lang, request.target_lang)
            if key not in self._templates:
                empty = Request(request.task, "", request.source_lang, request.target_lang)
                self._templates[key] = self._ids([empty])[0]
            out.append(common_prefix(row, self._templates[key]))
        return out

    @quietly
    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        """Answer the requests as one left-padded batch (see Backend)."""
        ids = self._ids(requests)
        limits = list(max_new_tokens)
        kwargs = {k: v for k, v in settings.items() if k not in ("max_length", "max_new_tokens")}
        if kwargs.get("cache_implementation") == "dynamic":
            kwargs.pop("cache_implementation")
        kwargs.setdefault("do_sample", False)
        beams = int(kwargs.get("num_beams") or 1)
        config = GenerationConfig(
            **kwargs, max_new_tokens=max(limits), eos_token_id=self._stops or None,
            pad_token_id=self._pad, bos_token_id=self.generation_config.bos_token_id)
        extra: dict[str, Any] = {}
        processors: list[Any] = []
        penalty = config.repetition_penalty
        if penalty is not None and penalty != 1.0:  # over each row's own tokens, not the pads
            config.repetition_penalty = 1.0
            longest = max(len(row) for row in ids)
            processors.append(OwnTokensPenalty(float(penalty), [longest - len(r) for r in ids]))
        tracker: _ChosenLogProbs | None = None
        if self.return_scores and beams > 1:
            config.output_scores = True
            config.return_dict_in_generate = True
        elif self.return_scores:
            tracker = _ChosenLogProbs()
            processors.append(tracker)
        if processors:
            extra["logits_processor"] = LogitsProcessorList(processors)
        try:
            with torch.inference_mode():
                if self._by_rows(beams, kwargs):
                    out, prompt_len = prefill_and_decode(
                        self.model, ids, self._prefix_lengths(requests, ids), self._prefixes,
                        self._pad, max(limits), generation_config=config, **extra)
                else:
                    input_ids, mask = pad_batch(ids, self._pad, "left")
                    enc = to_device({"input_ids": input_ids, "attention_mask": mask},
                                    self.device)
                    prompt_len = input_ids.shape[1]
                    out = self.model.generate(**enc, generation_config=config, **extra)
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
        new = out[:, prompt_len:].cpu().tolist()  # (batch, new tokens)
        rows, hit_limit, n_out = cut_outputs(new, limits, set(self._stops), self._pad, skip=0)
        scores = None
        if logprobs is not None:
            scores = row_scores(logprobs.float().cpu().tolist(), rows, self._pad)
        decoded = self.tokenizer.batch_decode(rows, skip_special_tokens=False,
                                              clean_up_tokenization_spaces=False)
        n_in = sum(len(row) for row in ids)
        texts = [self.clean(d, r.text) for d, r in zip(decoded, requests, strict=True)]
        return Generated(texts, n_in, n_out, hit_limit, scores)

    def save_pretrained(self, folder: Path) -> None:
        """Save the model and its tokenizer (``summarize models download``)."""
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def close(self) -> None:
        """Free the device memory held by the model."""
        self.model = None
        self._prefixes.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@quietly
def load_chat(model: str, source: str, folder: Path | None, config: Any, *, role: str,
              device: torch.device, dtype: torch.dtype, trust_remote_code: bool,
              allow_pickle: bool, cpu_tuning: bool, downloading: bool, path: str,
              revision: str | None, license: str | None,
              prompts: Mapping[str, Prompt] | None) -> ChatTorch:
    """Load a decoder-only model with a chat template (see :func:`hf_torch.load_backend`).

    Raises:
        ModelLoadError: No chat template (the message says how to give one), not a causal
            language model, or the weights cannot be loaded.
    """
    tokenizer = load_tokenizer(source, folder, role=role, model=model,
                               trust_remote_code=trust_remote_code, downloading=downloading)
    template = chat_template_setting(prompts)
    if template is not None:
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(no_template_message(role, model, config))
    try:
        loaded = load_weights(AutoModelForCausalLM, source, dtype, trust_remote_code,
                              allow_pickle, device, **pretrained_kwargs(folder))
    except ModelLoadError:
        raise
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc):
            raise ModelLoadError(
                f"{role} '{model}' is a {config.model_type} model, neither an encoder-decoder "
                "(seq2seq) model nor a causal language model with a chat template") from exc
        raise load_error(role, model, folder, exc, trust_remote_code, downloading) from exc
    except Exception as exc:
        raise load_error(role, model, folder, exc, trust_remote_code, downloading) from exc
    loaded.to(device)
    loaded.eval()
    tuning: dict[str, Any] = {}
    if device.type == "cpu" and dtype == torch.float32:
        tuning = apply_cpu_tuning(loaded, cpu_tuning)
    return ChatTorch(model, tokenizer, loaded, path=path, revision=revision, license=license,
                     role=role, tuning=tuning, prompts=prompts)


def chat_template_setting(prompts: Mapping[str, Prompt] | None) -> str | None:
    """The chat template the user gave in the config file (``chat_template = "FILE"``),
    read, or None; two different ones for one model are refused.

    Raises:
        ConfigError: Two tasks of one model name different templates, or a file cannot be
            read.
    """
    files = {p.chat_template for p in (prompts or {}).values() if p.chat_template}
    if not files:
        return None
    if len(files) > 1:
        raise ConfigError("[summarizer] and [translator] name different chat_template files "
                          "for the same model; give one")
    from summarize.tasks.prompts import read_template

    return read_template(next(iter(files)))
