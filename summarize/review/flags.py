"""The vocabulary of the review: kinds of flags, their weights, a flag, a confidence."""

from __future__ import annotations

from dataclasses import dataclass

import regex

#: Every kind of flag, in the order reports list them.
KINDS = ("empty", "cut", "repeat", "copy", "wrong_lang", "length", "numbers", "glossary")

#: Weight of each kind in :func:`review_score`: how surely it means a bad output.
WEIGHTS = {"empty": 3.0, "cut": 2.0, "repeat": 2.0, "copy": 2.0, "wrong_lang": 2.0,
           "numbers": 1.5, "glossary": 1.0, "length": 1.0}


@dataclass(frozen=True)
class Flag:
    """One reason to look at an output.

    Attributes:
        kind: One of :data:`KINDS`.
        reason: A short human explanation ("number 1,250 missing").
    """

    kind: str
    reason: str


@dataclass(frozen=True)
class Confidence:
    """Token log-probabilities of one output, summarised (natural log, <= 0)."""

    mean: float
    min: float


#: A word of a cased script (letters, marks, inner apostrophes and hyphens).
CASED_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’-]*")


def short(text: str, n: int = 40) -> str:
    """``text`` cut to ``n`` characters with an ellipsis, for quoting in a reason."""
    return text if len(text) <= n else text[: n - 1] + "…"
