"""Kernels launched wrongly by the tests of tests/reliability/test_errors.py."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def axpy(x_ptr, out_ptr, alpha, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * alpha, mask=mask)


@triton.heuristics({"BLOCK": lambda args: triton.next_power_of_2(args["n_elements"])})
@triton.jit
def copy_misnamed_heuristic(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=offsets < n), mask=offsets < n)


@triton.heuristics({"BLOCK": lambda args: 64 // (args["n"] - args["n"])})
@triton.jit
def copy_raising_heuristic(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=offsets < n), mask=offsets < n)
