"""Plain typed records passed between the stages of a run, and their JSON (stdlib only).

:mod:`.articles`: an article as read and its results.jsonl record; :mod:`.review`: the
review of a record; :mod:`.stats`: stats.json; :mod:`.tolerant`: the readers' helpers.
"""

from summarize.records.articles import (
    RESULT_FIELDS,
    SCHEMA_VERSION,
    Article,
    ArticleResult,
    InputFailure,
    Skipped,
    result_from_json,
    result_to_json,
)
from summarize.records.review import (
    Confidence,
    Flag,
    Review,
    ReviewCell,
    review_from_json,
    review_to_json,
)
from summarize.records.stats import (
    STAGES,
    ArticleCounts,
    Failure,
    ModelInfo,
    RunStats,
    RunSummary,
    StageTiming,
    stats_from_json,
    stats_to_json,
)

__all__ = [
    "RESULT_FIELDS", "SCHEMA_VERSION", "STAGES", "Article", "ArticleCounts", "ArticleResult",
    "Confidence", "Failure", "Flag", "InputFailure", "ModelInfo", "Review", "ReviewCell",
    "RunStats", "RunSummary", "Skipped", "StageTiming", "result_from_json", "result_to_json",
    "review_from_json", "review_to_json", "stats_from_json", "stats_to_json",
]
