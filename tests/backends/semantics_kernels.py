"""Kernels whose results Triton's interpreter gets wrong and compiled Triton gets right."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def bf16_elementwise(x_ptr, y_ptr, out_ptr, cmp_ptr, OP: tl.constexpr, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offsets)
    y = tl.load(y_ptr + offsets)
    if OP == "x * 2 + x":
        result = x * 2 + x
    elif OP == "x - y":
        result = x - y
    elif OP == "x / y":
        result = x / y
    elif OP == "x * y + x":
        result = x * y + x
    elif OP == "exp in fp32":
        result = tl.exp(x.to(tl.float32)).to(tl.bfloat16)
    elif OP == "-x":
        result = -x
    elif OP == "maximum":
        result = tl.maximum(x, y)
    else:
        result = tl.fma(x, y, x)
    tl.store(out_ptr + offsets, result)
    tl.store(cmp_ptr + offsets, (x > y).to(tl.int8))


@triton.jit
def casts(x_ptr, to_bf16_ptr, back_ptr, to_int_ptr, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offsets)
    as_bf16 = x.to(tl.bfloat16)
    tl.store(to_bf16_ptr + offsets, as_bf16)
    tl.store(back_ptr + offsets, as_bf16.to(tl.float32))
    tl.store(to_int_ptr + offsets, as_bf16.to(tl.int32))


@triton.jit
def bf16_reductions(x_ptr, sum_ptr, max_ptr, argmax_ptr, min_ptr, cumsum_ptr, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offsets)
    tl.store(sum_ptr, tl.sum(x, axis=0))
    tl.store(max_ptr, tl.max(x, axis=0))
    tl.store(argmax_ptr, tl.argmax(x, axis=0))
    tl.store(min_ptr, tl.min(x, axis=0))
    tl.store(cumsum_ptr + offsets, tl.cumsum(x, axis=0))


@triton.jit
def bf16_matmul(a_ptr, b_ptr, c_ptr, N: tl.constexpr):
    rows = tl.arange(0, N)
    a = tl.load(a_ptr + rows[:, None] * N + rows[None, :])
    b = tl.load(b_ptr + rows[:, None] * N + rows[None, :])
    tl.store(c_ptr + rows[:, None] * N + rows[None, :], tl.dot(a, b))


@triton.jit
def chunk_rows(out_ptr, T, BT: tl.constexpr, CHUNKS: tl.constexpr):
    """Linear-attention style: a loop index widened with .to(), and a comparison combined into a mask."""
    for i_t in range(CHUNKS):
        rows = i_t.to(tl.int64) * BT + tl.arange(0, BT)
        in_bounds = (i_t * BT + tl.arange(0, BT)) < T
        mask = in_bounds & (rows >= 0)
        tl.store(out_ptr + rows, rows.to(tl.float32), mask=mask)


@triton.jit
def chunk_rows_tl_range(out_ptr, T, n_chunks, BT: tl.constexpr):
    """The same through ``tl.range`` with a runtime trip count and a pipelining hint, as fla writes it."""
    for i_t in tl.range(0, n_chunks, num_stages=2):
        rows = i_t.to(tl.int64) * BT + tl.arange(0, BT)
        mask = (rows < T) & (rows >= 0)
        tl.store(out_ptr + rows, rows.to(tl.float32), mask=mask)


@triton.jit
def static_unroll(out_ptr, BLOCK: tl.constexpr):
    pair = (1.0, 10.0)
    acc = tl.zeros([BLOCK], tl.float32)
    for i in tl.static_range(2):
        acc += pair[i]  # a static index stays a Python int, as compiled
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


@triton.jit
def bf16_atomics(x_ptr, sum_ptr, old_ptr, SLOTS: tl.constexpr, BLOCK: tl.constexpr):
    """Every program adds its block into SLOTS bf16 accumulators (lanes and programs meet
    there) and keeps what each lane found. (Triton takes no other atomic on bf16.)"""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    found = tl.atomic_add(sum_ptr + offs % SLOTS, tl.load(x_ptr + pid * BLOCK + offs))
    tl.store(old_ptr + pid * BLOCK + offs, found)
