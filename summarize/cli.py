"""The ``summarize`` command: parse options, build a RunConfig, run it, show progress and stats.

This module never touches a model: torch and transformers are imported only inside the
commands that need them, so ``summarize --help`` answers at once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.bench import bench
from summarize.errors import ConfigError, SummarizeError
from summarize.records import RunConfig

app = typer.Typer(
    help="Summarize and translate a folder of news articles with Hugging Face models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Show and fetch the models the tool uses.", no_args_is_help=True)
app.add_typer(models_app, name="models")

GENERATION_KEYS = frozenset({
    "num_beams", "min_new_tokens", "max_new_tokens", "min_length", "max_length",
    "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "length_penalty",
    "repetition_penalty", "early_stopping", "num_beam_groups", "diversity_penalty",
    "do_sample", "temperature", "top_k", "top_p", "max_input_tokens", "prefix", "model",
})
TOP_KEYS = frozenset({
    "out", "to", "from", "translate", "summary", "device", "dtype", "batch_tokens",
    "group_size", "max_bytes", "models_dir", "force", "trust_remote_code", "allow_pickle",
    "dedupe", "summarizer", "translator",
})


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config: top-level options plus [summarizer] and [translator] tables.

    Raises:
        ConfigError: Unreadable file, bad TOML or unknown keys.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}; "
            f"expected: {', '.join(sorted(TOP_KEYS))}"
        )
    for table in ("summarizer", "translator"):
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"config file {path}: '{table}' must be a table ([{table}])")
        bad = sorted(set(section) - GENERATION_KEYS)
        if bad:
            raise ConfigError(
                f"config file {path}: unknown [{table}] setting(s) {', '.join(bad)}; "
                f"expected: {', '.join(sorted(GENERATION_KEYS))}"
            )
    return data


def _split_langs(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    langs = [p.strip() for v in values for p in str(v).split(",") if p.strip()]
    return tuple(langs)


def build_config(inputs: list[Path], file: dict[str, Any], flags: dict[str, Any]) -> RunConfig:
    """Merge defaults, the config file and command-line flags (flags win)."""
    summarizer_table = dict(file.get("summarizer", {}))
    translator_table = dict(file.get("translator", {}))
    merged: dict[str, Any] = {
        "out": file.get("out"),
        "to": file.get("to"),
        "from": file.get("from"),
        "translate": file.get("translate"),
        "summary": file.get("summary"),
        "device": file.get("device"),
        "dtype": file.get("dtype"),
        "batch_tokens": file.get("batch_tokens"),
        "group_size": file.get("group_size"),
        "max_bytes": file.get("max_bytes"),
        "models_dir": file.get("models_dir"),
        "force": file.get("force"),
        "trust_remote_code": file.get("trust_remote_code"),
        "allow_pickle": file.get("allow_pickle"),
        "dedupe": file.get("dedupe"),
        "summarizer": summarizer_table.pop("model", None),
        "translator": translator_table.pop("model", None),
    }
    for key, value in flags.items():
        if value is not None:
            merged[key] = value
    to = merged["to"]
    targets = _split_langs([to] if isinstance(to, str) else to) if to is not None else ("ko",)
    defaults = RunConfig(inputs=())
    return RunConfig(
        inputs=tuple(str(p) for p in inputs),
        out_dir=str(merged["out"] or defaults.out_dir),
        summarizer=merged["summarizer"],
        translator=merged["translator"],
        targets=targets or (),
        source_lang=merged["from"] or defaults.source_lang,
        translate=merged["translate"] or defaults.translate,
        summarize=defaults.summarize if merged["summary"] is None else bool(merged["summary"]),
        device=merged["device"] or defaults.device,
        dtype=merged["dtype"] or defaults.dtype,
        summarizer_generation=summarizer_table,
        translator_generation=translator_table,
        batch_tokens=merged["batch_tokens"],
        group_size=merged["group_size"] or defaults.group_size,
        force=bool(merged["force"]),
        max_bytes=merged["max_bytes"] or defaults.max_bytes,
        models_dir=str(merged["models_dir"] or defaults.models_dir),
        trust_remote_code=bool(merged["trust_remote_code"]),
        allow_pickle=bool(merged["allow_pickle"]),
        dedupe=bool(merged["dedupe"]),
        debug=bool(flags.get("debug")),
    )


class _Notes:
    """Reporter for --quiet: no bars, but messages such as how to resume still show."""

    def add_work(self, stage: str, n: int) -> None:
        pass

    def advance(self, stage: str, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        typer.echo(f"summarize: {message}", err=True)


class _Bars:
    """Rich progress bars, one per stage, on stderr."""

    def __init__(self, console: Any):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.tasks: dict[str, Any] = {}
        labels = {"read": "reading", "summarize": "summarizing", "translate": "translating"}
        for stage, label in labels.items():
            self.tasks[stage] = self.progress.add_task(label, total=0)

    def add_work(self, stage: str, n: int) -> None:
        task = self.tasks[stage]
        current = self.progress.tasks[task].total or 0
        self.progress.update(task, total=current + n)

    def advance(self, stage: str, n: int) -> None:
        self.progress.advance(self.tasks[stage], n)

    def note(self, message: str) -> None:
        self.progress.console.print(message)


def _print_summary(console: Any, result: Any) -> None:
    from rich.table import Table

    stats = result.stats
    table = Table(title="summarize: timing", title_justify="left")
    for col in ("stage", "seconds", "items", "tokens in", "tokens out", "out tok/s"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, entry in stats.get("stages", {}).items():
        rate = entry.get("output_tokens_per_s")
        table.add_row(
            stage, f"{entry.get('seconds', 0):.2f}", str(entry.get("n_items", "")),
            str(entry.get("input_tokens", "")), str(entry.get("output_tokens", "")),
            f"{rate:.1f}" if rate else "",
        )
    console.print(table)
    counts = stats.get("articles", {})
    aps = stats.get("articles_per_s")
    console.print(
        f"articles: {counts.get('ok', 0)} ok ({counts.get('resumed', 0)} already done), "
        f"{counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped; "
        f"wall {stats.get('wall_s', 0):.1f} s"
        + (f", {aps:.2f} articles/s" if aps else "")
        + (f"; device {stats['device']} ({stats.get('dtype')})" if stats.get("device") else "")
    )
    if result.failures:
        console.print(f"[bold red]{len(result.failures)} failed:[/]")
        for failure in result.failures:
            console.print(f"  {failure['source']}: {failure['error']}", markup=False,
                          highlight=False)
    index = result.out_dir / "index.html"
    where = index if index.is_file() else result.out_dir
    console.print(f"outputs: {where}", markup=False, highlight=False)


def _fail(exc: SummarizeError, debug: bool) -> None:
    if debug:
        raise exc
    typer.echo(f"summarize: error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


@app.command()
def batch(
    inputs: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).",
                                                 show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder. [default: outputs]")]
    = None,
    summarizer: Annotated[str | None, typer.Option(
        help="Summarization model: hub id or folder. [default: sshleifer/distilbart-cnn-12-6]"
    )] = None,
    translator: Annotated[str | None, typer.Option(
        help="Translation model for every target: hub id or folder. [default: per language]"
    )] = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="Target language(s), ISO 639-1 or 639-3: ko or ko,ja. [default: ko]"
    )] = None,
    source_lang: Annotated[str | None, typer.Option("--from",
                                                    help="Source language. [default: en]")]
    = None,
    translate: Annotated[str | None, typer.Option(
        help="What to translate: summary, article, both or none. [default: summary]"
    )] = None,
    no_summary: Annotated[bool, typer.Option("--no-summary",
                                             help="Translate only; skip summaries.")] = False,
    device: Annotated[str | None, typer.Option(
        help="auto, cpu, cuda, cuda:N or mps. [default: auto]")] = None,
    dtype: Annotated[str | None, typer.Option(
        help="auto, float32, bfloat16 or float16. [default: auto]")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML file with options and [summarizer]/[translator] settings.",
        exists=True, dir_okay=False)] = None,
    batch_tokens: Annotated[int | None, typer.Option(
        help="Token budget per batch, padding counted. [default: per device]")] = None,
    group_size: Annotated[int | None, typer.Option(
        help="Articles pooled per group; bounds memory. [default: 64]")] = None,
    max_bytes: Annotated[int | None, typer.Option(
        help="Refuse input files larger than this. [default: 50000000]")] = None,
    models_dir: Annotated[Path | None, typer.Option(
        help="Local model store searched before the hub. [default: models]")] = None,
    force: Annotated[bool, typer.Option(help="Recompute articles already in the output.")]
    = False,
    dedupe: Annotated[bool, typer.Option(help="Process identical texts once.")] = False,
    trust_remote_code: Annotated[bool, typer.Option(
        help="Allow models that run their own code.")] = False,
    allow_pickle: Annotated[bool, typer.Option(
        help="Allow .bin pickle weights when no safetensors exist.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Summarize and translate every article in INPUT... into the output folder."""
    from rich.console import Console

    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="summarize: %(levelname)s: %(message)s")
    # trafilatura logs "discarding data" for pages without text; the failure record says it
    logging.getLogger("trafilatura").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    console = Console(stderr=True)
    try:
        file = load_config_file(config) if config else {}
        flags = {
            "out": str(out) if out else None, "summarizer": summarizer,
            "translator": translator, "to": _split_langs(to), "from": source_lang,
            "translate": translate, "summary": False if no_summary else None,
            "device": device, "dtype": dtype, "batch_tokens": batch_tokens,
            "group_size": group_size, "max_bytes": max_bytes,
            "models_dir": str(models_dir) if models_dir else None,
            "force": force or None, "dedupe": dedupe or None,
            "trust_remote_code": trust_remote_code or None,
            "allow_pickle": allow_pickle or None, "debug": debug,
        }
        run_config = build_config(inputs, file, flags)
        from summarize.pipeline import run_batch

        if quiet:
            result = run_batch(run_config, reporter=_Notes(), handle_sigint=True)
        else:
            bars = _Bars(console)
            with bars.progress:
                result = run_batch(run_config, reporter=bars, handle_sigint=True)
    except SummarizeError as exc:
        _fail(exc, debug)
    except KeyboardInterrupt:
        typer.echo("summarize: aborted; run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    _print_summary(console, result)
    raise typer.Exit(result.exit_code)


@app.command()
def report(
    out: Annotated[Path, typer.Argument(help="Output folder of an earlier run.",
                                        exists=True, file_okay=False)],
) -> None:
    """Rebuild the HTML report from results.jsonl and stats.json (no model is loaded)."""
    from summarize.report import write_report

    if not (out / "results.jsonl").is_file():
        typer.echo(f"summarize: error: {out} has no results.jsonl", err=True)
        raise typer.Exit(2)
    typer.echo(str(write_report(out)))


@models_app.command("list")
def models_list(
    models_dir: Annotated[Path, typer.Option(help="Local model store.")] = Path("models"),
) -> None:
    """Show the default models (with licences) and what is stored under models/."""
    from summarize.models import (
        DEFAULT_SUMMARIZER,
        DEFAULT_TRANSLATORS,
        KNOWN_LICENSES,
        MULTILINGUAL_FALLBACK,
        list_stored,
    )

    stored = {m.model_id: m for m in list_stored(models_dir)}

    def where(model_id: str) -> str:
        return "stored" if model_id in stored else "hub"

    typer.echo("defaults:")
    typer.echo(f"  summarizer        {DEFAULT_SUMMARIZER}  "
               f"({KNOWN_LICENSES[DEFAULT_SUMMARIZER]}, {where(DEFAULT_SUMMARIZER)})")
    for lang, model_id in DEFAULT_TRANSLATORS.items():
        typer.echo(f"  translator en->{lang:<3}{model_id}  "
                   f"({KNOWN_LICENSES.get(model_id, '?')}, {where(model_id)})")
    typer.echo(f"  translator other  {MULTILINGUAL_FALLBACK}  "
               f"({KNOWN_LICENSES[MULTILINGUAL_FALLBACK]}, {where(MULTILINGUAL_FALLBACK)})")
    typer.echo(f"stored in {models_dir}/:" if stored else f"nothing stored in {models_dir}/")
    for model in stored.values():
        typer.echo(f"  {model.model_id}  {model.size_mb:.0f} MB  revision {model.revision or '-'}")


@models_app.command("download")
def models_download(
    model_id: Annotated[str, typer.Argument(help="Hub id, e.g. Helsinki-NLP/opus-mt-en-de.")],
    models_dir: Annotated[Path, typer.Option(help="Local model store.")] = Path("models"),
    allow_pickle: Annotated[bool, typer.Option(
        help="Accept .bin pickle weights (stored as safetensors).")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Store a hub model under models/ for offline use."""
    from summarize.models import download_model

    try:
        path = download_model(model_id, models_dir, allow_pickle=allow_pickle)
    except SummarizeError as exc:
        _fail(exc, debug)
    typer.echo(f"stored {model_id} in {path}")


# The benchmark imports torch only inside its commands, like everything here.
app.command("bench")(bench)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
