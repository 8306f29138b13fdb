"""Kernels that reach outside the memory they were given, unless their launch keeps them in."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def unmasked_copy(src_ptr, dst_ptr, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst_ptr + offsets, tl.load(src_ptr + offsets))


@triton.jit
def masked_copy(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(dst_ptr + offsets, tl.load(src_ptr + offsets, mask=mask), mask=mask)


@triton.jit
def strided_write(dst_ptr, stride, BLOCK: tl.constexpr):
    rows = tl.arange(0, BLOCK)
    tl.store(dst_ptr + rows * stride, rows.to(tl.float32))


@triton.jit
def atomic_count(counts_ptr, index_ptr, BLOCK: tl.constexpr):
    index = tl.load(index_ptr + tl.arange(0, BLOCK))
    tl.atomic_add(counts_ptr + index, tl.full([BLOCK], 1, tl.int32))
