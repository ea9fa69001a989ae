"""Run Hugging Face seq2seq models with CTranslate2, converted once into the local model store.

The user names the same hub id or folder as for the torch engine. On first use the model is
converted with ``ctranslate2.converters.TransformersConverter`` into
``<models_dir>/.ct2/<name>-<revision>-<quantization>/`` and reused afterwards. A conversion
is written into a temporary folder beside it, gets its completion marker (``.complete``)
last and is then renamed into place, so an interrupted one is never used: a folder without
the marker, or a leftover temporary folder of a dead process, is removed and redone.

The tokenizer stays the Hugging Face one, read from the model's own folder (the converted
folder holds no tokenizer files), so token counts, language codes and chunking are exactly
those of the torch engine; only the network runs in CTranslate2. Generation settings keep
their transformers names and are mapped to CTranslate2's; one it cannot honour is refused.

Conversions and their checks: :mod:`summarize.backends.ct2_convert`; the converter's fixes:
:mod:`summarize.backends.ct2_converter`. Importing this module imports neither torch nor
transformers.
"""

from __future__ import annotations

import json
import logging
import os
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

try:
    import ctranslate2
except ImportError as exc:  # loading.py turns this into a one-line usage message
    raise ImportError(
        "the ct2 backend needs CTranslate2 4.7 or later: pip install 'summarize[ct2]'"
    ) from exc

from summarize.backends import (
    BackendInfo,
    BatchOutOfMemory,
    Generated,
    Prompt,
    setting,
)
from summarize.backends.catalog import KNOWN_LICENSES
from summarize.backends.ct2_convert import ensure_converted, load_error, store_dir
from summarize.backends.hf_common import (
    T5_FAMILY,
    Seq2SeqAsking,
    card_license,
    end_ids,
    is_seq2seq,
    load_tokenizer,
    model_revision,
    quietly,
    resolve_config,
    row_scores,
)
from summarize.backends.registry import QUANTIZATIONS, ct2_unsupported
from summarize.errors import ConfigError, ModelLoadError
from summarize.languages import LangPlan

log = logging.getLogger(__name__)



# --- device, quantization -------------------------------------------------------------------


def select_device(spec: str) -> tuple[str, int]:
    """Turn ``auto|cpu|cuda|cuda:N`` into CTranslate2's (device, index).

    Raises:
        ConfigError: Unknown device, MPS (CTranslate2 has no MPS support) or absent CUDA.
    """
    cuda = ctranslate2.get_cuda_device_count()
    if spec == "auto":
        return ("cuda", 0) if cuda > 0 else ("cpu", 0)
    if spec == "cpu":
        return "cpu", 0
    if re.fullmatch(r"cuda(:\d+)?", spec):
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if cuda == 0:
            raise ConfigError(f"--device {spec}: CTranslate2 sees no CUDA device here")
        if index >= cuda:
            raise ConfigError(f"--device {spec}: only {cuda} CUDA device(s) present")
        return "cuda", index
    if spec == "mps":
        raise ConfigError("--device mps: CTranslate2 does not run on MPS; use --backend torch")
    raise ConfigError(f"unknown device '{spec}'; expected one of: auto, cpu, cuda, cuda:N")


def select_quantization(spec: str, device: str, model_type: str) -> str:
    """The compute type: ``auto`` is int8 on CPU, int8_float16 on CUDA (bfloat16 for T5,
    whose activations overflow in float16).

    Raises:
        ConfigError: Not one of :data:`QUANTIZATIONS`.
    """
    if spec not in QUANTIZATIONS:
        raise ConfigError(
            f"unknown quantization '{spec}'; expected one of: {', '.join(QUANTIZATIONS)}"
        )
    if spec == "auto":
        spec = "int8" if device == "cpu" else \
            "bfloat16" if model_type in T5_FAMILY else "int8_float16"
    if device != "cpu" and ctranslate2.get_cuda_device_count() == 0:
        return spec  # no such device here: selecting it says so, in one line
    try:
        supported = sorted(ctranslate2.get_supported_compute_types(device))
    except RuntimeError:  # a device that cannot be used: loading says so, in one line
        return spec
    if spec not in supported:
        raise ConfigError(f"--quantization {spec} is not supported by CTranslate2 on this "
                          f"{device.upper() if device == 'cuda' else device}; it supports: "
                          + ", ".join(supported))
    return spec


# --- generation settings --------------------------------------------------------------------


def translation_options(settings: Mapping[str, Any], defaults: Any) -> dict[str, Any]:
    """Map transformers generation settings to ``translate_batch`` options.

    Args:
        settings: The task's settings (transformers names), without the length limit.
        defaults: The model's generation config (its values apply to keys not set, as in
            transformers' ``generate``).

    Raises:
        ConfigError: A setting CTranslate2 cannot honour (the message names the key).
    """
    problem = ct2_unsupported(settings, defaults)
    if problem:
        raise ConfigError(problem)

    def get(key: str, fallback: Any) -> Any:
        return setting(settings, defaults, key, fallback)

    beams = int(get("num_beams", 1))
    min_new = int(get("min_new_tokens", 0) or 0)
    min_length = int(get("min_length", 0) or 0)  # counts the decoder start token
    options: dict[str, Any] = {
        "beam_size": beams,
        "length_penalty": float(get("length_penalty", 1.0)),
        "repetition_penalty": float(get("repetition_penalty", 1.0)),
        "no_repeat_ngram_size": int(get("no_repeat_ngram_size", 0) or 0),
        "min_decoding_length": max(min_new, min_length - 1, 0),
        # transformers' early_stopping=True stops once num_beams hypotheses are finished:
        # CTranslate2's patience 1. False (its heuristic) differs only when a finished beam
        # could still be beaten; both are honoured as patience 1.
        "patience": 1.0,
    }
    if get("do_sample", False):
        options["sampling_topk"] = int(get("top_k", 50) or 0)
        options["sampling_topp"] = float(get("top_p", 1.0))
        options["sampling_temperature"] = float(get("temperature", 1.0))
    return options


# --- the backend ----------------------------------------------------------------------------


class CT2Backend(Seq2SeqAsking):
    """A CTranslate2 ``Translator`` with the model's Hugging Face tokenizer (the contract).

    Attributes:
        info: What stats.json records (engine ``ct2``, compute type, threads, store folder).
        max_input_tokens: Longest input the encoder accepts, in tokens.
        max_output_tokens: Most tokens the decoder can emit, or None.
        tokenizer: The Hugging Face tokenizer.
        translator: The ``ctranslate2.Translator``.
        converted: Folder of the converted model.
        converted_now: Whether loading converted it (False when it came from the store).
        return_scores: Whether :meth:`generate` returns token log-probability scores
            (``Generated.scores``); on by default.
    """

    return_scores: bool = True

    def __init__(self, model_id: str, tokenizer: Any, translator: Any, config: Any,
                 generation_config: Any, *, converted: Path, converted_now: bool, path: str,
                 revision: str | None, license: str | None, device: str, device_name: str,
                 compute_type: str, threads: int, workers: int = 1,
                 prompts: Mapping[str, Prompt] | None = None):
        self.tokenizer = tokenizer
        self.translator = translator
        # a Translator left to interpreter shutdown may abort the process (exit 134): unload
        # it at exit if no one closed it
        self._unload = weakref.finalize(self, translator.unload_model)
        self.config = config
        self.generation_config = generation_config
        self.converted = converted
        self.converted_now = converted_now
        self.info = BackendInfo(
            model_id=model_id, path=path, revision=revision, license=license,
            family=config.model_type, engine="ct2", device=device, device_name=device_name,
            dtype=compute_type,
            tuning={"threads": threads, "inter_threads": workers,
                    "intra_threads": max(1, threads // workers) if device == "cpu" else 0,
                    "quantization": compute_type, "converted": str(converted)},
        )
        self._init_asking(model_id, prompts)
        family = self.language_family()
        if family != "generic":
            self.info = replace(self.info, language_family=family)
        vocab_file = converted / "shared_vocabulary.json"
        if not vocab_file.is_file():
            vocab_file = converted / "target_vocabulary.json"
        self._target_ids = {t: i for i, t in enumerate(
            json.loads(vocab_file.read_text("utf-8")))}
        self._eos_ids = end_ids(generation_config)
        self._pad = generation_config.pad_token_id
        self._workers = workers

    def _prefix(self, plan: LangPlan | None) -> list[str] | None:
        """Tokens the decoder is forced to start with (the target language, BART's ``<s>``)."""
        forced = plan.forced_bos_token_id if plan is not None else None
        if forced is None:
            forced = getattr(self.generation_config, "forced_bos_token_id", None)
        if forced is None:
            return None
        return [self.tokenizer.convert_ids_to_tokens(forced)]

    def _generate(self, ids: list[list[int]], plan: LangPlan | None,
                  settings: Mapping[str, Any], max_new_tokens: list[int]) -> Generated:
        kwargs = dict(settings)
        kwargs.pop("max_length", None)
        kwargs.pop("max_new_tokens", None)
        options = translation_options(kwargs, self.generation_config)
        source = [self.tokenizer.convert_ids_to_tokens(row) for row in ids]
        prefix = self._prefix(plan)
        bad = self._suppressed()
        if bad:
            options["suppress_sequences"] = bad
        longest = max(max_new_tokens)
        # as in transformers, the length limit wins over a larger minimum (distilbart's
        # min_length 56 with a shorter max_new_tokens)
        options["min_decoding_length"] = min(options["min_decoding_length"], longest)
        # Token log-probabilities: greedy decoding and sampling report each step's through the
        # callback (return_scores must be on for it to carry them); beam search reports only
        # a length-normalised total, so its outputs are rescored with score_batch.
        scoring = self.return_scores
        steps: dict[int, list[float]] = {}
        greedy = options["beam_size"] == 1
        keep_at = None
        if scoring and greedy:
            def keep_at(offset: int) -> Any:  # batch_id counts within one part of the batch
                def keep(step: Any) -> bool:
                    steps.setdefault(offset + step.batch_id, []).append(float(step.log_prob))
                    return False

                return keep

        options.update(max_input_length=0,  # the tasks fit every text; never cut one silently
                       end_token=sorted(self._eos_ids) or None, return_end_token=True,
                       return_scores=scoring)
        try:
            results = self._translate(source, prefix, list(max_new_tokens), options, keep_at)
            hyps = [list(r.hypotheses[0]) for r in results]
            logprobs: list[list[float]] | None = None
            if scoring and greedy:
                logprobs = [[0.0] * (len(h) - len(steps.get(i, []))) + steps.get(i, [])
                            for i, h in enumerate(hyps)]
            elif scoring:
                logprobs = self._rescore(source, hyps, max_new_tokens, len(prefix or ()))
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise BatchOutOfMemory(str(exc)) from exc
            raise
        rows = [[self._target_ids.get(t, -1) for t in h] for h in hyps]
        out: list[list[int]] = []
        hit: list[bool] = []
        n_out = 0
        for row, limit in zip(rows, max_new_tokens, strict=True):
            tokens = row[:limit]
            ended = False
            for i, tok in enumerate(tokens):
                if tok in self._eos_ids:
                    tokens = tokens[: i + 1]
                    ended = True
                    break
            n_out += sum(1 for t in tokens if t != self._pad)
            hit.append(not ended and len(tokens) >= limit)
            out.append(tokens)
        decoded = self.tokenizer.batch_decode(
            out, skip_special_tokens=True, clean_up_tokenization_spaces=True
        )
        n_in = sum(len(row) for row in ids)
        scores = row_scores(logprobs, out, self._pad) if logprobs is not None else None
        return Generated([d.strip() for d in decoded], n_in, n_out, hit, scores)

    def _translate(self, source: list[list[str]], prefix: list[str] | None,
                   limits: list[int], options: dict[str, Any], callback_at: Any) -> list[Any]:
        """Run the batch; on CPU split it into one part per worker, run side by side.

        CTranslate2 runs a batch's decoding steps on one worker; on CPU a part per worker
        (one thread each) keeps every core busy where one worker with several threads
        waits at every step (1.3-1.4x on 2 cores, opus-mt size). Greedy outputs do not
        depend on batch-mates, so the split does not change them.
        """
        parts = _split(source, min(self._workers, len(source)))
        pending = []
        for lo, hi in parts:
            opts = dict(options)
            longest = max(limits[lo:hi])
            opts["min_decoding_length"] = min(opts["min_decoding_length"], longest)
            if callback_at is not None:
                opts["callback"] = callback_at(lo)
            pending.append(self.translator.translate_batch(
                source[lo:hi],
                target_prefix=[list(prefix) for _ in range(lo, hi)] if prefix else None,
                max_decoding_length=longest, asynchronous=len(parts) > 1, **opts))
        if len(parts) == 1:
            return list(pending[0])
        return [item.result() for batch in pending for item in batch]

    def _rescore(self, source: list[list[str]], hyps: list[list[str]], limits: Sequence[int],
                 n_prefix: int) -> list[list[float]]:
        """Per-token log-probabilities of beam-search outputs, teacher-forced (score_batch).

        ``score_batch`` appends the end token itself, so each hypothesis goes in without its
        own; forced prefix tokens score 0, as in greedy decoding.
        """
        targets = []
        for hyp, limit in zip(hyps, limits, strict=True):
            cut = hyp[:limit]
            ids = [self._target_ids.get(t, -1) for t in cut]
            end = next((i for i, tok in enumerate(ids) if tok in self._eos_ids), None)
            targets.append(cut[:end] if end is not None else cut)
        scored = self.translator.score_batch(source, targets, max_input_length=0)
        return [[0.0] * min(n_prefix, len(r.log_probs)) + list(r.log_probs)[n_prefix:]
                for r in scored]

    def _suppressed(self) -> list[list[str]] | None:
        bad = getattr(self.generation_config, "bad_words_ids", None)
        if not bad:
            return None
        return [self.tokenizer.convert_ids_to_tokens(list(seq)) for seq in bad]

    def close(self) -> None:
        """Release the model."""
        self._unload()  # runs once: here, or at interpreter exit
        self.translator = None


def _split(rows: Sequence[Sequence[str]], parts: int) -> list[tuple[int, int]]:
    """Cut ``rows`` into at most ``parts`` contiguous ranges of about equal token counts."""
    if parts <= 1:
        return [(0, len(rows))]
    total = sum(len(r) for r in rows) or 1
    ranges: list[tuple[int, int]] = []
    start = acc = 0
    for i, row in enumerate(rows):
        acc += len(row)
        if len(ranges) < parts - 1 and acc >= total * (len(ranges) + 1) / parts \
                and i + 1 < len(rows):
            ranges.append((start, i + 1))
            start = i + 1
    ranges.append((start, len(rows)))
    return ranges


def _device_name(device: str, index: int) -> str:
    if device == "cuda":
        try:
            import torch

            return torch.cuda.get_device_name(index)
        except Exception:  # the name is informational only
            return f"cuda:{index}"
    import platform

    return platform.processor() or platform.machine() or "cpu"


@quietly
def load_backend(
    model: str,
    *,
    role: str,
    models_dir: Path,
    device: str = "auto",
    quantization: str = "auto",
    threads: int = 0,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    prompts: Mapping[str, Prompt] | None = None,
    **_ignored: Any,
) -> CT2Backend:
    """Load (converting on first use) a seq2seq model for CTranslate2.

    Args:
        model: Hub id or folder, as for the torch engine.
        role: "summarizer" or "translator", used in messages.
        models_dir: Local model store; conversions go under ``models_dir/.ct2/``.
        device: ``auto|cpu|cuda|cuda:N``.
        quantization: One of :data:`QUANTIZATIONS` (the weights are converted with it and
            it is the compute type).
        threads: CPU threads; 0 uses every core. On CPU they run as that many workers of
            one thread (``inter_threads``), each batch split between them.
        trust_remote_code: Allow a model that ships its own Python code.
        allow_pickle: Allow ``.bin`` pickle weights when no safetensors exist.
        prompts: How each task is asked (a prefix; see :class:`~summarize.backends.Prompt`).
        **_ignored: Torch-only options (``dtype``, ``cpu_tuning``, ``downloading``).

    Raises:
        ModelLoadError: Not found, refused (pickle, remote code), or not convertible.
        ConfigError: Bad device or quantization, or ``max_input_tokens`` above the limit.
    """
    from transformers import GenerationConfig

    ct2_device, index = select_device(device)
    folder, source, config = resolve_config(model, role=role, models_dir=Path(models_dir),
                                            trust_remote_code=trust_remote_code,
                                            allow_pickle=allow_pickle)
    if not is_seq2seq(config):
        raise ModelLoadError(
            f"{role} '{model}' is a {config.model_type} model (decoder-only); --backend ct2 "
            "runs seq2seq models (BART, PEGASUS, T5, Marian, NLLB, M2M100): use --backend "
            "torch for it")
    compute = select_quantization(quantization, ct2_device, config.model_type)
    revision = model_revision(folder, config)
    target = store_dir(Path(models_dir), model, revision, folder, compute)
    tokenizer = load_tokenizer(source, folder, role=role, model=model,
                               trust_remote_code=trust_remote_code)
    converted, now = ensure_converted(source, target, quantization=compute, model_id=model,
                                      revision=revision, trust_remote_code=trust_remote_code,
                                      allow_pickle=allow_pickle)
    try:
        generation_config = GenerationConfig.from_pretrained(source)
    except Exception:  # no generation_config.json: the config's own values
        generation_config = GenerationConfig.from_model_config(config)
    n_threads = threads if threads and threads > 0 else (os.cpu_count() or 1)
    workers = n_threads if ct2_device == "cpu" else 1
    try:
        translator = ctranslate2.Translator(
            str(converted), device=ct2_device, device_index=index, compute_type=compute,
            inter_threads=workers, intra_threads=1 if ct2_device == "cpu" else 0,
        )
    except Exception as exc:
        raise load_error(converted, exc) from exc
    return CT2Backend(
        model, tokenizer, translator, config, generation_config,
        converted=converted, converted_now=now,
        path=str(folder) if folder is not None else "",
        revision=revision, license=card_license(folder, model) or KNOWN_LICENSES.get(model),
        device=ct2_device if ct2_device == "cpu" else f"cuda:{index}",
        device_name=_device_name(ct2_device, index), compute_type=compute,
        threads=n_threads, workers=workers,
        prompts=prompts,
    )
