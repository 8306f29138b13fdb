"""Kernels for loads a replay returns as views of argument memory: each writes memory it has
loaded, so a view the write showed through would change a value the kernel still reads."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def double_keep_old(x_ptr, old_ptr, BLOCK: tl.constexpr):
    """Doubles ``x`` in place, then stores the value loaded before: still read after the store."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(x_ptr + offs, x * 2)
    tl.store(old_ptr + offs, x)


@triton.jit
def double(x_ptr, BLOCK: tl.constexpr):
    """Doubles ``x`` in place: the loaded value's last use is the product the store writes."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) * 2)


@triton.jit
def clear_keep_transposed(x_ptr, out_ptr, BLOCK: tl.constexpr):
    """Zeroes each program's square block of ``x`` and stores the block as loaded, transposed.

    The loaded value is dead at the first store; its transpose, another view of the same
    memory, is not.
    """
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
    cols = tl.arange(0, BLOCK)[None, :]
    block = tl.load(x_ptr + rows * BLOCK + cols)
    transposed = tl.trans(block)
    tl.store(x_ptr + rows * BLOCK + cols, block * 0.0)
    tl.store(out_ptr + rows * BLOCK + cols, transposed)
