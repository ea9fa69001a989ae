"""Load Hugging Face seq2seq models and run batched generation with transformers + torch.

This is the only module of the package that imports torch or transformers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import platform
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

from summarize.backends import BatchOutOfMemory, Generated
from summarize.batching import make_batches
from summarize.errors import ConfigError, ModelLoadError
from summarize.models import KNOWN_LICENSES, SOURCE_FILE, is_hub_id, local_model_dir

log = logging.getLogger(__name__)

# Keys a user may put in a [summarizer]/[translator] table that are ours, not generate()'s.
OWN_KEYS = frozenset({"max_input_tokens", "prefix"})
_FP16_UNSAFE = frozenset({"t5", "mt5", "umt5", "longt5"})  # activations overflow in fp16
# On CPU the encoder runs in length buckets of at most this many tokens (padding counted):
# batching gains a CPU encoder little, while padding each text to its batch's longest costs
# it in full. The decoder still runs the whole batch in one generate().
CPU_ENCODER_BUDGET = 2048
# Largest block glibc serves from (and keeps in) the heap on CPU runs; see keep_freed_memory.
CPU_HEAP_BLOCK = 256 * 2**20
# Compiled oneDNN kernels kept for reuse (its default is 1024); see use_onednn_linear.
ONEDNN_KERNEL_CACHE = 64


def quiet_transformers() -> None:
    """Silence transformers' progress bars and advisory warnings in normal runs."""
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


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


def _card_license(folder: Path | None, model_id: str) -> str | None:
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


class HFBackend:
    """A transformers seq2seq model and its tokenizer on one device.

    Attributes:
        model_id: What the user asked for (hub id or folder).
        path: The folder the files were read from ("" when served by the hub cache).
        family: ``config.model_type`` (bart, marian, m2m_100, t5, ...).
        max_input_tokens: Longest input the encoder accepts, in tokens.
    """

    def __init__(self, model_id: str, tokenizer: Any, model: Any, *, path: str,
                 revision: str | None, license: str | None, max_input_tokens: int | None = None):
        self.model_id = model_id
        self.tokenizer = tokenizer
        self.model = model
        self.config = model.config
        self.family = model.config.model_type
        self.path = path
        self.revision = revision
        self.license = license
        self.device = model.device
        self.dtype = model.dtype
        self.max_input_tokens = max_input_tokens or self._encoder_limit()
        self.max_output_tokens = self._decoder_limit()
        gen_max = getattr(model.generation_config, "max_length", None)
        # 20 is transformers' built-in default, not a choice the model made
        self.default_max_new_tokens = gen_max if gen_max and gen_max != 20 else None
        self.generation_defaults = self._generation_defaults()

    def _encoder_limit(self) -> int:
        limits = []
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
            limits.append(tok_max)
        for key in ("max_encoder_position_embeddings", "max_position_embeddings", "n_positions"):
            value = getattr(self.config, key, None)
            if isinstance(value, int) and value > 0:
                limits.append(value)
                break
        return min(limits) if limits else 512

    def _decoder_limit(self) -> int | None:
        """Most tokens the decoder can emit (learned positions), or None (relative positions)."""
        for key in ("max_decoder_position_embeddings", "max_position_embeddings"):
            value = getattr(self.config, key, None)
            if isinstance(value, int) and value > 2:
                return value - 1  # the decoder start token takes one position
        return None

    def _generation_defaults(self) -> dict[str, Any]:
        """Settings the model ships for its task (e.g. distilbart's beams and lengths)."""
        params = getattr(self.config, "task_specific_params", None) or {}
        defaults: dict[str, Any] = {}
        for task in ("summarization",):
            if task in params and self.config.is_encoder_decoder:
                defaults.update(params[task])
        return defaults

    def task_prefix(self, task: str) -> str:
        """Prefix the model expects for a task (T5: ``summarize: ``), or ""."""
        params = getattr(self.config, "task_specific_params", None) or {}
        prefix = params.get(task, {}).get("prefix")
        if prefix:
            return str(prefix)
        if task == "summarization" and self.family in _FP16_UNSAFE:
            return "summarize: "
        return ""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Encoder tokens of each text, special tokens included."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def set_source_lang(self, code: str | None) -> None:
        """Set the tokenizer's source language for families that mark it (NLLB, M2M100, mBART)."""
        if code is not None and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = code

    def generate(
        self,
        texts: Sequence[str],
        settings: dict[str, Any],
        max_new_tokens: Sequence[int],
        forced_bos_token_id: int | None = None,
    ) -> Generated:
        """Generate one output per text in a single padded batch (see Seq2SeqBackend)."""
        kwargs = {k: v for k, v in settings.items() if k not in OWN_KEYS}
        kwargs.pop("max_length", None)
        kwargs["max_new_tokens"] = max(max_new_tokens)
        if forced_bos_token_id is not None:
            kwargs["forced_bos_token_id"] = forced_bos_token_id
        kwargs.setdefault("do_sample", False)
        # A forced EOS lands on the batch's last step, which depends on the batch-mates'
        # limits; without it each text's output depends on that text alone.
        kwargs.setdefault("forced_eos_token_id", None)
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        try:
            with torch.inference_mode():
                if self.device.type == "cpu" and len(texts) > 1 and "encoder_outputs" not in kwargs:
                    kwargs["encoder_outputs"] = self._encode(enc)
                out = self.model.generate(**enc, **kwargs)  # (batch, 1 + new tokens)
        except torch.OutOfMemoryError as exc:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise BatchOutOfMemory(str(exc)) from exc
        out = out.cpu()
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        pad = self.model.generation_config.pad_token_id
        rows: list[list[int]] = []
        n_out = 0
        for row, limit in zip(out.tolist(), max_new_tokens, strict=True):
            tokens = row[1:1 + limit]  # drop the decoder start token; cut to this text's limit
            for i, tok in enumerate(tokens):
                if tok in eos_ids:
                    tokens = tokens[: i + 1]
                    break
            n_out += sum(1 for t in tokens if t != pad)
            rows.append(tokens)
        decoded = self.tokenizer.batch_decode(
            rows, skip_special_tokens=True, clean_up_tokenization_spaces=True
        )
        n_in = int(enc["attention_mask"].sum())
        return Generated([d.strip() for d in decoded], n_in, n_out)

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
        """Free device memory held by the model."""
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


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
        max_input_tokens: Override of the encoder input limit.

    Raises:
        ModelLoadError: The model cannot be found, downloaded or loaded.
        ConfigError: Bad device or dtype.
    """
    torch_device = select_device(device)
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
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception as exc:  # every failure becomes one message
        raise _load_error(role, model, flag, folder, exc, trust_remote_code) from exc
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
    torch_dtype = select_dtype(dtype, torch_device, config.model_type)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        loaded = _load_model(source, torch_dtype, trust_remote_code, allow_pickle, torch_device)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise _load_error(role, model, flag, folder, exc, trust_remote_code) from exc
    loaded.to(torch_device)
    loaded.eval()
    if torch_device.type == "cpu" and torch_dtype == torch.float32:
        keep_freed_memory()
        use_onednn_linear(loaded)
    revision = getattr(config, "_commit_hash", None)
    if folder is not None and (folder / SOURCE_FILE).is_file():
        try:
            revision = json.loads((folder / SOURCE_FILE).read_text("utf-8")).get("revision")
        except (OSError, ValueError):
            pass
    return HFBackend(
        model,
        tokenizer,
        loaded,
        path=str(folder) if folder is not None else "",
        revision=revision,
        license=_card_license(folder, model) or KNOWN_LICENSES.get(model),
        max_input_tokens=max_input_tokens,
    )


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
                device: torch.device):
    common = {"dtype": dtype, "trust_remote_code": trust_remote_code,
              "use_safetensors": None if allow_pickle else True}
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


def keep_freed_memory(limit: int = CPU_HEAP_BLOCK) -> bool:
    """Let glibc reuse freed large blocks instead of unmapping them (Linux CPU runs).

    Each decoding step allocates a few ``batch x vocabulary`` float tensors of tens of MB.
    By default glibc maps such a block fresh and unmaps it when freed (or trims the heap
    top), so every step pays the kernel to fault in and zero those pages again. Blocks up
    to ``limit`` now come from the heap, and up to ``limit`` of freed memory stays mapped.
    Process-wide; returns False where the C library has no ``mallopt`` (not glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, limit)) and bool(mallopt(m_trim_threshold, limit))


def _rows_bucket(rows: int) -> int:
    """``rows`` rounded up to one of 8 sizes per doubling (at most 1/8 more rows)."""
    if rows <= 16:
        return rows
    step = 1 << (rows.bit_length() - 4)
    return -(-rows // step) * step


def _onednn_linear(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``F.linear`` through oneDNN, its rows padded to a bucket size (see use_onednn_linear)."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or x.dim() < 2:
        return torch.nn.functional.linear(x, self.weight, self.bias)
    flat = x.reshape(-1, x.shape[-1])
    rows = flat.shape[0]
    padded = _rows_bucket(rows)
    if padded != rows:
        flat = torch.nn.functional.pad(flat, (0, 0, 0, padded - rows))
    out = torch.ops.mkldnn._linear_pointwise(flat, self.weight, self.bias, "none", [], "")
    return out[:rows].reshape(*x.shape[:-1], out.shape[-1])


def use_onednn_linear(model: torch.nn.Module) -> int:
    """Run a float32 CPU model's linear layers through oneDNN rather than MKL.

    torch's CPU matmul calls MKL, which runs its AVX2 kernels on AMD processors; oneDNN
    picks its kernels by instruction set (AVX-512 there) and is 2-2.5x faster on the
    bench's AMD EPYC. Same float32 arithmetic with the sums in another order (as with any
    other batch shape); weights are shared, not copied. oneDNN builds and keeps a kernel,
    with buffers (~1 MB for a large output layer), for every input shape it meets, and
    memory grew with every new batch shape over a long run; so the rows are padded up to
    one of 8 sizes per doubling, and at most ONEDNN_KERNEL_CACHE kernels are kept. x86-64
    only; nothing changes where the kernel is missing or disagrees with ``F.linear`` on a
    probe.

    Returns:
        How many layers now use oneDNN.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return 0
    # Read once, when oneDNN builds its first kernel; a user's own setting wins.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_KERNEL_CACHE))
    try:
        op = torch.ops.mkldnn._linear_pointwise
        gen = torch.Generator().manual_seed(0)  # leave the global RNG alone
        x, w, b = (torch.randn(shape, generator=gen) for shape in ((3, 5, 16), (8, 16), (8,)))
        if not torch.allclose(op(x, w, b, "none", [], ""), torch.nn.functional.linear(x, w, b),
                              rtol=1e-4, atol=1e-4):
            return 0
    except (AttributeError, RuntimeError, TypeError):
        return 0
    n = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.forward = types.MethodType(_onednn_linear, module)
            n += 1
    return n


def _load_error(role: str, model: str, flag: str, folder: Path | None, exc: Exception,
                trust_remote_code: bool) -> ModelLoadError:
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
    return ModelLoadError(
        f"cannot load {role} '{model}': it is not in models/ and {why} ({text}). "
        f"To run offline, run `summarize models download {model}` on a machine with internet "
        f"and copy models/ here, or pass {flag} /path/to/model-folder"
    )
