"""Pure batching: packing by token budget, order restoration, out-of-memory back-off."""

from __future__ import annotations

import pytest

from summarize.backends import Generated
from summarize.errors import BatchOutOfMemory, ConfigError
from summarize.tasks.batching import BatchStats, TokenBudget, make_batches, run_batched


def test_golden_packing_by_padded_tokens():
    # lengths by index: 0:5 1:10 2:3 3:10 4:4 ; sorted longest first: 1,3,0,4,2
    # budget 20: [1,3] costs 2*10=20; then 0 (5): [0,4,2] costs 3*5=15 <= 20
    assert make_batches([5, 10, 3, 10, 4], budget_tokens=20) == [[1, 3], [0, 4, 2]]


def test_every_index_once_and_budget_respected():
    lengths = [(i * 37) % 50 + 1 for i in range(200)]
    batches = make_batches(lengths, budget_tokens=300, max_batch=16)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(200))
    for batch in batches:
        assert len(batch) <= 16
        assert len(batch) * max(lengths[i] for i in batch) <= 300


def test_item_longer_than_budget_gets_its_own_batch():
    assert make_batches([100, 2, 2], budget_tokens=10) == [[0], [1, 2]]


@pytest.mark.parametrize("budget", [1, 7, 64, 10_000])
def test_run_batched_restores_input_order(budget):
    items = [f"w{i} " * (i % 7 + 1) for i in range(50)]
    lengths = [len(t.split()) for t in items]

    def run(batch):
        return Generated([t.strip().upper() for t in batch], 0, 0)

    out = run_batched(items, lengths, TokenBudget(budget), run)
    assert out.outputs == [t.strip().upper() for t in items]
    assert out.failures == {}


def test_out_of_memory_splits_batch_and_lowers_budget():
    items = list(range(40))
    lengths = [10] * 40
    seen: list[int] = []

    def run(batch):
        if len(batch) > 5:
            raise BatchOutOfMemory("too big")
        seen.append(len(batch))
        return Generated([str(i) for i in batch], 0, 0)

    budget = TokenBudget(400)
    stats = BatchStats()
    out = run_batched(items, lengths, budget, run, stats)
    assert out.outputs == [str(i) for i in items]
    assert max(seen) <= 5 and stats.n_oom_splits > 0
    assert budget.tokens < 400  # later runs start from the lowered budget


def test_single_item_out_of_memory_is_raised():
    def run(batch):
        raise BatchOutOfMemory("nope")

    with pytest.raises(BatchOutOfMemory):
        run_batched(["a"], [1], TokenBudget(10), run)


def test_a_failing_item_fails_alone_and_the_others_keep_their_results():
    items = list(range(16))
    calls: list[list[int]] = []

    def run(batch):
        calls.append(batch)
        if 11 in batch:
            raise RuntimeError("bad item")
        return Generated([str(i) for i in batch], 0, 0, [i == 3 for i in batch])

    out = run_batched(items, [4] * 16, TokenBudget(10_000), run, BatchStats())
    assert list(out.failures) == [11]
    assert str(out.failures[11]) == "bad item"
    assert out.outputs == [str(i) if i != 11 else "" for i in items]
    assert out.hit_limit == [i == 3 for i in items]
    # bisection: one batch of 16, then halves down to the bad item alone (1 + 2 * 4 calls)
    assert len(calls) == 9


def test_a_library_panic_fails_its_item_alone_but_ctrl_c_is_not_caught():
    class PanicException(BaseException):  # how pyo3 raises a Rust panic (tokenizers, ...)
        pass

    def run(batch):
        if 2 in batch:
            raise PanicException("index out of bounds")
        return Generated([str(i) for i in batch], 0, 0, [False] * len(batch))

    out = run_batched(list(range(4)), [1] * 4, TokenBudget(100), run)
    assert list(out.failures) == [2] and "index out of bounds" in str(out.failures[2])
    assert isinstance(out.failures[2], Exception)
    assert out.outputs == ["0", "1", "", "3"]

    def interrupted(batch):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batched(["a", "b"], [1, 1], TokenBudget(10), interrupted)


def test_usage_errors_are_not_isolated():
    def run(batch):
        raise ConfigError("setting refused")

    with pytest.raises(ConfigError):
        run_batched(["a", "b"], [1, 1], TokenBudget(10), run)


def test_scores_come_back_in_input_order():
    items = [f"w{i} " * (i % 5 + 1) for i in range(20)]
    lengths = [len(t.split()) for t in items]

    def run(batch):
        return Generated(list(batch), 0, 0, [False] * len(batch),
                         [(-float(len(t)), -2.0 * len(t)) for t in batch])

    out = run_batched(items, lengths, TokenBudget(6), run)
    assert out.scores == [(-float(len(t)), -2.0 * len(t)) for t in items]
    plain = run_batched(items, lengths, TokenBudget(6), lambda b: Generated(list(b), 0, 0))
    assert plain.scores == [None] * len(items)
