"""One run: stream articles in bounded groups through summarizing and translating, resumably.

Articles are read lazily and gathered into groups of ``group_size``; each group's work is
pooled (all windows, all sentences) and batched by tokens, then its records are written
before the next group is read, so memory depends on the group size, not the input count.
A record whose key (content + everything that changes the result) matches the output
folder's is not computed again, and models load only when some article needs them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from summarize import __version__
from summarize.batching import BatchStats, TokenBudget
from summarize.errors import OutputLockedError, SummarizeError, UsageError
from summarize.inputs import find_files, read_file
from summarize.languages import normalize_lang
from summarize.models import DEFAULT_SUMMARIZER, default_translator, model_fingerprint
from summarize.records import STAGES, Article, InputFailure, RunConfig, Skipped
from summarize.writers import (
    SCHEMA_VERSION,
    ResultsLog,
    page_path,
    remove_stale_temp_files,
    write_article_page,
    write_stats,
)

log = logging.getLogger(__name__)

DEFAULT_BATCH_TOKENS = {"cpu": 8192, "cuda": 65536, "mps": 16384}


class Interrupted(Exception):
    """Ctrl-C was pressed; the run stops after the current batch."""


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, tests and the Python API may pass nothing."""

    def add_work(self, stage: str, n: int) -> None: ...
    def advance(self, stage: str, n: int) -> None: ...
    def note(self, message: str) -> None: ...


class _Silent:
    def add_work(self, stage: str, n: int) -> None:
        pass

    def advance(self, stage: str, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        log.warning(message)


@dataclass
class LoadedModels:
    """Backends of one run: the summarizer and one translator (task) per target language."""

    summarizer: Any | None
    translators: dict[str, Any]
    infos: list[dict[str, Any]]
    device: str
    device_name: str
    dtype: str
    load_s: float


@dataclass
class RunResult:
    """What a run did; ``exit_code`` follows the CLI contract (0 all ok, 1 some failed)."""

    out_dir: Path
    n_ok: int = 0
    n_failed: int = 0
    n_skipped: int = 0
    n_resumed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    models_loaded: bool = False
    generate_calls: int = 0

    @property
    def exit_code(self) -> int:
        """0 when every article succeeded, 1 when any failed or the run was interrupted."""
        return 1 if self.n_failed or self.interrupted else 0


def check_config(config: RunConfig) -> RunConfig:
    """Validate options that need no model; returns the config with normalized languages.

    Raises:
        UsageError: Contradictory or invalid options.
    """
    if config.translate not in ("summary", "article", "both", "none"):
        raise UsageError(
            f"--translate '{config.translate}': expected one of: summary, article, both, none"
        )
    if not config.summarize and config.translate in ("summary", "both"):
        raise UsageError("--no-summary needs --translate article or none (nothing to translate)")
    if not config.summarize and config.translate == "none":
        raise UsageError("--no-summary with --translate none leaves nothing to do")
    if config.group_size < 1:
        raise UsageError("--group-size must be at least 1")
    if config.batch_tokens is not None and config.batch_tokens < 16:
        raise UsageError("--batch-tokens must be at least 16")
    if config.max_bytes < 1:
        raise UsageError("--max-bytes must be positive")
    targets = tuple(dict.fromkeys(normalize_lang(t) for t in config.targets))
    if config.translate != "none" and not targets:
        raise UsageError("--to names no language")
    return replace(config, targets=targets, source_lang=normalize_lang(config.source_lang))


def translator_for(config: RunConfig, lang: str) -> str:
    """The translation model used for ``lang``."""
    return config.translator or default_translator(config.source_lang, lang)


def settings_fingerprint(config: RunConfig) -> str:
    """Everything besides the article that changes its record, as a short hash."""
    models_dir = Path(config.models_dir)
    parts: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "source_lang": config.source_lang,
        "summarize": config.summarize,
        "translate": config.translate if config.targets else "none",
        "targets": list(config.targets) if config.translate != "none" else [],
        "backend": "hf",
        "dtype": config.dtype,
    }
    if config.summarize:
        parts["summarizer"] = model_fingerprint(config.summarizer or DEFAULT_SUMMARIZER,
                                                models_dir)
        parts["summarizer_settings"] = config.summarizer_generation
    if config.translate != "none":
        parts["translators"] = {
            lang: model_fingerprint(translator_for(config, lang), models_dir)
            for lang in config.targets
        }
        parts["translator_settings"] = config.translator_generation
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def article_key(article: Article, fingerprint: str) -> str:
    """Resume key of one article: its content and the run's settings."""
    digest = hashlib.sha256()
    for part in (fingerprint, article.title, article.lang or "", article.text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def load_models(config: RunConfig) -> LoadedModels:
    """Load every model the run needs and check each target language (exit 2 on failure)."""
    started = time.perf_counter()  # importing torch and transformers is part of loading
    from summarize.backends.hf import device_name, load_backend, quiet_transformers
    from summarize.languages import plan_target
    from summarize.summarizer import Summarizer
    from summarize.translator import Translator

    if not config.debug:
        quiet_transformers()
    models_dir = Path(config.models_dir)
    common = {
        "models_dir": models_dir,
        "device": config.device,
        "dtype": config.dtype,
        "trust_remote_code": config.trust_remote_code,
        "allow_pickle": config.allow_pickle,
    }
    infos: list[dict[str, Any]] = []
    summarizer = None
    device_kind = None
    backend = None

    def info(role: str, b: Any, seconds: float, family: str) -> dict[str, Any]:
        return {"role": role, "model_id": b.model_id, "path": b.path, "revision": b.revision,
                "license": b.license, "family": family, "load_s": round(seconds, 3)}

    if config.summarize:
        t0 = time.perf_counter()
        name = config.summarizer or DEFAULT_SUMMARIZER
        settings = dict(config.summarizer_generation)
        backend = load_backend(name, role="summarizer",
                               max_input_tokens=settings.get("max_input_tokens"), **common)
        device_kind = backend.device.type
        budget = TokenBudget(config.batch_tokens or DEFAULT_BATCH_TOKENS[device_kind])
        summarizer = Summarizer(backend, settings, budget, config.source_lang)
        infos.append(info("summarizer", backend, time.perf_counter() - t0, backend.family))
    translators: dict[str, Any] = {}
    loaded: dict[str, Any] = {}
    if config.translate != "none":
        for lang in config.targets:
            name = translator_for(config, lang)
            t0 = time.perf_counter()
            if name not in loaded:
                loaded[name] = load_backend(name, role="translator", **common)
            tb = loaded[name]
            plan = plan_target(tb.tokenizer, tb.config, lang, config.source_lang, model_name=name)
            device_kind = tb.device.type
            budget = TokenBudget(config.batch_tokens or DEFAULT_BATCH_TOKENS[device_kind])
            translators[lang] = Translator(
                tb, lang, dict(config.translator_generation), budget,
                source_lang=config.source_lang, prefix=plan.prefix,
                forced_bos_token_id=plan.forced_bos_token_id, src_lang=plan.src_lang,
            )
            infos.append(info(f"translator:{lang}", tb, time.perf_counter() - t0, plan.family))
            backend = tb
    assert backend is not None
    return LoadedModels(
        summarizer=summarizer,
        translators=translators,
        infos=infos,
        device=str(backend.device),
        device_name=device_name(backend.device),
        dtype=str(backend.dtype).replace("torch.", ""),
        load_s=time.perf_counter() - started,
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _peak_rss_mb() -> float:
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1024 / (1024 if sys.platform == "darwin" else 1)
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20


def _peak_gpu_mb() -> float | None:
    if "torch" not in sys.modules:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


@dataclass
class _Pending:
    article: Article
    key: str
    read_s: float


class _Run:
    """State of one run; see :func:`run_batch`."""

    def __init__(self, config: RunConfig, reporter: Reporter,
                 loader: Callable[[RunConfig], LoadedModels]):
        self.config = config
        self.reporter = reporter
        self.loader = loader
        self.out_dir = Path(config.out_dir)
        self.result = RunResult(self.out_dir)
        self.models: LoadedModels | None = None
        self.stage_s = dict.fromkeys(STAGES, 0.0)
        self.batch_stats = {"summarize": BatchStats(), "translate": BatchStats()}
        self.n_read = 0
        self.skipped: list[Skipped] = []
        self.stop_requested = threading.Event()
        self.seen_ids: set[str] = set()
        self.dedupe: dict[str, dict[str, Any]] = {}

    # -- progress and interruption -------------------------------------------------------
    def _on_batch(self, stage: str) -> Callable[[int], None]:
        def advance(n: int) -> None:
            self.result.generate_calls += 1
            self.reporter.advance(stage, n)
            if self.stop_requested.is_set():
                raise Interrupted

        return advance

    def _on_work(self, stage: str) -> Callable[[int], None]:
        return lambda n: self.reporter.add_work(stage, n)

    # -- the run -------------------------------------------------------------------------
    def execute(self) -> RunResult:
        started_at, t_start = _now(), time.perf_counter()
        files, self.skipped, scan_failures = find_files(
            [Path(p) for p in self.config.inputs], exclude=[self.out_dir]
        )
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"--out {self.out_dir}: cannot create the output folder "
                f"({exc.strerror or exc})"
            ) from None
        if not self.out_dir.is_dir():
            raise UsageError(f"--out {self.out_dir}: exists and is not a folder")
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.out_dir / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise OutputLockedError(
                f"another summarize run is writing to {self.out_dir}; wait for it to finish "
                "or choose another --out folder"
            ) from None
        try:
            remove_stale_temp_files(self.out_dir)
            self.log = ResultsLog(self.out_dir)
            existing = self.log.compact()
            fingerprint = settings_fingerprint(self.config)
            self.reporter.add_work("read", len(files))
            group: list[_Pending] = []
            failures: list[InputFailure] = list(scan_failures)
            try:
                for src in files:
                    t0 = time.perf_counter()
                    items = read_file(src, self.config.max_bytes)
                    read_s = (time.perf_counter() - t0) / max(1, len(items))
                    self.stage_s["read"] += time.perf_counter() - t0
                    self.reporter.advance("read", 1)
                    for item in map(_valid_unicode, items):
                        self.n_read += 1
                        if isinstance(item, InputFailure):
                            failures.append(item)
                            continue
                        article = self._unique(item)
                        key = article_key(article, fingerprint)
                        old = existing.get(article.id)
                        if (not self.config.force and old and old.status == "ok"
                                and old.key == key
                                and page_path(self.out_dir, article.id, ".md").is_file()):
                            self.result.n_ok += 1
                            self.result.n_resumed += 1
                            continue
                        group.append(_Pending(article, key, read_s))
                    if len(group) >= self.config.group_size:
                        self._flush(group, failures)
                        group, failures = [], []
                    if self.stop_requested.is_set():
                        raise Interrupted
                self._flush(group, failures)
            except Interrupted:
                self.result.interrupted = True
                self.reporter.note(
                    "interrupted: finished articles are saved; run the same command again "
                    "to resume"
                )
            if self.result.n_failed or self.result.n_ok:
                self.log.compact()
            self.result.n_skipped = len(self.skipped)
            previous = _read_json(self.out_dir / "stats.json")
            self.result.stats = self._stats(started_at, time.perf_counter() - t_start)
            if self.models is None and previous:
                # Nothing needed a model this time: keep the record of the models that
                # produced the results in the folder.
                for key in ("device", "device_name", "dtype", "models"):
                    self.result.stats[key] = previous.get(key)
            write_stats(self.out_dir, self.result.stats)
            self._write_report()
        finally:
            lock.release()
        return self.result

    def _unique(self, article: Article) -> Article:
        """Give a repeated id (same record id twice, or two inputs) a distinct suffix."""
        if article.id not in self.seen_ids:
            self.seen_ids.add(article.id)
            return article
        n = 2
        while f"{article.id}~{n}" in self.seen_ids:
            n += 1
        new_id = f"{article.id}~{n}"
        self.seen_ids.add(new_id)
        return Article(new_id, article.source, article.text, article.title, article.lang)

    def _write_report(self) -> None:
        from summarize.report import write_report

        try:
            write_report(self.out_dir)
        except Exception as exc:  # the report is a view; never lose the run over it
            log.warning("could not write the HTML report: %s", exc)
            if self.config.debug:
                raise

    def _flush(self, group: list[_Pending], failures: list[InputFailure]) -> None:
        records: list[dict[str, Any]] = []
        if group and self.models is None:
            self.models = self.loader(self.config)
            self.result.models_loaded = True
            self.stage_s["load"] += self.models.load_s
        if group:
            records.extend(self._process_deduped(group) if self.config.dedupe
                           else self._process(group))
        for failure in failures:
            records.append(self._failure_record(_valid_unicode(failure)))
        t0 = time.perf_counter()
        for record in records:
            record["page"] = write_article_page(self.out_dir, record)
        self.log.append(records)
        self.stage_s["write"] += time.perf_counter() - t0

    def _failure_record(self, failure: InputFailure) -> dict[str, Any]:
        self.result.n_failed += 1
        self.result.failures.append(
            {"id": failure.id, "source": failure.source, "error": failure.error}
        )
        return {
            "schema_version": SCHEMA_VERSION, "id": failure.id, "source": failure.source,
            "title": "", "lang": None, "status": "error", "error": failure.error, "text": "",
            "summary": None, "chunks": 0, "translations": {}, "alignment": {},
            "timings": {}, "n_words": 0, "n_chars": 0, "key": None, "finished_at": _now(),
        }

    def _process_deduped(self, group: list[_Pending]) -> list[dict[str, Any]]:
        """Process each distinct text once (``--dedupe``); copies keep their own id and name."""
        leaders: list[_Pending] = []
        for item in group:
            digest = _text_digest(item.article)
            if digest not in self.dedupe and all(_text_digest(x.article) != digest
                                                 for x in leaders):
                leaders.append(item)
        by_digest = {}
        for record in self._process(leaders) if leaders else []:
            item = next(x for x in leaders if x.article.id == record["id"])
            by_digest[_text_digest(item.article)] = record
        records = []
        for item in group:
            digest = _text_digest(item.article)
            leader = by_digest.get(digest) or self.dedupe.get(digest)
            if leader is None:
                continue
            if leader["id"] == item.article.id and digest in by_digest:
                records.append(leader)
                if leader["status"] == "ok":
                    self.dedupe[digest] = {k: leader[k] for k in (*_COPIED, "id", "status")}
                continue
            if leader["status"] != "ok":
                records.append(self._failure_record(InputFailure(
                    item.article.id, item.article.source, leader.get("error") or "failed")))
                continue
            copy = self._ok_record(item, {k: leader[k] for k in _COPIED}, {"read": item.read_s})
            copy["duplicate_of"] = leader["id"]
            records.append(copy)
        return records

    def _process(self, group: list[_Pending]) -> list[dict[str, Any]]:
        """Summarize and translate a group; one bad article fails alone, not the group."""
        try:
            return self._process_pooled(group)
        except (Interrupted, UsageError):
            raise
        except Exception as exc:
            if len(group) == 1:
                return [self._error_record(group[0], exc)]
            log.debug("pooled group failed (%s); retrying article by article", exc)
            records = []
            for item in group:
                records.extend(self._process([item]))
            return records

    def _error_record(self, item: _Pending, exc: Exception) -> dict[str, Any]:
        if self.config.debug:
            raise exc
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not isinstance(exc, SummarizeError):
            message = f"{type(exc).__name__}: {message}"
        failure = InputFailure(item.article.id, item.article.source, message)
        return self._failure_record(failure)

    def _process_pooled(self, group: list[_Pending]) -> list[dict[str, Any]]:
        assert self.models is not None
        config = self.config
        texts = [p.article.text for p in group]
        n = len(group)
        summaries = [None] * n
        chunks = [0] * n
        share: dict[str, list[float]] = {}
        if self.models.summarizer is not None:
            stats = self.batch_stats["summarize"]
            before = stats.seconds
            results = self.models.summarizer.summarize_many(
                texts, stats, self._on_batch("summarize"), self._on_work("summarize"))
            spent = stats.seconds - before
            self.stage_s["summarize"] += spent
            summaries = [r.text for r in results]
            chunks = [r.chunks for r in results]
            share["summarize"] = _shares([r.input_tokens for r in results], spent)
        translations: list[dict[str, dict[str, str]]] = [{} for _ in range(n)]
        alignment: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
        parts = {"summary": ["summary"], "article": ["article"],
                 "both": ["summary", "article"], "none": []}[config.translate]
        translate_tokens = [0] * n
        translate_s = 0.0
        for lang, translator in self.models.translators.items():
            jobs = [(i, part) for i in range(n) for part in parts]
            sources = [summaries[i] or "" if part == "summary" else texts[i] for i, part in jobs]
            stats = self.batch_stats["translate"]
            before = stats.seconds
            results = translator.translate_many(
                sources, stats, self._on_batch("translate"), self._on_work("translate"))
            translate_s += stats.seconds - before
            for (i, part), res in zip(jobs, results, strict=True):
                translations[i].setdefault(lang, {})[part] = res.text
                alignment[i].setdefault(lang, {})[part] = [
                    [list(pair) for pair in paragraph] for paragraph in res.alignment
                ]
                translate_tokens[i] += res.input_tokens
        if self.models.translators:
            self.stage_s["translate"] += translate_s
            share["translate"] = _shares(translate_tokens, translate_s)
        records = []
        for i, item in enumerate(group):
            timings = {"read": round(item.read_s, 6)}
            for stage, values in share.items():
                timings[stage] = round(values[i], 6)
            fields = {
                "summary": summaries[i] if config.summarize else None,
                "chunks": chunks[i],
                "translations": translations[i],
                "alignment": alignment[i],
            }
            records.append(self._ok_record(item, fields, timings))
        return records

    def _ok_record(self, item: _Pending, fields: dict[str, Any],
                   timings: dict[str, float]) -> dict[str, Any]:
        article = item.article
        timings = {**timings, "total": round(sum(timings.values()), 6)}
        self.result.n_ok += 1
        return {
            "schema_version": SCHEMA_VERSION,
            "id": article.id,
            "source": article.source,
            "title": article.title,
            "lang": article.lang or self.config.source_lang,
            "status": "ok",
            "error": None,
            "text": article.text,
            **fields,
            "timings": timings,
            "n_words": len(article.text.split()),
            "n_chars": len(article.text),
            "key": item.key,
            "finished_at": _now(),
        }

    def _stats(self, started_at: str, wall_s: float) -> dict[str, Any]:
        config = self.config
        stages: dict[str, dict[str, Any]] = {}
        for stage in STAGES:
            entry: dict[str, Any] = {"seconds": round(self.stage_s[stage], 4)}
            if stage in self.batch_stats:
                bs = self.batch_stats[stage]
                entry.update({
                    "n_batches": bs.n_batches,
                    "n_items": sum(bs.batch_sizes),
                    "input_tokens": bs.input_tokens,
                    "output_tokens": bs.output_tokens,
                    "oom_splits": bs.n_oom_splits,
                    "input_tokens_per_s": _rate(bs.input_tokens, self.stage_s[stage]),
                    "output_tokens_per_s": _rate(bs.output_tokens, self.stage_s[stage]),
                })
            stages[stage] = entry
        stages["read"]["n_items"] = self.n_read
        packages = {"python": platform.python_version(), "summarize": __version__}
        for name in ("torch", "transformers", "tokenizers", "sentencepiece"):
            packages[name] = _version(name)
        models = self.models
        processed = self.result.n_ok - self.result.n_resumed + self.result.n_failed
        return {
            "schema_version": SCHEMA_VERSION,
            "started_at": started_at,
            "finished_at": _now(),
            "wall_s": round(wall_s, 4),
            "device": models.device if models else None,
            "device_name": models.device_name if models else None,
            "dtype": models.dtype if models else None,
            "models": models.infos if models else [],
            "targets": list(config.targets) if config.translate != "none" else [],
            "translate": config.translate,
            "source_lang": config.source_lang,
            "packages": packages,
            "stages": stages,
            "articles": {
                "total": self.result.n_ok + self.result.n_failed,
                "ok": self.result.n_ok,
                "failed": self.result.n_failed,
                "skipped": len(self.skipped),
                "resumed": self.result.n_resumed,
            },
            "articles_per_s": _rate(processed, wall_s),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "peak_gpu_mb": _peak_gpu_mb(),
            "interrupted": self.result.interrupted,
            "models_loaded": self.models is not None,
            "failures": self.result.failures,
            "skipped": [asdict(s) for s in self.skipped],
            "config": {k: v for k, v in asdict(config).items() if k != "debug"},
        }


_COPIED = ("summary", "chunks", "translations", "alignment")


def _fix_text(value: str | None) -> str | None:
    """Replace lone surrogates (from JSON escapes or undecodable file names) with U+FFFD."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _valid_unicode(item: Article | InputFailure) -> Article | InputFailure:
    """The record with every string made encodable, so it can be written and split."""
    from dataclasses import fields

    changes = {f.name: _fix_text(getattr(item, f.name)) for f in fields(item)
               if isinstance(getattr(item, f.name), str)}
    return replace(item, **changes)


def _text_digest(article: Article) -> str:
    return hashlib.sha256(article.text.encode("utf-8", "surrogatepass")).hexdigest()


def _shares(weights: list[int], seconds: float) -> list[float]:
    """Split a pooled stage's seconds over its articles by their share of input tokens."""
    total = sum(weights)
    if total <= 0:
        return [seconds / max(1, len(weights))] * len(weights)
    return [seconds * w / total for w in weights]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _rate(count: float, seconds: float) -> float | None:
    return round(count / seconds, 3) if seconds > 0 else None


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def run_batch(
    config: RunConfig,
    *,
    reporter: Reporter | None = None,
    loader: Callable[[RunConfig], LoadedModels] | None = None,
    handle_sigint: bool = False,
) -> RunResult:
    """Summarize and translate every article of ``config.inputs`` into ``config.out_dir``.

    Args:
        config: What to do (see :class:`RunConfig`).
        reporter: Progress sink (the CLI's bars); None runs silently.
        loader: Loads the models; defaults to :func:`load_models` (tests pass fakes).
        handle_sigint: Turn Ctrl-C into a clean stop after the current batch.

    Returns:
        Counts, failures and the stats written to stats.json.

    Raises:
        UsageError: Bad options, a missing input or a model that cannot be loaded
            (raised before any article is written).
        OutputLockedError: Another run is writing to the same output folder.
    """
    config = check_config(config)
    run = _Run(config, reporter or _Silent(), loader or load_models)
    previous = None
    if handle_sigint and threading.current_thread() is threading.main_thread():
        def on_sigint(signum: int, frame: Any) -> None:
            if run.stop_requested.is_set():
                raise KeyboardInterrupt
            run.stop_requested.set()
            run.reporter.note("stopping after the current batch (Ctrl-C again to abort)")

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return run.execute()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
