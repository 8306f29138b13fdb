"""Kernels whose analysis once came out wrong while claiming to be exact."""

from __future__ import annotations

import triton
import triton.language as tl

#: Rebound by tests/reliability/test_analysis.py to check the analysis follows globals.
TO_A = tl.constexpr(True)


@triton.jit
def fill_a(a_ptr, b_ptr, BLOCK: tl.constexpr):
    tl.store(a_ptr + tl.arange(0, BLOCK), tl.full([BLOCK], 1.0, tl.float32))


@triton.jit
def fill_b(a_ptr, b_ptr, BLOCK: tl.constexpr):
    tl.store(b_ptr + tl.arange(0, BLOCK), tl.full([BLOCK], 1.0, tl.float32))


#: A global helper, rebound by the tests.
fill = fill_a


@triton.jit
def fill_by_global_constexpr(a_ptr, b_ptr, BLOCK: tl.constexpr):
    if TO_A:
        tl.store(a_ptr + tl.arange(0, BLOCK), tl.full([BLOCK], 1.0, tl.float32))
    else:
        tl.store(b_ptr + tl.arange(0, BLOCK), tl.full([BLOCK], 1.0, tl.float32))


@triton.jit
def fill_by_global_helper(a_ptr, b_ptr, BLOCK: tl.constexpr):
    fill(a_ptr, b_ptr, BLOCK)


@triton.jit
def copy_maybe_in_place(a_ptr, b_ptr, flag, BLOCK: tl.constexpr):
    """With flag > 0 the store goes to a_ptr, though the code names b_ptr: Triton 3.9 names
    the TTIR argument of a_ptr "b_ptr"."""
    offsets = tl.arange(0, BLOCK)
    if flag > 0:
        b_ptr = a_ptr
    tl.store(b_ptr + offsets, tl.load(a_ptr + offsets) * 2)


@triton.jit
def store_to_chosen(a_ptr, b_ptr, flag, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    if flag > 0:
        dst = a_ptr
    else:
        dst = b_ptr
    tl.store(dst + offsets, offsets.to(tl.float32))


@triton.jit
def sum_pair(pair, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n
    total = tl.load(pair[0] + offsets, mask=mask) + tl.load(pair[1] + offsets, mask=mask)
    tl.store(out_ptr + offsets, total, mask=mask)


@triton.jit
def scale_pair_in_place(pair, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(pair[1] + offsets, tl.load(pair[0] + offsets, mask=mask) * 3, mask=mask)


@triton.jit
def chunked_scores(A, k, g, T, BT: tl.constexpr, BK: tl.constexpr):
    """Linear-attention style: k and g advance through the loop; A is addressed with the loop index."""
    i_t = tl.program_id(0)
    p_k = k + i_t * BT * BK + tl.arange(0, BT)[:, None] * BK + tl.arange(0, BK)[None, :]
    p_g = g + i_t * BT * BK + tl.arange(0, BT)[:, None] * BK + tl.arange(0, BK)[None, :]
    for i in range(BT):
        row = tl.sum(tl.load(p_k) * tl.exp(tl.load(p_g)), axis=1)
        tl.store(A + (i_t * BT + i) * BT + tl.arange(0, BT), row)
        p_k += BK
        p_g += BK
