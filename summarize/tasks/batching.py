"""Pure batching: sort work by length, pack it by a token budget, run it, restore order.

A *batch* is several items run through the model together; its cost is
``len(batch) * longest item`` tokens, because every row is padded to the longest.
Nothing here imports torch: the out-of-memory policy works on a callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from summarize.errors import BatchOutOfMemory, UsageError, item_error

if TYPE_CHECKING:
    from summarize.backends import Generated

log = logging.getLogger(__name__)

T = TypeVar("T")


def make_batches(
    lengths: Sequence[int], budget_tokens: int, max_batch: int = 1024
) -> list[list[int]]:
    """Pack item indices into batches whose padded size stays within a token budget.

    Items are sorted longest first (ties keep input order), so each batch holds items of
    similar length and the first batch, the largest, meets any memory limit at once.

    Args:
        lengths: Token length of each item.
        budget_tokens: Most ``rows * longest row`` tokens per batch; an item longer than
            the budget still gets a batch of its own.
        max_batch: Most rows per batch.

    Returns:
        Lists of indices into ``lengths``; every index appears exactly once.
    """
    if budget_tokens < 1 or max_batch < 1:
        raise ValueError("budget_tokens and max_batch must be positive")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if current and (
            longest_if_added * (len(current) + 1) > budget_tokens or len(current) >= max_batch
        ):
            batches.append(current)
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    return batches


@dataclass
class BatchStats:
    """What running batches cost: batches run, tokens in and out, OOM splits."""

    n_batches: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    n_oom_splits: int = 0
    n_failure_splits: int = 0
    batch_sizes: list[int] = field(default_factory=list)

    def add(self, other: BatchStats) -> None:
        """Add ``other``'s counts: another thread's or replica's share of the same stage."""
        self.n_batches += other.n_batches
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.n_oom_splits += other.n_oom_splits
        self.n_failure_splits += other.n_failure_splits
        self.batch_sizes.extend(other.batch_sizes)


@dataclass
class TokenBudget:
    """The token budget per batch, lowered for the rest of the run after an out-of-memory."""

    tokens: int
    max_batch: int = 1024
    floor: int = 1

    def lower(self, failed_cost: int) -> None:
        """Lower the budget below the cost of a batch that did not fit."""
        new = max(self.floor, min(self.tokens, failed_cost) // 2)
        if new < self.tokens:
            log.warning("out of memory: lowering the batch budget from %d to %d tokens",
                        self.tokens, new)
            self.tokens = new


@dataclass
class BatchRun:
    """Outputs of :func:`run_batched`, in input order.

    Attributes:
        outputs: One output per item ("" for a failed item).
        hit_limit: Per item, whether its output stopped at its token limit.
        failures: Items that failed alone (isolated by splitting their batch), with the error.
        scores: Per item, the (mean, min) token log-probability of its output, or None when
            the backend gave none (see ``Generated.scores``).
    """

    outputs: list[str]
    hit_limit: list[bool]
    failures: dict[int, Exception] = field(default_factory=dict)
    scores: list[tuple[float, float] | None] = field(default_factory=list)


def run_batched(
    items: Sequence[T],
    lengths: Sequence[int],
    budget: TokenBudget,
    run: Callable[[list[T]], Generated],
    stats: BatchStats | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> BatchRun:
    """Run ``items`` through ``run`` in length-sorted batches; outputs come back in input order.

    A batch that runs out of memory is split in half and retried, and the budget lowered for
    the rest of the run. A batch that fails otherwise is split in half too, until the item
    that fails is alone: it is recorded in ``failures`` and every other item keeps its
    result, so one bad input costs its batch-mates a few extra batches, not their results.
    Usage errors (bad settings) fail every batch alike and are raised at once.

    Args:
        items: Work items (texts or richer records).
        lengths: Token length of each item.
        budget: Token budget; lowered in place when a batch runs out of memory.
        run: Runs one batch; raises BatchOutOfMemory when the device cannot hold it.
        stats: Accumulates batch counts and tokens.
        on_batch: Called with the number of items finished after each batch (progress).

    Raises:
        BatchOutOfMemory: A single item does not fit in memory.
        UsageError: ``run`` refused the settings.
    """
    outputs: list[str] = [""] * len(items)
    hit_limit = [False] * len(items)
    scores: list[tuple[float, float] | None] = [None] * len(items)
    failures: dict[int, Exception] = {}
    pending = make_batches(lengths, budget.tokens, budget.max_batch)
    pending.reverse()  # a stack: pop() takes the next batch, longest first
    while pending:
        batch = pending.pop()
        try:
            generated = run([items[i] for i in batch])
        except BatchOutOfMemory:
            if len(batch) == 1:
                raise
            cost = len(batch) * max(lengths[i] for i in batch)
            budget.lower(cost)
            half = len(batch) // 2
            pending.extend([batch[half:], batch[:half]])
            if stats is not None:
                stats.n_oom_splits += 1
            continue
        except UsageError:
            raise
        except BaseException as exc:  # isolate the item that fails; the others carry on
            error = item_error(exc, "library panic")  # raises Ctrl-C and exits again
            if len(batch) == 1:
                log.debug("item failed alone: %s", exc, exc_info=True)
                failures[batch[0]] = error
                if on_batch is not None:
                    on_batch(1)
                continue
            half = len(batch) // 2
            pending.extend([batch[half:], batch[:half]])
            if stats is not None:
                stats.n_failure_splits += 1
            continue
        flags = generated.hit_limit or [False] * len(batch)
        confidences = generated.scores or [None] * len(batch)
        for i, out, hit, score in zip(batch, generated.texts, flags, confidences, strict=True):
            outputs[i] = out
            hit_limit[i] = hit
            scores[i] = score
        if stats is not None:
            stats.n_batches += 1
            stats.input_tokens += generated.input_tokens
            stats.output_tokens += generated.output_tokens
            stats.batch_sizes.append(len(batch))
        if on_batch is not None:
            on_batch(len(batch))
    return BatchRun(outputs, hit_limit, failures, scores)
