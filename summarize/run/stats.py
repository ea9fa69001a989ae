"""Run statistics: seconds and tokens per stage, article counts, memory, into ``RunStats``."""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Protocol

from summarize._version import __version__
from summarize.records import (
    STAGES,
    ArticleCounts,
    Failure,
    ModelInfo,
    RunStats,
    Skipped,
    StageTiming,
)
from summarize.settings import RunConfig
from summarize.tasks.batching import BatchStats


class RunModels(Protocol):
    """What a run knows of its models: what stats.json records, and how to free them.

    The local engine's :class:`~summarize.run.models.LoadedModels` holds the models; the
    Ray driver's :class:`~summarize.run.ray_engine.RemoteModels` only describes those its
    replicas loaded.
    """

    @property
    def infos(self) -> Sequence[ModelInfo]: ...
    @property
    def device(self) -> str | None: ...
    @property
    def device_name(self) -> str | None: ...
    @property
    def dtype(self) -> str | None: ...

    def close(self) -> None:
        """Free the models (the device memory they hold)."""


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1024 / (1024 if sys.platform == "darwin" else 1)
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20


def peak_gpu_mb() -> float | None:
    """Peak CUDA memory allocated by torch, in MiB (None without torch or CUDA)."""
    if "torch" not in sys.modules:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def rate(count: float, seconds: float) -> float | None:
    """``count / seconds`` rounded, or None for no time."""
    return round(count / seconds, 3) if seconds > 0 else None


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


class StatsCollector:
    """Accumulates what a run spends; :meth:`build` turns it into ``RunStats``."""

    def __init__(self) -> None:
        self.stage_s = dict.fromkeys(STAGES, 0.0)
        self.batches = {"summarize": BatchStats(), "translate": BatchStats()}
        self.n_read = 0
        self.import_s = 0.0
        #: Per-replica figures of a distributed engine (Ray), written to stats.json.
        self.replicas: list[dict[str, Any]] = []

    def merge(self, other: StatsCollector) -> None:
        """Add what ``other`` collected (another thread's share of the same run)."""
        for stage, seconds in other.stage_s.items():
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + seconds
        for stage, theirs in other.batches.items():
            self.batches.setdefault(stage, BatchStats()).add(theirs)
        self.n_read += other.n_read
        self.import_s += other.import_s
        self.replicas.extend(other.replicas)

    def build(self, config: RunConfig, *, started_at: str, wall_s: float,
              models: RunModels | None, counts: ArticleCounts, failures: list[Failure],
              skipped: list[Skipped], interrupted: bool) -> RunStats:
        stages: dict[str, StageTiming] = {}
        for stage in STAGES:
            seconds = round(self.stage_s[stage], 4)
            if stage in self.batches:
                bs = self.batches[stage]
                stages[stage] = StageTiming(
                    seconds=seconds, n_items=sum(bs.batch_sizes), n_batches=bs.n_batches,
                    input_tokens=bs.input_tokens, output_tokens=bs.output_tokens,
                    oom_splits=bs.n_oom_splits,
                    input_tokens_per_s=rate(bs.input_tokens, self.stage_s[stage]),
                    output_tokens_per_s=rate(bs.output_tokens, self.stage_s[stage]),
                )
            elif stage == "read":
                stages[stage] = StageTiming(seconds=seconds, n_items=self.n_read)
            else:
                stages[stage] = StageTiming(seconds=seconds)
        packages = {"python": platform.python_version(), "summarize": __version__}
        for name in ("torch", "transformers", "tokenizers", "sentencepiece", "ctranslate2"):
            if name != "ctranslate2" or config.backend == "ct2":
                packages[name] = package_version(name)
        processed = counts.ok - counts.resumed + counts.failed
        return RunStats(
            run=started_at,
            started_at=started_at,
            finished_at=now(),
            wall_s=round(wall_s, 4),
            device=models.device if models else None,
            backend=config.backend,
            backend_choice=config.backend_choice or None,
            device_name=models.device_name if models else None,
            dtype=models.dtype if models else None,
            models=list(models.infos) if models else [],
            targets=list(config.targets) if config.translate != "none" else [],
            translate=config.translate,
            source_lang=config.source_lang,
            packages=packages,
            stages=stages,
            articles=counts,
            articles_per_s=rate(processed, wall_s),
            peak_rss_mb=round(peak_rss_mb(), 1),
            peak_gpu_mb=peak_gpu_mb(),
            interrupted=interrupted,
            models_loaded=models is not None,
            failures=failures,
            skipped=skipped,
            config={k: v for k, v in asdict(config).items() if k != "debug"},
            replicas=list(self.replicas),
            import_s=round(self.import_s, 4),
        )
