"""One run, end to end: validate, prepare the output folder, run the stages, write the stats.

:func:`run_batch` is the sequence a reader can follow:

1. validate the settings (:mod:`summarize.settings`), before anything is read or loaded;
2. find the input files (:mod:`summarize.inputs`);
3. prepare the output folder: lock it, clean what a killed run left, repair results.jsonl,
   and read which articles are already done (:mod:`summarize.outputs.writers`);
4. run the stages with an engine (:mod:`summarize.run.local` in this process,
   :mod:`summarize.run.ray_engine` on Ray): read, summarize, translate, write, group by
   group; models load (:mod:`summarize.run.models`) only when some article needs them;
5. write stats.json (:mod:`summarize.run.stats`) and the HTML report
   (:mod:`summarize.outputs.report`), also when the run was stopped early (Ctrl-C,
   SIGTERM, an engine that lost its helpers: :mod:`summarize.run.stopping`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from summarize.backends import Backend
from summarize.errors import OutputWriteError, UsageError
from summarize.inputs import ARTICLE_SUFFIXES, SourceFile, find_files
from summarize.outputs.writers import (
    STATS,
    RecordState,
    ResultsLog,
    iter_result_fields,
    open_output,
    refuse_input_as_out,
    remove_stale_temp_files,
    write_stats,
)
from summarize.records import ArticleCounts, Failure, InputFailure, RunStats, stats_from_json
from summarize.run.hooks import Hooks
from summarize.run.models import LoadedModels, load_models
from summarize.run.progress import Reporter, Silent
from summarize.run.recorder import Tally
from summarize.run.resume import settings_fingerprint
from summarize.run.stats import RunModels, StatsCollector, now
from summarize.run.stopping import EngineStopped, StopSignals
from summarize.run.work import Interrupted
from summarize.settings import RunConfig, validate_config

log = logging.getLogger(__name__)

__all__ = ["Hooks", "LoadedModels", "RunResult", "StageEngine", "load_models", "run_batch"]


class StageEngine(Protocol):
    """What the pipeline needs of an engine (:class:`summarize.run.local.Engine`,
    :class:`summarize.run.ray_engine.RayEngine`): run the groups of the inputs into the
    output folder, and tell what was written and which models did it."""

    @property
    def tally(self) -> Tally: ...
    @property
    def models(self) -> RunModels | None: ...

    def run(self, files: list[SourceFile], existing: dict[str, RecordState],
            fingerprint: str, failures: Iterable[InputFailure] = ()) -> None:
        """Process every article; raises Interrupted or EngineStopped when stopped early."""


@dataclass
class RunResult:
    """What a run did; ``exit_code`` follows the CLI contract (0 all ok, 1 some failed)."""

    out_dir: Path
    n_ok: int = 0
    n_failed: int = 0
    n_skipped: int = 0
    n_resumed: int = 0
    failures: list[Failure] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)
    interrupted: bool = False
    models_loaded: bool = False
    generate_calls: int = 0
    report_error: str | None = None
    nothing_readable: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every article succeeded; 1 when any failed, the run was interrupted or the
        report could not be written; 2 when no input could be read as an article."""
        if self.nothing_readable:
            return 2
        return 1 if self.n_failed or self.interrupted or self.report_error else 0


def _execute(config: RunConfig, reporter: Reporter, load: Callable[[], LoadedModels],
             stop: threading.Event, close_models: bool, hooks: Hooks) -> RunResult:
    started_at, t_start = now(), time.perf_counter()
    out_dir = Path(config.out_dir)
    refuse_input_as_out(out_dir, [Path(p) for p in config.inputs])
    files, skipped, scan_failures = find_files([Path(p) for p in config.inputs],
                                               exclude=[out_dir],
                                               follow_symlinks=config.follow_symlinks)
    if not files:
        found = f"{len(skipped)} file(s) skipped" if skipped else "no files"
        reasons = sorted({s.reason for s in skipped})[:3]
        raise UsageError(
            f"no article files in {', '.join(config.inputs)}: {found}"
            + (f" ({'; '.join(reasons)})" if reasons else "")
            + f"; articles are {', '.join(sorted(ARTICLE_SUFFIXES))} files"
        )
    output = open_output(out_dir, [Path(p) for p in config.inputs], create=True)
    try:
        remove_stale_temp_files(out_dir)
        results = ResultsLog(out_dir)
        existing = results.compact()
        collector = StatsCollector()
        engine = _make_engine(config, out_dir, results, load, reporter, collector, stop,
                              started_at, hooks)
        interrupted = False
        try:
            engine.run(files, existing, settings_fingerprint(config), scan_failures)
        except Interrupted:
            interrupted = True
            reporter.note("interrupted: finished articles are saved; run the same command "
                          "again to resume")
        except EngineStopped as exc:  # stats and report are written as for Ctrl-C
            interrupted = True
            reporter.note(f"error: {exc}")
        except OSError as exc:  # disk full, folder gone read-only...: keep what is written
            raise OutputWriteError(
                f"cannot write to {out_dir} ({exc.strerror or exc}); every article finished "
                f"before this is saved ({results.n_written} by this run): "
                "fix the problem and run the same command again to resume"
            ) from None
        tally = engine.tally
        if tally.n_failed or tally.n_ok:
            results.compact()
        failures: list[Failure] = list(tally.failures)
        counts = ArticleCounts(total=tally.n_ok + tally.n_failed, ok=tally.n_ok,
                               failed=tally.n_failed, skipped=len(skipped),
                               resumed=tally.n_resumed)
        stats = collector.build(config, started_at=started_at,
                                wall_s=time.perf_counter() - t_start, models=engine.models,
                                counts=counts, failures=failures, skipped=skipped,
                                interrupted=interrupted)
        stats = _with_history(stats, _read_stats(out_dir),
                              did_work=bool(tally.n_ok - tally.n_resumed + tally.n_failed))
        from summarize.review import count_flags

        # over the whole folder, resumed records included: what the report shows
        stats = replace(stats, review_flags=count_flags(iter_result_fields(out_dir, "review")))
        try:
            write_stats(out_dir, stats)
        except OSError as exc:
            raise OutputWriteError(
                f"cannot write {out_dir / STATS} ({exc.strerror or exc}); the articles are "
                "saved in results.jsonl: fix the problem and run the same command again"
            ) from None
        report_error = _write_report(out_dir, config.debug)
    finally:
        output.close()  # a run that wrote nothing leaves the folder as it found it
    if close_models and engine.models is not None:
        engine.models.close()  # free the device memory of the models this run loaded
    return RunResult(
        out_dir=out_dir, n_ok=tally.n_ok, n_failed=tally.n_failed, n_skipped=len(skipped),
        n_resumed=tally.n_resumed, failures=failures, stats=stats, interrupted=interrupted,
        models_loaded=engine.models is not None, generate_calls=tally.generate_calls,
        report_error=report_error,
        nothing_readable=not tally.n_ok and engine.models is None and not interrupted,
    )


def _make_engine(config: RunConfig, out_dir: Path, results: ResultsLog,
                 load: Callable[[], LoadedModels], reporter: Reporter,
                 collector: StatsCollector, stop: threading.Event, run_id: str,
                 hooks: Hooks) -> StageEngine:
    """The engine of the run: this process, or Ray actor pools (``--engine ray``)."""
    if config.engine != "ray":
        from summarize.run.local import Engine

        return Engine(config, out_dir, results, load, reporter, collector, stop, run_id,
                      hooks=hooks)
    try:
        from summarize.run.ray_engine import RayEngine
    except ImportError as exc:
        raise UsageError(
            f"--engine ray needs Ray: pip install 'summarize[ray]' ({exc})"
        ) from None
    return RayEngine(config, out_dir, results, load, reporter, collector, stop, run_id,
                     hooks=hooks)


def _with_history(stats: RunStats, previous: RunStats | None, did_work: bool) -> RunStats:
    """Add this run to the folder's history; a run that did nothing keeps the figures of
    the runs that did the work (their timings, models and rates stay on top)."""
    if previous is None:
        return replace(stats, runs=[stats.summary()])
    history = list(previous.runs)
    if not history and previous.started_at:  # written before the history existed
        history.append(previous.summary())
    history.append(stats.summary())
    if did_work:
        return replace(stats, runs=history)
    return replace(previous, runs=history, articles=replace(
        previous.articles, resumed=stats.articles.resumed, skipped=stats.articles.skipped))


def _read_stats(out_dir: Path) -> RunStats | None:
    import json

    try:
        return stats_from_json(json.loads((out_dir / STATS).read_text("utf-8")))
    except (OSError, ValueError):
        return None


def _write_report(out_dir: Path, debug: bool) -> str | None:
    """Write the HTML report; returns why it could not be written, or None."""
    from summarize.outputs.report import write_report

    try:
        write_report(out_dir)
    except Exception as exc:  # the report is a view; the run's records are safe
        if debug:
            raise
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return (f"could not write the HTML report in {out_dir} ({reason}); the results are "
                f"saved: run `summarize report {out_dir}` once the problem is fixed")
    return None


def run_batch(
    config: RunConfig,
    *,
    reporter: Reporter | None = None,
    loader: Callable[[RunConfig], LoadedModels] | None = None,
    backends: Mapping[str, Backend] | None = None,
    handle_sigint: bool = False,
    hooks: Hooks | None = None,
) -> RunResult:
    """Summarize and translate every article of ``config.inputs`` into ``config.out_dir``.

    Args:
        config: What to do (see :class:`RunConfig`).
        reporter: Progress sink (the CLI's bars); None runs silently.
        loader: Loads the models; defaults to :func:`summarize.run.models.load_models`.
        backends: Backends of your own, by role (``"summarizer"``, ``"translator"`` or
            ``"translator:<lang>"``), used instead of loading those models; any object
            implementing :class:`summarize.backends.Backend`.
        handle_sigint: Turn Ctrl-C (SIGINT) and SIGTERM into a clean stop after the
            current batch (a second one aborts with KeyboardInterrupt); only from the main
            thread.
        hooks: Test hooks (faults injected into Ray replicas); None: none.

    Returns:
        Counts, failures and the stats written to stats.json.

    Raises:
        UsageError: Bad options, a missing input or a model that cannot be loaded
            (raised before any article is written).
        OutputLockedError: Another run is writing to the same output folder.
    """
    stop = threading.Event()
    sink = reporter or Silent()
    signals = StopSignals(stop, sink.note) if handle_sigint else None
    with signals or contextlib.nullcontext():
        config = validate_config(config)

        def load() -> LoadedModels:
            if loader is not None:
                return loader(config)
            return load_models(config, backends) if backends else load_models(config)

        return _execute(config, sink, load, stop, close_models=loader is None and not backends,
                        hooks=hooks or Hooks())
