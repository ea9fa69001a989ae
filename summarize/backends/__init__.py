"""The backend contract: everything the two tasks need from a loaded model, and nothing else.

The tasks say what they want, one :class:`Request` at a time: *summarize this text* (written
in this language) or *translate this text from A to B*. The backend decides how to ask its
model: a seq2seq model gets a task prefix and language tokens (Marian ``>>kor<<``, NLLB's
forced ``kor_Hang``, MADLAD ``<2ko>``); a chat model gets the tool's instruction rendered
through its own chat template. Nothing here or in the tasks reaches into a tokenizer, a
model config or a device object, so a new engine, or a test double, can be written from
this module alone (``tests/test_contract.py`` has one that takes prompts). No torch import.

Conventions every backend follows:

* Text in, text out. :meth:`Backend.count_tokens` counts what the model reads for a request
  (prompt, special tokens and language tokens included), so batching, windows and budgets
  agree across engines that share a tokenizer.
* Generation settings use the transformers ``generate`` names (:data:`GENERATION_KEYS`);
  an engine maps them to its own, and its registry entry (:mod:`summarize.backends.registry`)
  refuses before any model loads those it cannot honour.
* Each output is cut to its own ``max_new_tokens`` limit, so a request's result never
  depends on its batch-mates (greedy decoding gives the same output in any batch).
* A backend whose engine batches by itself (vLLM's continuous batching) says so with a
  true ``batches_itself`` attribute (optional; False when absent): the tasks then hand it
  every request of a round at once instead of token-budget batches.
* A backend may size its own default token budget per batch with a positive
  ``default_batch_tokens`` attribute (optional; the device's default when absent or None;
  ``--batch-tokens`` wins): a chat model on a CPU sizes it by the memory its batch's
  key/value cache takes.
* A batch that does not fit the device raises :class:`~summarize.errors.BatchOutOfMemory`;
  the caller splits it and retries. Any other exception fails the batch; the caller
  isolates the request responsible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from summarize.errors import BatchOutOfMemory

Task = Literal["summarize", "translate"]
#: What a translation request holds: one sentence, or one paragraph (split at sentence ends
#: when it is longer than the model's input).
Unit = Literal["sentence", "paragraph"]

#: Generation settings a ``[summarizer]``/``[translator]`` table may hold, in transformers'
#: names, with the type each must have.
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


def setting(settings: Mapping[str, Any], defaults: Any, key: str, fallback: Any) -> Any:
    """A generation setting: the task's, else the model's generation config's (``defaults``,
    as transformers' ``generate`` applies it), else ``fallback``."""
    if key in settings:
        return settings[key]
    value = getattr(defaults, key, None)
    return fallback if value is None else value


@dataclass(frozen=True)
class Request:
    """One thing a task asks of a model.

    Attributes:
        task: ``summarize`` or ``translate``.
        text: The text to summarize or translate (one window, sentence or paragraph).
        source_lang: Canonical code of the text's language.
        target_lang: Canonical code of the output's language (a summary's: the language
            to write it in; for a model that only summarizes in its own language, the
            text's).
        title: The article's title, for prompts that use it ("" when none).
    """

    task: Task
    text: str
    source_lang: str = "en"
    target_lang: str = "en"
    title: str = ""


@dataclass(frozen=True)
class Prompt:
    """How the user wants one task asked (the ``[summarizer]``/``[translator]`` tables).

    A backend uses the fields that fit its model and ignores the others. None keeps the
    backend's default.

    Attributes:
        prefix: Text a seq2seq model reads before every input (T5's ``summarize: ``).
        system: A chat model's system text.
        template: A chat model's user turn, with fields (see :mod:`summarize.tasks.prompts`).
        sentences: How many sentences a summary should have (a chat model's instruction).
        max_input_tokens: Most input tokens of one request (below the model's own limit).
        chat_template: A Jinja chat template file to use instead of the model's own (or
            for a model that ships none).
    """

    prefix: str | None = None
    system: str | None = None
    template: str | None = None
    sentences: int | None = None
    max_input_tokens: int | None = None
    chat_template: str | None = None


@dataclass(frozen=True)
class BackendInfo:
    """What stats.json and the report record about a loaded model and where it runs.

    Attributes:
        model_id: What the user asked for (hub id or folder).
        path: Folder the files were read from ("" when served by the hub cache).
        revision: Hub commit or stored revision, when known.
        license: Licence from the model card, when known.
        family: Architecture (``config.model_type``: bart, marian, qwen3, gemma3_text ...).
        engine: The engine's registry name (``torch``, ``ct2``, ``vllm``).
        device: Device it runs on (``cpu``, ``cuda:0``, ``mps``).
        device_name: Human name of the device (GPU model on CUDA).
        dtype: Compute type (``float32``, ``bfloat16``; ``int8`` ... for CTranslate2).
        tuning: Process-wide or engine settings applied at load (CPU tuning, threads).
        language_family: How the model is told its languages, when it differs from the
            architecture (``nllb`` for an NLLB checkpoint whose architecture is m2m_100,
            ``madlad``, ``marian``), else None.
        prompt: How it is asked (``prefix``, ``chat template``), for stats.json.
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
    language_family: str | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class TaskDefaults:
    """What a model ships for a task: generation settings and output length.

    Attributes:
        settings: Generation settings from the model (distilbart's beams, length penalty).
        max_new_tokens: The model's own output limit for the task, or None.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    max_new_tokens: int | None = None


@dataclass(frozen=True)
class Generated:
    """Output of one batch.

    Attributes:
        texts: One decoded output per request, in request order.
        input_tokens: Tokens the model read for the batch (padding excluded).
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
class Backend(Protocol):
    """A loaded model, ready to answer requests."""

    info: BackendInfo
    #: What a translation request holds (:data:`Unit`).
    translation_unit: Unit
    #: Most tokens the model can emit for one request, or None when only its input bounds it.
    max_output_tokens: int | None

    def task_defaults(self, task: Task) -> TaskDefaults:
        """What the model ships for ``task`` (see :class:`TaskDefaults`)."""
        ...

    def input_limit(self, task: Task, max_new_tokens: int) -> int:
        """Most tokens a request of ``task`` may have (as :meth:`count_tokens` counts them)
        when its output may reach ``max_new_tokens``: an encoder's input limit, or what a
        shared context window leaves beside the output (capped by the user's setting)."""
        ...

    def summarizes(self, lang: str) -> bool:
        """Whether the model can summarize a text in ``lang`` in that language (else the
        run summarizes an English translation: ``--pivot auto``)."""
        ...

    def check_languages(self, task: Task, source: str, target: str) -> None:
        """Refuse a language pair the model cannot serve (canonical ISO codes).

        Raises:
            UnsupportedLanguageError: The model cannot read ``source`` or write ``target``;
                the message names the model and what it offers.
        """
        ...

    def count_tokens(self, requests: Sequence[Request]) -> list[int]:
        """Tokens the model reads for each request (prompt and special tokens included)."""
        ...

    def prompt_tokens(self, request: Request) -> int:
        """Of :meth:`count_tokens`, the tokens the backend adds around the request's text
        that do not measure the text (a chat model's instruction); 0 when the model's input
        is the text itself. The tasks size an output by the text alone."""
        ...

    def generate(self, requests: Sequence[Request], settings: Mapping[str, Any],
                 max_new_tokens: Sequence[int]) -> Generated:
        """Answer every request as one batch.

        Args:
            requests: The batch.
            settings: Generation settings (:data:`GENERATION_KEYS`), without
                ``max_new_tokens``/``max_length``.
            max_new_tokens: Per-request limit on generated tokens.

        Raises:
            BatchOutOfMemory: The batch does not fit on the device.
        """
        ...

    def close(self) -> None:
        """Release the model (device memory); the backend is unusable afterwards."""
        ...


__all__ = [
    "GENERATION_CHOICES",
    "GENERATION_KEYS",
    "Backend",
    "BackendInfo",
    "BatchOutOfMemory",
    "Generated",
    "Prompt",
    "Request",
    "Task",
    "TaskDefaults",
    "Unit",
    "setting",
]
