"""Review: signals computed from a run's outputs that tell a reviewer where to look."""

from summarize.review.article import (
    ReviewEvidence,
    ReviewSettings,
    count_flags,
    glossaries_from_options,
    reliable_language,
    review_article,
)

__all__ = ["ReviewEvidence", "ReviewSettings", "count_flags", "glossaries_from_options",
           "reliable_language", "review_article"]
