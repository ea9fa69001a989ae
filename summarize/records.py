"""Plain typed records passed between the stages of a run (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TranslateWhat = Literal["summary", "article", "both", "none"]

#: The stages of a run, in order, as stats.json and the report name them.
STAGES = ("load", "read", "summarize", "translate", "write")


@dataclass(frozen=True)
class Article:
    """One input article, decoded and cleaned.

    Attributes:
        id: Stable identifier, unique within a run (record id or path relative to the input).
        source: Path of the file it came from (with ``#N`` line suffix for JSONL records).
        text: Cleaned body text; paragraphs separated by blank lines.
        title: Title, or "" when none was found.
        lang: Source language given by the record, or None.
    """

    id: str
    source: str
    text: str
    title: str = ""
    lang: str | None = None


@dataclass(frozen=True)
class InputFailure:
    """A file or record that could not be turned into an article."""

    id: str
    source: str
    error: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not an article type; counted, not an error."""

    source: str
    reason: str


@dataclass(frozen=True)
class StageTiming:
    """Totals of one stage of a run."""

    stage: str
    seconds: float = 0.0
    n_items: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    n_batches: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """What stats.json records about a loaded model."""

    role: str
    model_id: str
    path: str
    revision: str | None
    license: str | None
    family: str
    load_s: float


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a run does.

    Attributes:
        inputs: Files or folders to read (folders are searched recursively).
        out_dir: Output folder.
        summarizer: Hub id or local folder of the summarization model; None with no summary.
        translator: Hub id or local folder used for every target; None picks a default
            per target language.
        targets: Target languages (ISO 639-1 or 639-3 codes as the user wrote them).
        source_lang: Source language code.
        translate: Which text to translate: the summary, the article, both or none.
        summarize: Whether to summarize at all.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        dtype: "auto", "float32", "bfloat16" or "float16".
        summarizer_generation: Generation settings for the summarizer (num_beams, ...).
        translator_generation: Generation settings for the translator.
        batch_tokens: Token budget per batch (padding counted); None picks a device default.
        group_size: Articles pooled together before batching.
        force: Recompute articles already present in the output folder.
        max_bytes: Files larger than this are refused.
        models_dir: Local model store searched before the hub.
        trust_remote_code: Allow models that ship their own code.
        allow_pickle: Allow weights that are not safetensors.
        dedupe: Process identical article texts once.
        debug: Show tracebacks.
    """

    inputs: tuple[str, ...]
    out_dir: str = "outputs"
    summarizer: str | None = None
    translator: str | None = None
    targets: tuple[str, ...] = ("ko",)
    source_lang: str = "en"
    translate: TranslateWhat = "summary"
    summarize: bool = True
    device: str = "auto"
    dtype: str = "auto"
    summarizer_generation: dict = field(default_factory=dict)
    translator_generation: dict = field(default_factory=dict)
    batch_tokens: int | None = None
    group_size: int = 64
    force: bool = False
    max_bytes: int = 50_000_000
    models_dir: str = "models"
    trust_remote_code: bool = False
    allow_pickle: bool = False
    dedupe: bool = False
    debug: bool = False
