"""Work out what the report's index page shows, and the display values both pages share.

Pure functions from the records (:class:`summarize.records.ArticleResult`, its
:class:`summarize.records.Review`) and :class:`summarize.outputs.report.view.Stats` to the
plain values the templates lay out: derived totals, chart geometry, table rows, aligned
sections (the article page's are :mod:`summarize.outputs.report.article_page`'s). No HTML is
built here and nothing is escaped here; the templates do both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import regex

from summarize.outputs.naming import page_stem
from summarize.outputs.report.format import DASH, shorten
from summarize.outputs.report.view import Stats
from summarize.records import (
    SCHEMA_VERSION,
    STAGES,
    ArticleResult,
    Confidence,
    Failure,
    ReviewCell,
)

#: One paragraph of an alignment: its (source sentence, translated sentence) pairs.
Pairs = list[tuple[str, str]]

#: Per-article timings in the order the article page lists them; others follow.
ARTICLE_TIMINGS = (*STAGES[1:], "total")
PARTS = ("summary", "article")
MAX_BARS = 400  # per-article bars in the latency chart; above this, a curve
#: Articles listed in the review queue, highest score first; the rest are counted.
MAX_QUEUE = 200
#: Mean token log-probability below which an output is called low-confidence (nats); the
#: same line as ``summarize.review.signals.CONFIDENT_MEAN``.
LOW_CONFIDENCE = -1.0
#: Names of the flag kinds as the report shows them.
KIND_LABELS = {"empty": "empty", "refusal": "refused", "chatter": "chat leftovers",
               "cut": "cut at the limit", "repeat": "repeats itself",
               "copy": "untranslated copy", "wrong_lang": "wrong language",
               "length": "odd length", "numbers": "numbers", "glossary": "glossary"}


#: ``routes.summary`` of a summary made through another language: ``pivot:en (model)``.
PIVOT = re.compile(r"pivot:([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)")


def summary_language(record: ArticleResult, source_lang: str | None = None) -> str | None:
    """The language the summary is written in: the pivot's when it was made through one
    (``routes.summary`` ``pivot:en ...``), else the article's."""
    match = PIVOT.match(record.routes.get("summary", ""))
    return match.group(1) if match else (record.lang or source_lang)



def label(record: ArticleResult) -> str:
    """The display title of a record: its title, else its id ("" only for an empty id)."""
    return record.title or record.id


def total_s(record: ArticleResult) -> float | None:
    """The seconds the record's article took, or None when not recorded."""
    return record.timings.get("total")


#: Something a reader can see: a letter, mark, digit, punctuation or symbol.
_VISIBLE = regex.compile(r"[\p{L}\p{M}\p{N}\p{P}\p{S}]")


def paragraphs(text: str | None) -> list[str]:
    """Split text on blank lines into paragraphs with something visible in them (a text of
    control characters alone has none, and shows as empty)."""
    if text is None:
        return []
    return [p.strip() for p in re.split(r"\n\s*\n", text) if _VISIBLE.search(p)]


# --------------------------------------------------------------------------- index page


def counts(records: list[ArticleResult], stats: Stats) -> dict[str, float | None]:
    """Article counts from stats.json, falling back on the records."""
    derived: dict[str, float | None] = {
        "total": len(records),
        "ok": sum(r.status == "ok" for r in records),
        "failed": sum(r.status == "error" for r in records),
        "skipped": len(stats.skipped) if stats.skipped is not None else None,
        "resumed": None,
    }
    return {
        k: (stats.counts.get(k) if stats.counts.get(k) is not None else v)
        for k, v in derived.items()
    }


def newer_schema(records: list[ArticleResult], stats: Stats) -> float | None:
    """The newest schema version in the files if it is newer than this report knows."""
    versions = {stats.schema_version} | {r.schema_version for r in records}
    newer = sorted(v for v in versions if v is not None and v > SCHEMA_VERSION)
    return newer[-1] if newer else None


def languages(records: list[ArticleResult], stats: Stats) -> tuple[str, str] | None:
    """(sources, targets) as ``en`` and ``ko, ja``: from stats.json, else from the records."""
    sources = [stats.source_lang] if stats.source_lang else []
    targets = stats.targets
    if not sources:
        sources = sorted({r.lang for r in records if r.lang})
    if not targets:
        targets = sorted({code for r in records for code in r.translations})
    source_text = ", ".join(sources)
    if not source_text and not targets:
        return None
    return source_text, ", ".join(targets)


@dataclass(frozen=True)
class Bar:
    """One bar of the stage chart."""

    label: str
    seconds: float
    width_pct: float  # of the longest bar
    share_pct: float  # of the whole
    kind: str  # "" or "other"


@dataclass(frozen=True)
class StageChart:
    bars: list[Bar]
    note: str


def stage_seconds(records: list[ArticleResult], stats: Stats
                  ) -> tuple[list[tuple[str, float]], bool]:
    """Seconds per stage from stats.json, else summed from per-article timings.

    Returns:
        The (stage, seconds) pairs that are known, and whether they were derived from
        per-article timings.
    """
    known = [(s, stats.stages[s].seconds if s in stats.stages else None) for s in STAGES]
    pairs = [(s, v) for s, v in known if v is not None]
    if pairs:
        return pairs, False
    summed = []
    for stage in STAGES[1:]:
        values = [v for r in records if (v := r.timings.get(stage)) is not None]
        if values:
            summed.append((stage, sum(values)))
    return summed, True


def stage_chart(records: list[ArticleResult], stats: Stats) -> StageChart | None:
    """Where the time went: one bar per stage plus "other" for time outside them."""
    pairs, derived = stage_seconds(records, stats)
    if not pairs:
        return None
    wall = stats.wall_s
    busy = sum(max(v, 0.0) for _, v in pairs)
    raw = [(stage, max(v, 0.0), "") for stage, v in pairs]
    if wall is not None and wall - busy > 0.005 * max(wall, 1e-9):
        raw.append(("other", wall - busy, "other"))
    whole = sum(v for _, v, _ in raw) or 1.0
    biggest = max(v for _, v, _ in raw) or 1.0
    bars = [Bar(s, v, 100.0 * v / biggest, 100.0 * v / whole, kind) for s, v, kind in raw]
    if derived:
        note = "Summed from per-article timings (no stats.json stage totals)."
    elif wall is not None and busy > wall * 1.01:
        note = "Stages overlap, so their sum exceeds the wall time; shares are of the sum."
    elif wall is not None:
        note = "Share of the run's wall time; “other” is time outside the named stages."
    else:
        note = "Share of the sum of the stages (no wall time recorded)."
    return StageChart(bars, note)


def stage_names(stats: Stats) -> list[str]:
    """Recorded stages: the known ones in run order, then any others by name."""
    return [s for s in STAGES if s in stats.stages] + sorted(
        s for s in stats.stages if s not in STAGES
    )


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of an ascending list (``q`` in 0..1)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class LatencyBar:
    record: ArticleResult
    x: float
    y: float
    width: float
    height: float
    tip: str


@dataclass(frozen=True)
class LatencyChart:
    """Seconds per article, slowest first: one bar each, or a curve for large runs."""

    n: int
    width: int  # of the SVG view box
    bars: list[LatencyBar]  # empty when drawn as a curve
    curve: str | None  # SVG path data
    top: float
    median: float
    p90: float
    mean: float
    slowest: ArticleResult
    note: str


def latency_chart(records: list[ArticleResult]) -> LatencyChart | None:
    """Chart the seconds each article took, slowest first.

    Up to ``MAX_BARS`` articles get one bar each, linking to the article's page; larger runs
    get a filled curve of the same ranking, since single bars would be under a pixel wide.
    """
    timed = [(t, r) for r in records if (t := total_s(r)) is not None and t >= 0]
    if not timed:
        return None
    timed.sort(key=lambda item: -item[0])
    values = sorted(t for t, _ in timed)
    top = values[-1] or 1.0
    n = len(timed)
    bars: list[LatencyBar] = []
    curve = None
    if n <= MAX_BARS:
        gap = 0.15 if n <= 120 else 0.0
        for i, (t, record) in enumerate(timed):
            h = max(100.0 * t / top, 1.0)  # keep near-zero bars visible
            tip = f"{label(record) or DASH}: {t:.2f} s"
            bars.append(LatencyBar(record, i + gap / 2, 100 - h, 1 - gap, h, tip))
        width = n
        note = "Failed articles in red; hover a bar for its title, click it to open the article."
    else:
        curve, width = _curve([t for t, _ in timed], top), 1000
        note = "Too many articles for one bar each: the curve shows the same ranking."
    return LatencyChart(
        n=n,
        width=width,
        bars=bars,
        curve=curve,
        top=top,
        median=percentile(values, 0.5),
        p90=percentile(values, 0.9),
        mean=sum(values) / n,
        slowest=timed[0][1],
        note=note,
    )


def _curve(descending: list[float], top: float, steps: int = 1000) -> str:
    """A filled step curve of descending values, resampled to ``steps`` columns."""
    n = len(descending)
    points = ["M0,100"]
    for col in range(steps):
        t = descending[col * n // steps]  # the largest value in this column's share
        y = 100.0 - max(100.0 * t / top, 0.5)
        points.append(f"L{col},{y:.2f}L{col + 1},{y:.2f}")
    points.append(f"L{steps},100Z")
    return "".join(points)


@dataclass(frozen=True)
class Problem:
    """A failed input: its id (when it has one), source, error and page stem (when it has one)."""

    id: str | None
    source: str | None
    error: str | None
    stem: str | None


def problems(records: list[ArticleResult], stats: Stats) -> list[Problem]:
    """The failures stats.json lists, then failed records it does not list."""
    ids = {r.id for r in records}
    failures: list[Failure] = list(stats.failures)
    seen = {f.id for f in failures if f.id}
    failures += [
        Failure(r.id, r.source, r.error or "")
        for r in records
        if r.status == "error" and r.id not in seen
    ]
    return [Problem(f.id or None, f.source or None, f.error or None,
                    page_stem(f.id) if f.id and f.id in ids else None) for f in failures]


# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class ShownConfidence:
    """A confidence as shown: the geometric-mean token probability and how it was read."""

    pct: int  # exp(mean) as a percentage
    low: bool  # mean below LOW_CONFIDENCE
    tip: str


def confidence(conf: Confidence | None) -> ShownConfidence | None:
    """Display values of a recorded confidence, or None."""
    if conf is None:
        return None
    pct = round(100 * math.exp(min(0.0, conf.mean)))
    tip = (f"mean token log-probability {conf.mean:.2f} (about {pct}% per token), lowest "
           f"{conf.min:.2f}")
    return ShownConfidence(pct, conf.mean < LOW_CONFIDENCE, tip)


def flag_labels(cell: ReviewCell | None) -> list[tuple[str, str]]:
    """A cell's flags as (kind label, reason) pairs."""
    return [(KIND_LABELS.get(f.kind, f.kind), f.reason) for f in cell.flags] if cell else []


@dataclass(frozen=True)
class QueueItem:
    """One article of the review queue."""

    record: ArticleResult
    score: float
    reasons: list[tuple[str, int]]  # (kind label, count)
    confidence: ShownConfidence | None
    summary: str  # preview of the summary ("" when none)
    summary_lang: str | None  # its language
    translation: tuple[str, str] | None  # (lang, preview) of a translation


def _preview(text: str | None, limit: int = 160) -> str:
    return shorten(" ".join((text or "").split()), limit)


def review_queue(records: list[ArticleResult]) -> tuple[list[QueueItem], int, int]:
    """The articles most in need of review, highest review score first.

    Only ok records whose review scores above 0 (a flag, or an output below the
    confidence line) are listed; ties keep the run's order.

    Returns:
        (the first :data:`MAX_QUEUE` items, how many more scored above 0, how many ok
        records carry a review at all).
    """
    reviewed = [r for r in records if r.status == "ok" and r.review is not None]
    scored = [r for r in reviewed if r.review is not None and (r.review.score or 0) > 0]
    scored.sort(key=lambda r: -(r.review.score or 0) if r.review else 0)
    items = []
    for record in scored[:MAX_QUEUE]:
        review = record.review
        assert review is not None
        reasons = [(KIND_LABELS.get(k, k), n) for k, n in review.flag_counts.items()]
        conf = confidence(review.confidence)
        if conf is not None and conf.low and not reasons:
            reasons.append(("low confidence", 1))
        translation = None
        for code, parts in record.translations.items():
            text = parts.get("summary") or parts.get("article")
            if text:
                translation = (code, _preview(text))
                break
        items.append(QueueItem(record, review.score or 0.0, reasons, conf,
                               _preview(record.summary), summary_language(record),
                               translation))
    return items, max(0, len(scored) - MAX_QUEUE), len(reviewed)


def index_context(records: list[ArticleResult], stats: Stats, folder: str, generated: str) -> dict:
    """Everything ``index.html`` shows."""
    queue, queue_more, n_reviewed = review_queue(records)
    flag_counts = stats.review_flags
    if flag_counts is None and n_reviewed:
        totals: dict[str, int] = {}
        for r in records:
            for kind, n in (r.review.flag_counts if r.review else {}).items():
                totals[kind] = totals.get(kind, 0) + n
        flag_counts = totals
    return {
        "queue": queue,
        "queue_more": queue_more,
        "n_reviewed": n_reviewed,
        "review_flags": [(KIND_LABELS.get(k, k), n) for k, n in (flag_counts or {}).items()],
        "review_flags_known": flag_counts is not None,
        "folder": folder,
        "generated": generated,
        "records": records,
        "stats": stats,
        "schema_version": SCHEMA_VERSION,
        "newer_schema": newer_schema(records, stats),
        "counts": counts(records, stats),
        "languages": languages(records, stats),
        "stage_chart": stage_chart(records, stats),
        "stage_names": stage_names(stats),
        "latency": latency_chart(records),
        "statuses": sorted({r.status for r in records}),
        "problems": problems(records, stats),
    }


def translated_titles(record: ArticleResult) -> list[tuple[str, str]]:
    """(language, title) for each translation that carries a non-empty title."""
    return [
        (code, title)
        for code, parts in record.translations.items()
        if (title := parts.get("title"))
    ]


def pager_label(record: ArticleResult) -> str:
    return shorten(label(record) or DASH, 80)
