"""The ``summarize bench`` command: its options, and the call into the benchmark.

Only typer and the standard library are imported here, so that ``summarize --help`` does
not import the benchmark (nor torch); :mod:`summarize.devtools.bench` loads when the
command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_SENTENCES = 300
DEFAULT_ARTICLES = 12
DEFAULT_TARGET = "de"


def bench(
    stage: Annotated[str, typer.Option(
        help="translate, summarize, both, memory; chat-translate, chat-summarize, chat "
             "(both) or chat-memory: a chat model through its chat template.")] = "both",
    summarizer: Annotated[str | None, typer.Option(
        help="Summarization model folder or hub id. [default: random distilbart-cnn-12-6 "
             "size]")] = None,
    translator: Annotated[str | None, typer.Option(
        help="Translation model folder or hub id. [default: random opus-mt-en-de size]")]
    = None,
    chat: Annotated[str | None, typer.Option(
        help="Chat model of the chat stages: a folder or hub id, or a random model of a "
             "published shape: smollm2-135m, qwen3-0.6b or tiny. [default: smollm2-135m; "
             "chat-memory: tiny]")] = None,
    to: Annotated[str, typer.Option("--to", help="Target language of the translator.")]
    = DEFAULT_TARGET,
    sentences: Annotated[int, typer.Option(help="Sentences to translate.")]
    = DEFAULT_SENTENCES,
    articles: Annotated[int, typer.Option(help="Articles to summarize.")] = DEFAULT_ARTICLES,
    new_tokens: Annotated[int | None, typer.Option(
        help="Output tokens per item, forced. [default: 24 translate, 48 summarize]")] = None,
    threads: Annotated[int, typer.Option(
        help="CPU threads of every side (torch threads, CTranslate2 intra_threads).")] = 2,
    batch_tokens: Annotated[int | None, typer.Option(
        help="Engine token budget per batch. [default: per device]")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, mps or auto.")] = "cpu",
    dtype: Annotated[str, typer.Option(
        help="auto, float32, bfloat16 or float16 (auto: float32 on CPU).")] = "auto",
    json_file: Annotated[Path | None, typer.Option(
        "--json", help="Also write the results as JSON to this file.")] = None,
    work_dir: Annotated[Path | None, typer.Option(
        help="Cache of built models. [default: ~/.cache/summarize-bench]")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data", "--data-dir",
        help="Shared data folder (ntrex128_news, cnndm_frank_250), used only when given. "
             "[default: the NTREX sample shipped with summarize]")] = None,
    text: Annotated[Path | None, typer.Option(
        "--text", help="Text file: one sentence per line; blank-line-separated blocks are "
                       "the articles.", exists=True, dir_okay=False)] = None,
    backend: Annotated[str, typer.Option(
        "--backend", help="Engines to compare with the naive loop: torch, ct2 or torch,ct2.")]
    = "torch",
    quantization: Annotated[str, typer.Option(
        help="CTranslate2 compute type: auto (int8 on CPU), int8, int8_float16, "
             "int8_bfloat16, float16, bfloat16, float32.")] = "auto",
    naive_sentences: Annotated[int | None, typer.Option(
        help="Naive loop on only the first N sentences (rates stay comparable).")] = None,
    naive_articles: Annotated[int | None, typer.Option(
        help="Naive loop on only the first N articles (rates stay comparable).")] = None,
    group_size: Annotated[int | None, typer.Option(
        help="--group-size of the memory stage's runs. [default: summarize batch's]")] = None,
    memory_articles: Annotated[str, typer.Option(
        help="Article counts of the memory stage, small,large.")] = "200,2000",
    repeat: Annotated[int, typer.Option(
        help="Timed runs per side; the fastest counts (other load only slows a run).")] = 1,
    in_process: Annotated[bool, typer.Option(
        help="Run both sides in this process (peak RSS is then sampled, not separate).")]
    = False,
) -> None:
    """Benchmark the engines against a naive one-at-a-time generate loop (and memory use)."""
    from summarize.devtools.bench import STAGE_CHOICES, format_report, parse_backends, run_bench
    from summarize.devtools.bench.data import check_data_dir

    if stage not in STAGE_CHOICES:
        raise typer.BadParameter(f"{stage}: expected one of {', '.join(STAGE_CHOICES)}",
                                 param_hint="--stage")
    try:
        engines = parse_backends(backend)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--backend") from None
    if stage.startswith("chat") and engines != ("torch",):
        raise typer.BadParameter("the chat stages run the torch engine only",
                                 param_hint="--backend")
    if data_dir is not None:
        try:
            check_data_dir(data_dir)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data") from None
    counts = tuple(int(x) for x in memory_articles.split(",") if x.strip())
    report = run_bench(
        stage=stage, summarizer=summarizer, translator=translator, chat=chat, target=to,
        sentences=sentences, articles=articles, new_tokens=new_tokens, threads=threads,
        batch_tokens=batch_tokens, device=device, dtype=dtype, work_dir=work_dir,
        data_dir=data_dir, text=text, backends=backend, quantization=quantization,
        isolate=not in_process, naive_sentences=naive_sentences,
        naive_articles=naive_articles, repeat=repeat,
        memory_counts=counts, group_size=group_size,
        log=lambda message: typer.echo(message, err=True),
    )
    typer.echo(format_report(report), nl=False)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
