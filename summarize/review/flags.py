"""The vocabulary of the review: kinds of flags, their weights, a flag, a confidence.

:class:`Flag` and :class:`Confidence` are the record types of :mod:`summarize.records` (a
results.jsonl record carries them), re-exported here for the checks.
"""

from __future__ import annotations

import regex

from summarize.records import Confidence, Flag

#: Every kind of flag, in the order reports list them.
KINDS = ("empty", "refusal", "chatter", "cut", "repeat", "copy", "wrong_lang", "length",
         "numbers", "glossary")

#: Weight of each kind in :func:`summarize.review.signals.review_score`: how surely it means
#: a bad output.
WEIGHTS = {"empty": 3.0, "refusal": 3.0, "chatter": 1.5, "cut": 2.0, "repeat": 2.0,
           "copy": 2.0, "wrong_lang": 2.0, "numbers": 1.5, "glossary": 1.0, "length": 1.0}

__all__ = ["CASED_WORD", "KINDS", "WEIGHTS", "Confidence", "Flag", "short"]


#: A word of a cased script (letters, marks, inner apostrophes and hyphens).
CASED_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’-]*")


def short(text: str, n: int = 40) -> str:
    """``text`` cut to ``n`` characters with an ellipsis, for quoting in a reason."""
    return text if len(text) <= n else text[: n - 1] + "…"
