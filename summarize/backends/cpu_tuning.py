"""CPU tuning for float32 torch models: what it changes in the process, and a way to opt out.

Two changes, both measured on the project's 2-core AMD EPYC machine (see benchmarks/README.md):

* ``use_onednn_linear``: a model's ``nn.Linear`` layers run through oneDNN
  (``torch.ops.mkldnn._linear_pointwise``, a private op, probed against ``F.linear`` before
  use and left alone when it is missing or disagrees), with the oneDNN kernel cache capped
  through ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` when the user has not set it. Per model.
* ``keep_freed_memory``: glibc keeps freed large blocks for reuse (``mallopt``).
  Process-wide: it changes the allocator of the whole calling process.

:func:`apply_cpu_tuning` applies what is asked and returns what was applied, for stats.json;
``RunConfig(cpu_tuning=False)`` (CLI ``--no-cpu-tuning``) applies nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
import types
from typing import Any

import torch

# Largest block glibc serves from (and keeps in) the heap on CPU runs; see keep_freed_memory.
CPU_HEAP_BLOCK = 256 * 2**20
# Compiled oneDNN kernels kept for reuse (its default is 1024); see use_onednn_linear.
ONEDNN_KERNEL_CACHE = 64
_ALLOCATOR_APPLIED = False


def apply_cpu_tuning(model: torch.nn.Module, enabled: bool = True) -> dict[str, Any]:
    """Tune a float32 CPU model (and, once, the process allocator) when ``enabled``.

    Returns:
        What was applied: ``{"enabled", "onednn_linear_layers", "glibc_keep_freed",
        "onednn_kernel_cache"}``, recorded in stats.json.
    """
    global _ALLOCATOR_APPLIED
    if not enabled:
        return {"enabled": False}
    if not _ALLOCATOR_APPLIED:
        _ALLOCATOR_APPLIED = keep_freed_memory()
    layers = use_onednn_linear(model)
    return {
        "enabled": True,
        "onednn_linear_layers": layers,
        "glibc_keep_freed": _ALLOCATOR_APPLIED,
        "onednn_kernel_cache": (os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY")
                                if layers else None),
    }


def keep_freed_memory(limit: int = CPU_HEAP_BLOCK) -> bool:
    """Let glibc reuse freed large blocks instead of unmapping them (Linux CPU runs).

    Each decoding step allocates a few ``batch x vocabulary`` float tensors of tens of MB.
    By default glibc maps such a block fresh and unmaps it when freed (or trims the heap
    top), so every step pays the kernel to fault in and zero those pages again. Blocks up
    to ``limit`` now come from the heap, and up to ``limit`` of freed memory stays mapped.
    Process-wide; returns False where the C library has no ``mallopt`` (not glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, limit)) and bool(mallopt(m_trim_threshold, limit))


def _rows_bucket(rows: int) -> int:
    """``rows`` rounded up to one of 8 sizes per doubling (at most 1/8 more rows)."""
    if rows <= 16:
        return rows
    step = 1 << (rows.bit_length() - 4)
    return -(-rows // step) * step


def _onednn_linear(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``F.linear`` through oneDNN, its rows padded to a bucket size (see use_onednn_linear)."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or x.dim() < 2:
        return torch.nn.functional.linear(x, self.weight, self.bias)
    flat = x.reshape(-1, x.shape[-1])
    rows = flat.shape[0]
    padded = _rows_bucket(rows)
    if padded != rows:
        flat = torch.nn.functional.pad(flat, (0, 0, 0, padded - rows))
    out = torch.ops.mkldnn._linear_pointwise(flat, self.weight, self.bias, "none", [], "")
    return out[:rows].reshape(*x.shape[:-1], out.shape[-1])


def use_onednn_linear(model: torch.nn.Module) -> int:
    """Run a float32 CPU model's linear layers through oneDNN rather than MKL.

    torch's CPU matmul calls MKL, which runs its AVX2 kernels on AMD processors; oneDNN
    picks its kernels by instruction set (AVX-512 there) and is 2-2.5x faster on the
    bench's AMD EPYC. Same float32 arithmetic with the sums in another order (as with any
    other batch shape); weights are shared, not copied. oneDNN builds and keeps a kernel,
    with buffers (~1 MB for a large output layer), for every input shape it meets, and
    memory grew with every new batch shape over a long run; so the rows are padded up to
    one of 8 sizes per doubling, and at most ONEDNN_KERNEL_CACHE kernels are kept. x86-64
    only; nothing changes where the kernel is missing or disagrees with ``F.linear`` on a
    probe.

    Returns:
        How many layers now use oneDNN.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return 0
    # Read once, when oneDNN builds its first kernel; a user's own setting wins.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_KERNEL_CACHE))
    try:
        op = torch.ops.mkldnn._linear_pointwise
        gen = torch.Generator().manual_seed(0)  # leave the global RNG alone
        x, w, b = (torch.randn(shape, generator=gen) for shape in ((3, 5, 16), (8, 16), (8,)))
        if not torch.allclose(op(x, w, b, "none", [], ""), torch.nn.functional.linear(x, w, b),
                              rtol=1e-4, atol=1e-4):
            return 0
    except (AttributeError, RuntimeError, TypeError):
        return 0
    n = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.forward = types.MethodType(_onednn_linear, module)
            n += 1
    return n


