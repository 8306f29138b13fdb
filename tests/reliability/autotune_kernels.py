"""Autotuned kernels with configs that cannot run, as real libraries list them."""

from __future__ import annotations

import triton
import triton.language as tl

CONFIGS = [triton.Config({"BLOCK": 8}), triton.Config({"BLOCK": 16}), triton.Config({"BLOCK": 32})]


@triton.autotune(configs=CONFIGS, key=["n"])
@triton.jit
def scale_wide_blocks(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    tl.static_assert(BLOCK >= 16, "BLOCK must be at least 16")
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 3, mask=mask)


@triton.autotune(configs=CONFIGS, key=["n"])
@triton.jit
def scale_impossible(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    tl.static_assert(BLOCK > 64, "BLOCK must exceed 64")
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=offsets < n), mask=offsets < n)
