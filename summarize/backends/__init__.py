"""The backend contract: everything the summarize and translate tasks need from a loaded model.

An engine (``hf.py``: transformers + torch; ``ct2.py``: CTranslate2) implements
:class:`Seq2SeqBackend`. The tasks, the batching code and the run see only this protocol,
so a new engine, or a test double, can be written from it alone: nothing here or in the
tasks reaches into a tokenizer, a model config or a device object. No torch import here.

Conventions every engine follows:

* Text in, text out. Token counts are of the encoder input as the model sees it (special
  tokens included, the language plan applied), so batching and chunking agree across
  engines that share a tokenizer.
* Generation settings use the transformers ``generate`` names (:data:`GENERATION_KEYS`);
  an engine maps them to its own and refuses (``ConfigError``) those it cannot honour.
* Each output is cut to its own ``max_new_tokens`` limit, so a text's result never depends
  on its batch-mates (greedy decoding gives the same output in any batch).
* A batch that does not fit the device raises :class:`~summarize.errors.BatchOutOfMemory`;
  the caller splits it and retries. Any other exception fails the batch; the caller
  isolates the item responsible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from summarize.errors import BatchOutOfMemory
from summarize.languages import LangPlan

Task = Literal["summarization", "translation"]

#: Generation settings a ``[summarizer]``/``[translator]`` table may hold, in transformers'
#: names, with the type each must have. ``max_input_tokens`` and ``prefix`` are the tasks'
#: own (the input window and the text put before every input).
GENERATION_KEYS: Mapping[str, type | tuple[type, ...]] = {
    "num_beams": int,
    "min_new_tokens": int,
    "max_new_tokens": int,
    "min_length": int,
    "max_length": int,
    "no_repeat_ngram_size": int,
    "encoder_no_repeat_ngram_size": int,
    "length_penalty": (int, float),
    "repetition_penalty": (int, float),
    "early_stopping": bool,
    "num_beam_groups": int,
    "diversity_penalty": (int, float),
    "do_sample": bool,
    "temperature": (int, float),
    "top_k": int,
    "top_p": (int, float),
    "cache_implementation": str,
}
#: Values a string generation setting may take (``static``: a preallocated key/value cache,
#: which transformers compiles on CUDA; ``dynamic``: the default).
GENERATION_CHOICES: Mapping[str, tuple[str, ...]] = {
    "cache_implementation": ("dynamic", "static"),
}
TASK_KEYS: Mapping[str, type | tuple[type, ...]] = {"max_input_tokens": int, "prefix": str}


def setting(settings: Mapping[str, Any], defaults: Any, key: str, fallback: Any) -> Any:
    """A generation setting: the task's, else the model's generation config's (``defaults``,
    as transformers' ``generate`` applies it), else ``fallback``."""
    if key in settings:
        return settings[key]
    value = getattr(defaults, key, None)
    return fallback if value is None else value


def ct2_unsupported(settings: Mapping[str, Any], defaults: Any = None) -> str | None:
    """Why CTranslate2 cannot honour these generation settings, or None.

    The settings check (before any model loads) passes the user's settings alone; the ct2
    backend passes the model's generation config as ``defaults`` too. No import of the
    engine: it is the same rule in both places.
    """
    unknown = [k for k in settings if k not in GENERATION_KEYS and k != "forced_eos_token_id"]
    if unknown:
        return f"generation setting '{unknown[0]}' is not supported by --backend ct2"

    def get(key: str, fallback: Any) -> Any:
        return setting(settings, defaults, key, fallback)

    if settings.get("cache_implementation", "dynamic") != "dynamic":
        return (f"cache_implementation = {settings['cache_implementation']!r} is not "
                "supported by --backend ct2 (it manages its own cache)")
    if settings.get("forced_eos_token_id") is not None:
        return "generation setting 'forced_eos_token_id' is not supported by --backend ct2"
    if get("num_beam_groups", 1) > 1 or get("diversity_penalty", 0.0):
        key = "num_beam_groups" if get("num_beam_groups", 1) > 1 else "diversity_penalty"
        return (f"generation setting '{key}' (diverse beam search) is not supported by "
                "--backend ct2")
    if get("encoder_no_repeat_ngram_size", 0):
        return ("generation setting 'encoder_no_repeat_ngram_size' is not supported by "
                "--backend ct2")
    if get("do_sample", False) and int(get("num_beams", 1)) > 1:
        return ("generation setting 'do_sample' with num_beams > 1 (beam sampling) is not "
                "supported by --backend ct2")
    return None


@dataclass(frozen=True)
class BackendInfo:
    """What stats.json and the report record about a loaded model and where it runs.

    Attributes:
        model_id: What the user asked for (hub id or folder).
        path: Folder the files were read from ("" when served by the hub cache).
        revision: Hub commit or stored revision, when known.
        license: Licence from the model card, when known.
        family: Architecture (``config.model_type``: bart, marian, m2m_100, t5, ...).
        engine: ``torch`` or ``ct2``.
        device: Device it runs on (``cpu``, ``cuda:0``, ``mps``).
        device_name: Human name of the device (GPU model on CUDA).
        dtype: Compute type (``float32``, ``bfloat16``; ``int8`` ... for CTranslate2).
        tuning: Process-wide or engine settings applied at load (CPU tuning, threads).
    """

    model_id: str
    path: str
    revision: str | None
    license: str | None
    family: str
    engine: str
    device: str
    device_name: str
    dtype: str
    tuning: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDefaults:
    """What a model ships for a task: input prefix, generation settings, output length.

    Attributes:
        prefix: Text put before every input (T5: ``summarize: ``), or "".
        settings: Generation settings from the model (distilbart's beams, length penalty).
        max_new_tokens: The model's own output limit for the task, or None.
    """

    prefix: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    max_new_tokens: int | None = None


@dataclass(frozen=True)
class Generated:
    """Output of one batch.

    Attributes:
        texts: One decoded output per input, in input order.
        input_tokens: Encoder tokens of the batch (padding excluded).
        output_tokens: Generated tokens kept (after each output's own cut).
        hit_limit: Per output, whether it stopped at its token limit with no end token
            (probably cut short).
        scores: Per output, the mean and the minimum natural-log probability of its kept
            tokens (after the output's own cut; the end token counts, a token the model was
            forced to emit scores 0), under the distribution each token was chosen from
            (the model's, after the generation settings' masks and penalties, before
            sampling warpers); None per output or as a whole when the engine cannot tell.
    """

    texts: list[str]
    input_tokens: int
    output_tokens: int
    hit_limit: list[bool] = field(default_factory=list)
    scores: list[tuple[float, float] | None] | None = None


@runtime_checkable
class Seq2SeqBackend(Protocol):
    """A loaded encoder-decoder model, ready to generate."""

    info: BackendInfo
    #: Longest encoder input in tokens (special tokens included).
    max_input_tokens: int
    #: Most tokens the decoder can emit (learned positions), or None when unbounded.
    max_output_tokens: int | None

    def task_defaults(self, task: Task) -> TaskDefaults:
        """What the model ships for ``task`` (see :class:`TaskDefaults`)."""
        ...

    def plan_language(self, target: str, source: str) -> LangPlan:
        """How to ask this model for ``target`` from ``source`` (canonical ISO codes).

        Checked against the model's own vocabulary.

        Raises:
            UnsupportedLanguageError: The model cannot read ``source`` or write ``target``.
        """
        ...

    def count_tokens(self, texts: Sequence[str], plan: LangPlan | None = None) -> list[int]:
        """Encoder tokens of each text (special tokens included, ``plan``'s source language
        applied; the plan's text ``prefix`` is NOT added: the task puts it in the text)."""
        ...

    def generate(
        self,
        texts: Sequence[str],
        settings: Mapping[str, Any],
        max_new_tokens: Sequence[int],
        plan: LangPlan | None = None,
    ) -> Generated:
        """Generate one output per text, as one batch.

        Args:
            texts: Inputs of one batch (task prefixes already in the text).
            settings: Generation settings (:data:`GENERATION_KEYS`), without
                ``max_new_tokens``/``max_length``.
            max_new_tokens: Per-text limit on generated tokens.
            plan: Source and target language for translation models that need them
                (``src_lang``, target token), or None.

        Raises:
            BatchOutOfMemory: The batch does not fit on the device.
        """
        ...

    def close(self) -> None:
        """Release the model (device memory); the backend is unusable afterwards."""
        ...


__all__ = [
    "GENERATION_KEYS",
    "TASK_KEYS",
    "BackendInfo",
    "BatchOutOfMemory",
    "Generated",
    "LangPlan",
    "Seq2SeqBackend",
    "Task",
    "TaskDefaults",
]
