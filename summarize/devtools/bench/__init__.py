"""Measure the engine's throughput against a naive per-item generate loop, and its memory.

``summarize bench`` runs, one after another in one process tree on the same machine, the
loop the transformers documentation shows (one article or one sentence at a time:
tokenizer or chat template, ``model.generate``, decode) and the engine through the same
objects ``summarize batch`` uses (:func:`summarize.run.models.load_models`, then
``Summarizer.summarize_many`` / ``Translator.translate_many``). Both sides see the same
real texts, the same model files and the same generation settings, with every output
forced to the same length (``min_new_tokens == max_new_tokens``, greedy), so both do
exactly the same work and their outputs can be compared item by item. Each side runs in a
fresh subprocess so its peak resident memory is its own.

The package, one job per module:

* :mod:`.data`: the texts (NTREX sentences, CNN/DailyMail articles, the shipped sample);
* :mod:`.models`: random-weight models of published sizes (opus-mt, distilbart,
  SmolLM2-135M, Qwen3-0.6B), built once and cached;
* :mod:`.naive`: the documented per-item loops;
* :mod:`.engine`: the engine side (``load_models`` and the tasks);
* :mod:`.harness`: the work's settings, timing, one subprocess per side, comparisons, the
  machine;
* :mod:`.stages`: the stages (translate, summarize, their chat versions, memory);
* :mod:`.report`: the tables.

``--backend torch,ct2`` adds the CTranslate2 engine as a column; ``--stage chat-translate``
/ ``chat-summarize`` / ``chat`` run a chat model (``--chat``: a folder, or a random model of
SmolLM2-135M's or Qwen3-0.6B's shape) through its chat template on both sides;
``--stage memory`` / ``chat-memory`` run the real ``summarize batch`` command on 200 and on
2,000 article files and compare the peak resident memory each run records.

Importing this package imports no torch, transformers or sentencepiece.
"""

from __future__ import annotations

import typer

from summarize.devtools.bench.data import (
    CNNDM_ARTICLES,
    NTREX_SENTENCES,
    SAMPLE_TEXT,
    load_articles,
    load_sentences,
    write_memory_inputs,
)
from summarize.devtools.bench.harness import (
    agreement,
    compare_sides,
    machine_info,
    run_side,
    run_side_subprocess,
    worker_main,
)
from summarize.devtools.bench.models import (
    CHAT_SIZES,
    default_work_dir,
    ensure_chat_model,
    ensure_model,
)
from summarize.devtools.bench.report import format_report
from summarize.devtools.bench.stages import (
    DEFAULT_ARTICLES,
    DEFAULT_NEW_TOKENS,
    DEFAULT_SENTENCES,
    DEFAULT_TARGET,
    MEMORY_COUNTS,
    STAGE_CHOICES,
    parse_backends,
    run_bench,
    run_memory,
    run_stage,
)
from summarize.devtools.bench_command import bench


def main() -> None:
    """``python -m summarize.devtools.bench``: the bench command on its own."""
    typer.run(bench)


__all__ = [
    "CHAT_SIZES", "CNNDM_ARTICLES", "DEFAULT_ARTICLES", "DEFAULT_NEW_TOKENS",
    "DEFAULT_SENTENCES", "DEFAULT_TARGET", "MEMORY_COUNTS", "NTREX_SENTENCES", "SAMPLE_TEXT",
    "STAGE_CHOICES", "agreement", "bench", "compare_sides", "default_work_dir",
    "ensure_chat_model", "ensure_model", "format_report", "load_articles", "load_sentences",
    "machine_info", "main", "parse_backends", "run_bench", "run_memory", "run_side",
    "run_side_subprocess", "run_stage", "worker_main", "write_memory_inputs",
]
