"""Kernels whose address arithmetic the batched interpreter keeps as per-program plus per-lane parts.

Each is written so that the parts meet a case their handling must get right: full and
partial blocks, 2-D tiles over strided views, int32 sums that wrap before a widening
cast, programs storing to one address, addresses that fall as the lane rises.
"""

import triton
import triton.language as tl


@triton.jit
def scale_shift(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """``out = 2 * x + 1``: one block per program, masked at the end."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 2 + 1, mask=mask)


@triton.jit
def tile_copy(x_ptr, out_ptr, m, n, stride_xm, stride_xn, stride_om, BM: tl.constexpr, BN: tl.constexpr):
    """Copies an (m, n) strided view tile by tile on a 2-D grid, into a row-major output."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    mask = (rows[:, None] < m) & (cols[None, :] < n)
    tile = tl.load(x_ptr + rows[:, None] * stride_xm + cols[None, :] * stride_xn, mask=mask)
    tl.store(out_ptr + rows[:, None] * stride_om + cols[None, :], tile, mask=mask)


@triton.jit
def tile_transpose(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """Writes the transpose of each (BLOCK, BLOCK) tile of an (n, BLOCK) matrix, pointers transposed."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, BLOCK)
    src = x_ptr + rows[:, None] * BLOCK + cols[None, :]
    dst = out_ptr + rows[:, None] * BLOCK + cols[None, :]
    tl.store(tl.trans(dst), tl.load(src))


@triton.jit
def wrapping_sums(out_ptr, flags_ptr, factor, BLOCK: tl.constexpr):
    """Stores ``pid * factor + lane`` (int32, wrapping), widened to int64, and whether it is below 5."""
    value = tl.program_id(0) * factor + tl.arange(0, BLOCK)
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, value.to(tl.int64))
    tl.store(flags_ptr + offsets, (value < 5).to(tl.int32))


@triton.jit
def every_program_stores_here(out_ptr, BLOCK: tl.constexpr):
    """Every program stores its id to the same BLOCK elements: the last program's stay."""
    pid = tl.program_id(0)
    tl.store(out_ptr + (pid * 0 + tl.arange(0, BLOCK)), tl.zeros((BLOCK,), tl.int32) + pid)


@triton.jit
def reversed_copy(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """``out[i] = x[n - 1 - i]``: addresses fall as the lane rises."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, tl.load(x_ptr + (n - 1 - offsets)))


@triton.jit
def decided_masks(out_ptr, BLOCK: tl.constexpr):
    """A store under a mask that is true in every lane, and one under a mask true in none."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, offsets + 1, mask=offsets >= 0)
    tl.store(out_ptr + offsets, offsets * 0 - 1, mask=offsets < 0)
