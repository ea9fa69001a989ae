"""How the torch chat engine runs a batch on a CPU: shared prompt prefixes computed once,
prompts prefilled one at a time, answers decoded together.

A batch of chat prompts padded into one forward pass wastes work twice on a CPU: every row
recomputes the same instruction (system text and the task's instruction, 60 to 250 tokens,
the same for every request of a task), and a padded prefill of long prompts leaves the
attention kernel's fast path (a padding mask instead of a plain causal one) and computes
the padding in full. Decoding is the opposite: one token per row per step, bound by reading
the weights, so the more rows share a step the better.

So :func:`prefill_and_decode`:

1. takes each prompt's *prefix*, the tokens it shares with the same request rendered with
   no text (:meth:`PrefixCache.prefix_length`), whose keys and values it computes once and
   keeps (:class:`PrefixCache`, a few entries, least recently used out);
2. prefills the rest of each prompt (all but its last token) on top of its prefix: rows
   of similar length together, right-padded, at most :data:`PREFILL_ROWS` rows and
   :data:`PREFILL_TOKENS` tokens a pass (padding after a row's own tokens is never seen by
   them under the causal mask; each row's keys and values are cut to its length), or
   alone for models with sliding-window layers (whose cache keeps the batch's last window,
   not each row's). Measured on the bench's 2-core CPU, SmolLM2-135M's shape, 150
   one-sentence translations: prefill 14.7 s one row at a time, 7.9 s by 16 rows (8.8 s
   by 64, 12.3 s by 256);
3. lays the rows' caches side by side, left-padded (each row's positions come from the
   attention mask, so they are the positions the prefill used), and lets ``generate``
   decode every row together from its last prompt token.

A row's prefix is computed alone; its prefill and decode steps share passes with other
rows, as in any batch (greedy texts equal each prompt's alone:
tests/test_chat_batching.py). It applies to models whose cache layers are all full or
sliding-window attention (Llama, Qwen3, SmolLM, Gemma 3); :func:`supported` says so, and
the engine runs one padded ``generate`` otherwise.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch

#: Most bytes of keys and values the prefix cache keeps over its entries (it always keeps
#: the last one used): a few instructions of a small model, one of a large one.
PREFIX_CACHE_BYTES = 256 * 2**20
#: Shortest shared prefix worth caching (shorter ones are prefilled with their row).
MIN_PREFIX = 8
#: Rows prefilled together after a shared prefix, right-padded (models whose cache layers
#: all keep every position), at most this many rows and tokens (rows x longest) per pass.
PREFILL_ROWS = 16
PREFILL_TOKENS = 512


def supported(model: Any) -> bool:
    """Whether :func:`prefill_and_decode` can run ``model``: a decoder whose dynamic cache
    is made of full or sliding-window attention layers only (no shared or linear layers)."""
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    layers = _cache_layer_types(model)
    return bool(layers) and layers <= {DynamicLayer, DynamicSlidingWindowLayer}


def _cache_layer_types(model: Any) -> set[type]:
    """The types of the layers of ``model``'s dynamic cache (empty when the cache cannot
    read its config)."""
    from transformers import DynamicCache

    try:
        return {type(layer) for layer in getattr(DynamicCache(config=model.config), "layers",
                                                 None) or ()}
    except Exception:  # a config the cache cannot read: not this path
        return set()


def cache_argument(model: Any) -> str:
    """The name a model's ``forward`` (and ``generate``) takes its cache by: ``cache`` in
    transformers 5.2x, ``past_key_values`` before (5.19 still; the range admits both)."""
    return _cache_argument(type(model))


@functools.cache
def _cache_argument(cls: type) -> str:
    try:
        names = inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in names else "past_key_values"


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token rows."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """Keys and values of shared prompt prefixes, computed once per prefix (LRU).

    Safe to share between threads (a run's reader and generator threads, Ray actors).

    Args:
        model: The causal LM.
        max_bytes: Most bytes of keys and values kept over all entries (the last one used
            stays, whatever its size).
    """

    def __init__(self, model: Any, max_bytes: int = PREFIX_CACHE_BYTES):
        self.model = model
        self.max_bytes = max_bytes
        #: Rows of this model are prefilled together (see :func:`prefill_and_decode`).
        self.together = _full_attention_only(model)
        self._entries: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]]
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, prefix: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, the ``(keys, values)`` of ``prefix`` (batch of one), computed on
        first use."""
        with self._lock:
            entry = self._entries.get(prefix)
            if entry is not None:
                self._entries.move_to_end(prefix)
                self.hits += 1
                return entry
            self.misses += 1
        ids = torch.tensor([list(prefix)], device=self.model.device)
        cache = _forward(self.model, ids, None, 0)
        entry = [(layer.keys, layer.values) for layer in cache.layers]
        with self._lock:
            self._entries[prefix] = entry
            self._entries.move_to_end(prefix)
            while self._bytes() > self.max_bytes and len(self._entries) > 1:
                self._entries.popitem(last=False)
        return entry

    def _bytes(self) -> int:
        return sum(t.numel() * t.element_size() for entry in self._entries.values()
                   for pair in entry for t in pair)

    def clear(self) -> None:
        """Forget every prefix."""
        with self._lock:
            self._entries.clear()


def _forward(model: Any, ids: torch.Tensor, prefix: list[tuple[torch.Tensor, torch.Tensor]]
             | None, start: int) -> Any:
    """Run ``ids`` (rows of one length, positions from ``start``) on top of ``prefix``'s cache;
    returns the cache (prefix and ``ids``)."""
    from transformers import DynamicCache

    cache = DynamicCache(ddp_cache_data=prefix, config=model.config) if prefix else \
        DynamicCache(config=model.config)
    positions = torch.arange(start, start + ids.shape[1], device=ids.device)[None].expand(
        ids.shape[0], -1)
    model(input_ids=ids, position_ids=positions, **{cache_argument(model): cache}, use_cache=True,
          logits_to_keep=1)
    return cache


def prefill_and_decode(model: Any, rows: Sequence[Sequence[int]],
                       prefix_lengths: Sequence[int], prefixes: PrefixCache, pad: int,
                       max_new_tokens: int, **generate_kwargs: Any) -> tuple[Any, int]:
    """Prefill each row alone on top of its cached prefix, then decode all rows together.

    Args:
        model: The causal LM (eval mode; called under ``torch.inference_mode``).
        rows: Prompt token ids per request (at least one token each).
        prefix_lengths: Per row, how many leading tokens are a shared prefix to take from
            (or put in) ``prefixes`` (0: none).
        prefixes: The prefix cache.
        pad: Pad token id.
        max_new_tokens: Most tokens any row generates (sizes the decode cache).
        **generate_kwargs: For ``model.generate`` (``generation_config``,
            ``logits_processor``).

    Returns:
        (what ``generate`` returned, the width of its prompt part: new tokens start there).
    """
    device = model.device
    cached = [len(row) - 1 for row in rows]  # every prompt token but the last is prefilled
    width = max(cached)
    decode = _DecodeCache(model, len(rows), width, width + 1 + max_new_tokens)
    together = prefixes.together
    starts: dict[int, int] = {}
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(rows):
        n_prefix = min(prefix_lengths[i], cached[i])
        key = tuple(row[:n_prefix]) if n_prefix >= MIN_PREFIX else ()
        starts[i] = len(key)
        by_prefix.setdefault(key, []).append(i)
    for key, members in by_prefix.items():
        prefix = prefixes.get(key) if key else None
        start = len(key)
        members.sort(key=lambda i: cached[i] - start)
        chunk: list[int] = []
        for i in members:
            if cached[i] == start:  # nothing after the prefix (or a one-token prompt)
                if prefix is not None:
                    decode.put(i, prefix)
                continue
            if chunk and (not together or len(chunk) >= PREFILL_ROWS
                          or (cached[i] - start) * (len(chunk) + 1) > PREFILL_TOKENS):
                _prefill(model, [rows[j] for j in chunk], chunk, cached, prefix, start, decode)
                chunk = []
            chunk.append(i)
        if chunk:
            _prefill(model, [rows[j] for j in chunk], chunk, cached, prefix, start, decode)
    input_ids = torch.full((len(rows), width + 1), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width + 1), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width + 1 - len(row):] = torch.tensor(list(row), dtype=torch.long)
        mask[i, width + 1 - len(row):] = 1
    out = model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                         **{cache_argument(model): decode.finish()}, **generate_kwargs)
    return out, width + 1


def _full_attention_only(model: Any) -> bool:
    """Whether every cache layer of ``model`` keeps all its positions (no sliding window):
    then rows are prefilled together, right-padded (a sliding layer would keep the padded
    batch's last window, not each row's)."""
    from transformers.cache_utils import DynamicLayer

    return _cache_layer_types(model) == {DynamicLayer}


def _prefill(model: Any, chunk_rows: list[Sequence[int]], chunk: list[int],
             cached: list[int], prefix: list[tuple[torch.Tensor, torch.Tensor]] | None,
             start: int, decode: _DecodeCache) -> None:
    """Prefill ``chunk``'s rows (all but their last token) on top of their shared
    ``prefix``: one row alone, or several right-padded in one forward pass. Right padding
    comes after each row's own tokens, so under the causal mask none of them sees it; each
    row's keys and values are then cut to its own length."""
    device = model.device
    if len(chunk) == 1:
        i = chunk[0]
        rest = torch.tensor([list(chunk_rows[0][start:cached[i]])], dtype=torch.long,
                            device=device)
        decode.put(i, [(layer.keys, layer.values)
                       for layer in _forward(model, rest, prefix, start).layers])
        return
    longest = max(cached[i] for i in chunk) - start
    ids = torch.zeros((len(chunk), longest), dtype=torch.long)
    for j, (i, row) in enumerate(zip(chunk, chunk_rows, strict=True)):
        ids[j, :cached[i] - start] = torch.tensor(list(row[start:cached[i]]))
    shared = None
    if prefix is not None:
        shared = [(k.expand(len(chunk), *k.shape[1:]), v.expand(len(chunk), *v.shape[1:]))
                  for k, v in prefix]
    cache = _forward(model, ids.to(device), shared, start)
    for j, i in enumerate(chunk):
        decode.put(i, [(layer.keys[j:j + 1, :, :cached[i]], layer.values[j:j + 1, :, :cached[i]])
                       for layer in cache.layers])


class _DecodeCache:
    """The batch's cache for decoding, filled row by row with each row's prefilled keys and
    values, right-aligned (left padding).

    Full-attention models get a preallocated cache that each step writes one position of
    (transformers' ``StaticCache``): a growing cache concatenates every layer's keys and
    values at every step, which for long prompts in a batch costs more than the model's own
    arithmetic on a CPU. Models with sliding-window layers get a dynamic cache (their
    windows bound what it copies).
    """

    def __init__(self, model: Any, batch: int, width: int, capacity: int):
        from transformers import StaticCache
        from transformers.cache_utils import StaticLayer

        self.model = model
        self.batch = batch
        self.width = width
        self.static: Any = None
        self.layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if width:
            cache = StaticCache(config=model.config, max_cache_len=capacity)
            if all(type(layer) is StaticLayer for layer in cache.layers):
                self.static = cache

    def put(self, row: int, states: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Place one row's per-layer ``(keys, values)`` (batch of one) at the right end."""
        if self.static is not None:
            for layer, (k, v) in zip(self.static.layers, states, strict=True):
                if not layer.is_initialized:
                    layer.lazy_initialization(k.new_empty((self.batch, *k.shape[1:])),
                                              v.new_empty((self.batch, *v.shape[1:])))
                n = k.shape[2]
                layer.keys[row, :, self.width - n:self.width] = k[0]
                layer.values[row, :, self.width - n:self.width] = v[0]
            return
        if self.layers is None:
            self.layers = [(k.new_zeros((self.batch, k.shape[1], self.width, k.shape[3])),
                            v.new_zeros((self.batch, v.shape[1], self.width, v.shape[3])))
                           for k, v in states]
        for (keys, values), (k, v) in zip(self.layers, states, strict=True):
            n = k.shape[2]  # a sliding-window layer keeps only its window
            keys[row, :, self.width - n:] = k[0]
            values[row, :, self.width - n:] = v[0]

    def finish(self) -> Any:
        """The cache to decode from (None when no row had anything to prefill)."""
        from transformers import DynamicCache

        if self.static is not None:
            if not self.static.layers[0].is_initialized:
                return None
            for layer in self.static.layers:
                layer.cumulative_length.fill_(self.width)
            return self.static
        if self.layers is None:
            return None
        return DynamicCache(ddp_cache_data=self.layers, config=self.model.config)
