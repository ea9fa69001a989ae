"""The ``summarize`` command: parse options, build a RunConfig, run it, show progress and stats.

This module never touches a model: torch and transformers are imported only inside the
commands that need them, so ``summarize --help`` answers at once.
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.devtools.bench_command import bench
from summarize.errors import SummarizeError
from summarize.outputs.terminal import log_handler, printable
from summarize.settings import Setting


def _plain_argument_help() -> None:
    """Show ``INPUT...`` in usage and help, as click does, instead of typer 0.29's
    ``{INPUT}...`` and Python type hints (``<list[Path]>``) beside arguments."""
    argument = typer.core.TyperArgument
    if hasattr(argument, "_usage_display_name"):
        argument._usage_display_name = (  # type: ignore[method-assign]
            lambda self: self.display_name_raw + ("..." if self.nargs != 1 else ""))
    if hasattr(argument, "display_type_rich"):
        argument.display_type_rich = lambda self, ctx=None: ""  # type: ignore[method-assign]
    if hasattr(argument, "_rich_display_name"):
        argument._rich_display_name = (  # type: ignore[method-assign]
            lambda self: self.display_name_raw + ("..." if self.nargs != 1 else ""))


_plain_argument_help()

# Plain click help (no rich panels): it wraps cleanly at 80 columns, keeps option names
# whole, shows "[default: ...]" and brackets literally, and shows no Python type hints.
app = typer.Typer(
    help="Summarize and translate a folder of news articles with Hugging Face models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
models_app = typer.Typer(help="Show and fetch the models the tool uses.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(models_app, name="models")


def _show_version(value: bool) -> None:
    if value:
        from summarize._version import __version__

        typer.echo(f"summarize {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", help="Show the version and exit.", callback=_show_version,
        is_eager=True)] = False,
) -> None:
    """Summarize and translate a folder of news articles with Hugging Face models."""

class _Notes:
    """Reporter for --quiet: no bars, but messages such as how to resume still show."""

    def add_work(self, stage: str, n: int) -> None:
        pass

    def advance(self, stage: str, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        typer.echo(f"summarize: {printable(message)}", err=True)


class _Bars:
    """Rich progress bars on stderr, one per stage, shown once there is model work.

    Nothing is drawn while the inputs are found and the models load, so a run that stops
    on a usage error (a model that cannot be had, a bad option) prints only its message.
    """

    LABELS = {"read": "reading", "summarize": "summarizing", "translate": "translating"}

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
            TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.totals = dict.fromkeys(self.LABELS, 0)
        self.done = dict.fromkeys(self.LABELS, 0)
        self.tasks: dict[str, Any] = {}
        self.started = False

    def _start(self) -> None:
        self.started = True
        self.progress.start()
        for stage in self.LABELS:
            if stage == "read" or self.totals[stage]:
                self._task(stage)

    def _task(self, stage: str) -> Any:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(
                self.LABELS[stage], total=self.totals[stage], completed=self.done[stage])
        return self.tasks[stage]

    def add_work(self, stage: str, n: int) -> None:
        self.totals[stage] += n
        if not self.started and stage != "read" and n:
            self._start()
        elif self.started:
            self.progress.update(self._task(stage), total=self.totals[stage])

    def advance(self, stage: str, n: int) -> None:
        self.done[stage] += n
        if self.started:
            self.progress.advance(self._task(stage), n)

    def note(self, message: str) -> None:
        self.progress.console.print(printable(message), markup=False, highlight=False)

    def stop(self) -> None:
        if self.started:
            self.progress.stop()


def _print_summary(console: Any, result: Any) -> None:
    from rich.table import Table

    stats = result.stats
    latest = stats.runs[-1] if stats.runs else None
    kept = latest is not None and latest.processed == 0 and latest.run != stats.run
    title = "summarize: timing" + (f" (of run {stats.run}, which did the work)" if kept else "")
    table = Table(title=title, title_justify="left")
    for col in ("stage", "seconds", "items", "tokens in", "tokens out", "out tok/s"):
        table.add_column(col, justify="left" if col == "stage" else "right")

    def cell(value: Any) -> str:
        return "" if value is None else str(value)

    for stage, entry in stats.stages.items():
        rate = entry.output_tokens_per_s
        table.add_row(
            stage, f"{entry.seconds:.2f}", cell(entry.n_items), cell(entry.input_tokens),
            cell(entry.output_tokens), f"{rate:.1f}" if rate else "",
        )
        if stage == "load" and stats.import_s:
            # importing torch and transformers is most of a CPU run's load time
            table.add_row("  of which import", f"{stats.import_s:.2f}", "", "", "", "")
    console.print(table)
    counts = stats.articles
    aps = stats.articles_per_s
    # short lines, each a whole phrase: nothing wraps mid-phrase at 80 columns
    console.print(f"articles: {counts.ok} ok ({counts.resumed} already done), "
                  f"{counts.failed} failed, {counts.skipped} skipped", highlight=False)
    if kept:
        assert latest is not None
        pace = f"nothing left to do: this run took {latest.wall_s:.1f} s"
    else:
        pace = f"wall {stats.wall_s:.1f} s" + (f", {aps:.2f} articles/s" if aps else "")
        if stats.device:
            pace += f"; device {stats.device} ({stats.dtype})"
    console.print(pace, highlight=False, markup=False)
    if result.failures:
        console.print(f"[bold red]{len(result.failures)} failed:[/]")
        for failure in result.failures:
            console.print(f"  {printable(failure.source)}: {printable(failure.error)}",
                          markup=False, highlight=False)
    index = result.out_dir / "index.html"
    where = index if index.is_file() else result.out_dir
    console.print(f"outputs: {printable(where)}", markup=False, highlight=False)


def _fail(exc: SummarizeError, debug: bool) -> None:
    if debug:
        raise exc
    typer.echo(f"summarize: error: {printable(exc)}", err=True)
    raise typer.Exit(exc.exit_code)


def _option_type(s: Setting) -> Any:
    """The Python type typer parses a setting's flag into (None when not given)."""
    base = {"int": int, "float": float}.get(s.kind, str)
    if s.kind in ("langs", "paths", "translators"):
        return list[str] | None
    if s.kind == "bool":
        return bool | None
    return base | None


def _batch_parameters() -> list[inspect.Parameter]:
    """The ``batch`` command's options, one per row of the settings table, plus the
    command's own (``--config``, ``--quiet``, ``--debug``)."""
    from summarize.settings import all_settings

    params = [inspect.Parameter(
        "inputs", inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[list[Path], typer.Argument(
            metavar="INPUT", help="Files or folders (searched recursively).",
            show_default=False)])]
    for s in all_settings():
        if not s.option:
            continue
        text = s.help
        if s.kind not in ("bool", "model", "translators") and s.default not in (None, ()) \
                and "[default:" not in text:
            shown = ",".join(s.default) if isinstance(s.default, tuple) else s.default
            text += f" [default: {shown}]"
        if s.kind == "choice" and not all(c in text for c in s.choices):
            text = text.rstrip(".") + ": " + ", ".join(s.choices) + "."
        names = s.option.split(" ")
        info = typer.Option(*names, metavar=s.metavar or None, help=text,
                            show_default=False)
        params.append(inspect.Parameter(f"opt_{s.key}", inspect.Parameter.KEYWORD_ONLY,
                                        default=None,
                                        annotation=Annotated[_option_type(s), info]))
    params += [
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=Annotated[Path | None, typer.Option(
                              "--config", metavar="FILE",
                              help="TOML file with settings and [summarizer]/[translator] "
                                   "tables.")]),
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=Annotated[bool, typer.Option(
                              "--quiet", "-q", help="No progress bars.")]),
        inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=Annotated[bool, typer.Option(
                              "--debug", help="Show tracebacks.")]),
    ]
    return params


def batch(inputs: list[Path], *, config: Path | None = None, quiet: bool = False,
          debug: bool = False, **options: Any) -> None:
    """Summarize and translate every article in INPUT... into the output folder."""
    from rich.console import Console

    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        handlers=[log_handler("summarize: %(levelname)s: %(message)s")])
    quiet_libraries(debug)
    console = Console(stderr=True)
    try:
        from summarize.settings import build_config, load_config_file

        file = load_config_file(config) if config else {}
        flags = {key[4:]: value for key, value in options.items()}
        if flags.get("summary") is True:  # --no-summary is the flag; True means given
            flags["summary"] = False
        for key in ("force", "dedupe", "trust_remote_code", "allow_pickle",
                    "follow_symlinks"):
            flags[key] = flags.get(key) or None  # a flag not given leaves the file's value
        run_config = replace(build_config(inputs, file, flags), debug=debug)
        from summarize.run.pipeline import run_batch

        if quiet:
            result = run_batch(run_config, reporter=_Notes(), handle_sigint=True)
        else:
            bars = _Bars(console)
            try:
                result = run_batch(run_config, reporter=bars, handle_sigint=True)
            finally:
                bars.stop()
    except SummarizeError as exc:
        _fail(exc, debug)
    except KeyboardInterrupt:
        typer.echo("summarize: aborted; run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    _print_summary(console, result)
    if result.report_error:
        typer.echo(f"summarize: error: {printable(result.report_error)}", err=True)
    if result.nothing_readable:
        where = printable(", ".join(map(str, inputs)))
        typer.echo(f"summarize: error: no readable article in {where}: {result.n_failed} "
                   f"input(s) failed, {result.n_skipped} skipped", err=True)
    raise typer.Exit(result.exit_code)


def _declare(command: Any, parameters: list[inspect.Parameter]) -> Any:
    """Give ``command`` the signature typer reads its options from."""
    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


def quiet_libraries(debug: bool) -> None:
    """Keep the console to the tool's own lines unless ``--debug``: transformers' advice
    and progress bars, the hub client's retries, trafilatura's "discarding data"."""
    if debug:
        from summarize.backends import hf_common

        hf_common.QUIET = False  # the engines leave transformers' own logging alone
    else:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("trafilatura").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    logging.getLogger("huggingface_hub").setLevel(logging.DEBUG if debug else logging.ERROR)


app.command("batch")(_declare(batch, _batch_parameters()))


@app.command()
def report(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of an earlier run.",
                                        exists=True, file_okay=False)],
) -> None:
    """Rebuild the HTML report from results.jsonl and stats.json (no model is loaded)."""
    from summarize.errors import OutputWriteError
    from summarize.outputs.report import write_report
    from summarize.outputs.writers import open_output

    try:
        with open_output(out, create=False, option=None):
            try:
                index = write_report(out)
            except OSError as exc:
                raise OutputWriteError(f"cannot write the report in {out} "
                                       f"({exc.strerror or exc})") from None
    except SummarizeError as exc:
        _fail(exc, False)
    typer.echo(printable(index))


@app.command("eval")
def eval_command(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of an earlier run.",
                                        exists=True, file_okay=False)],
    references: Annotated[Path, typer.Option(
        "--references", metavar="PATH",
        help="Reference summaries/translations: a folder of files named "
        "like the inputs, or a JSONL file with id, summary, translations.", exists=True)],
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Score a finished run against references: ROUGE for summaries, chrF/chrF++/BLEU for
    translations; writes OUT/eval.json (no model is loaded)."""
    from summarize.errors import OutputWriteError
    from summarize.outputs.report import write_report
    from summarize.outputs.writers import open_output
    from summarize.review.evaluate import evaluate_run, load_references, write_eval

    try:
        with open_output(out, create=False, option=None):
            report = evaluate_run(out, load_references(references))
            try:
                path = write_eval(out, report)
                write_report(out)  # the report shows the scores: corpus lines, sortable columns
            except OSError as exc:
                raise OutputWriteError(f"cannot write the scores in {out} "
                                       f"({exc.strerror or exc})") from None
    except SummarizeError as exc:
        _fail(exc, debug)
    typer.echo(f"matched {report.n_matched} of {report.n_records} articles to "
               f"{report.n_references} references")
    if report.summary.scores is not None:
        s = report.summary.scores
        typer.echo(f"summary  ROUGE-1 {s.rouge1:.2f}  ROUGE-2 {s.rouge2:.2f}  "
                   f"ROUGE-Lsum {s.rougeLsum:.2f}  ({report.summary.n} articles)")
    for lang, parts in report.translation.items():
        for part, corpus in parts.items():
            t = corpus.scores
            typer.echo(f"{part} -> {printable(lang)}  chrF {t.chrf:.2f}  chrF++ {t.chrf_pp:.2f}  "
                       f"BLEU {t.bleu:.2f} ({corpus.bleu_tokenizer})  ({corpus.n} articles)")
    typer.echo(printable(path))


@models_app.command("list")
def models_list(
    models_dir: Annotated[Path, typer.Option(
        metavar="DIR", help="Local model store.")] = Path("models"),
) -> None:
    """Show the default models (with licences) and what is stored under models/."""
    from summarize.backends.catalog import (
        DEFAULT_SUMMARIZER,
        DEFAULT_TRANSLATORS,
        KNOWN_LICENSES,
        MULTILINGUAL_FALLBACK,
        TO_ENGLISH,
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
    for lang, model_id in TO_ENGLISH.items():
        typer.echo(f"  translator {lang}->en {model_id}  (licence on its card, {where(model_id)})")
    typer.echo(f"  translator other  {MULTILINGUAL_FALLBACK}  "
               f"({KNOWN_LICENSES[MULTILINGUAL_FALLBACK]}, {where(MULTILINGUAL_FALLBACK)})")
    typer.echo(f"stored in {models_dir}/:" if stored else f"nothing stored in {models_dir}/")
    for model in stored.values():
        typer.echo(f"  {model.model_id}  {model.size_mb:.0f} MB  revision {model.revision or '-'}")


@models_app.command("download")
def models_download(
    model_id: Annotated[str, typer.Argument(
        metavar="ID", help="Hub id, e.g. Helsinki-NLP/opus-mt-en-de.")],
    models_dir: Annotated[Path, typer.Option(
        metavar="DIR", help="Local model store.")] = Path("models"),
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle",
        help="Accept .bin pickle weights (stored as safetensors).")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Store a hub model under models/ for offline use."""
    from summarize.backends.catalog import download_model

    try:
        path = download_model(model_id, models_dir, allow_pickle=allow_pickle)
    except SummarizeError as exc:
        _fail(exc, debug)
    typer.echo(f"stored {model_id} in {path}")


# The benchmark loads (and imports torch) only when the command runs, like everything here.
app.command("bench")(bench)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
