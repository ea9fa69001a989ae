"""Languages: the user's ISO codes, each model family's own codes, and detection."""

from summarize.languages.codes import LANGUAGES, language_name, normalize_lang, same_language
from summarize.languages.families import (
    MBART50_CODES,
    LangPlan,
    detect_family,
    plan_target,
    supported_targets,
)

__all__ = ["LANGUAGES", "MBART50_CODES", "LangPlan", "detect_family", "language_name",
           "normalize_lang", "plan_target", "same_language", "supported_targets"]
