"""The engine boundary: what a seq2seq backend offers the two tasks (no torch here).

Engines (``hf.py`` for transformers + torch, later CTranslate2) implement
:class:`Seq2SeqBackend`; the tasks and the batching code see only this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Generated:
    """Output of one batch: decoded texts plus token counts (padding excluded)."""

    texts: list[str]
    input_tokens: int
    output_tokens: int


class BatchOutOfMemory(Exception):
    """The device ran out of memory on one batch; the caller splits it and retries."""


class Seq2SeqBackend(Protocol):
    """A loaded seq2seq model ready to generate."""

    model_id: str
    family: str
    max_input_tokens: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text as the model's encoder sees it (special tokens included)."""
        ...

    def generate(
        self,
        texts: Sequence[str],
        settings: dict[str, Any],
        max_new_tokens: Sequence[int],
        forced_bos_token_id: int | None = None,
    ) -> Generated:
        """Generate one output per text.

        Args:
            texts: Inputs of one batch.
            settings: Generation settings (num_beams, length_penalty, ...).
            max_new_tokens: Per-text limit on generated tokens; each output is cut to its own
                limit so a text's result never depends on its batch-mates.
            forced_bos_token_id: Target-language token for families that need one.
        """
        ...
