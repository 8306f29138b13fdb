"""Kernels for the interpreter's replay tapes: each takes a decision from a value (a branch, a
loop bound, data), so that a replay which kept a stale decision shows in the result."""

from __future__ import annotations

import triton
import triton.language as tl
from batching_kernels import _max_abs

#: A global constexpr the kernel reads: rebinding it must not replay the old value.
SCALE: tl.constexpr = tl.constexpr(2.0)


@triton.jit
def add(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask), mask=mask)


@triton.jit
def branch_on_scalar(x_ptr, out_ptr, n, threshold, BLOCK: tl.constexpr):
    """Doubles where ``n`` is over ``threshold``, negates otherwise: a Python ``if`` on a scalar argument."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    if n > threshold:
        y = x * 2
    else:
        y = -x
    tl.store(out_ptr + offs, y, mask=mask)


@triton.jit
def row_sum_loop(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    """A row's sum over a loop whose trip count is the scalar ``n_cols`` (its bound is read by Python)."""
    row = tl.program_id(0)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + row * n_cols + cols, mask=cols < n_cols, other=0.0)
    tl.store(out_ptr + row, tl.sum(acc, axis=0))


@triton.jit
def accumulate_then_branch(acc_ptr, flag_ptr, n, BLOCK: tl.constexpr):
    """``acc += 1`` in place, then a branch on loaded data: a replay stopped at the branch has already
    stored, and the launch must not apply the increment twice."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(acc_ptr + offs, tl.load(acc_ptr + offs, mask=mask) + 1, mask=mask)
    if tl.load(flag_ptr) > 0:
        tl.store(acc_ptr + offs, tl.load(acc_ptr + offs, mask=mask) * 10, mask=mask)


@triton.jit
def scaled(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * SCALE, mask=mask)


@triton.jit
def reductions(x_ptr, sum_ptr, maxabs_ptr, cumsum_ptr, n_cols, BLOCK: tl.constexpr):
    """Per row: a sum, a custom reduce (its combine function's Python runs inside the operation) and a scan."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
    tl.store(sum_ptr + row, tl.sum(x, axis=0))
    tl.store(maxabs_ptr + row, tl.reduce(x, 0, _max_abs))
    tl.store(cumsum_ptr + row * n_cols + cols, tl.cumsum(x, axis=0), mask=mask)


@triton.jit
def index_widened(x_ptr, out_ptr, n, offset, BLOCK: tl.constexpr):
    """``offset`` converts to int32 or to int64 by its value: the semantic layer's casts differ."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    shifted = (offs + offset) - offset
    tl.store(out_ptr + offs, tl.load(x_ptr + shifted, mask=mask) + 1, mask=mask)


@triton.jit
def printed(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """Prints a value with Python's ``print``, as people debug in the interpreter: nothing a tape can
    replay, so every launch runs its Python and prints."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    print("n is", n)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + 1, mask=mask)


@triton.jit
def row_sums(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    """``tl.sum`` in the input's dtype: a reduction that runs no kernel Python (NumPy's sum, bf16's own)."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n_cols + cols, mask=cols < n_cols, other=0.0)
    tl.store(out_ptr + row, tl.sum(x, axis=0))


@triton.jit
def increment_then_copy(acc_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    """``acc += 1`` in place, then a copy into ``dst``: a ``dst`` too short fails after the increment."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    incremented = tl.load(acc_ptr + offs, mask=mask) + 1
    tl.store(acc_ptr + offs, incremented, mask=mask)
    tl.store(dst_ptr + offs, incremented, mask=mask)
