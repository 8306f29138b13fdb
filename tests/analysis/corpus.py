"""Kernels with known read and write sets, covering every construct the analysis must follow.

Each :class:`Case` builds the launch arguments (meta tensors: the analysis needs
no data) and states the exact written and read parameter names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice
from triton.tools.tensor_descriptor import TensorDescriptor


def t(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(*shape, dtype=dtype, device="meta")


@attrs.frozen
class Case:
    name: str
    kernel: Any
    make_args: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]
    written: tuple[str, ...]
    read: tuple[str, ...]


# --- straight-line, branches, loops -----------------------------------------------------------


@triton.jit
def copy(src, dst, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst + offs, tl.load(src + offs, mask=offs < n), mask=offs < n)


@triton.jit
def runtime_flag(a_ptr, b_ptr, x_ptr, flag, BLOCK: tl.constexpr):
    """The store target depends on a runtime scalar: both are written."""
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    if flag:
        tl.store(a_ptr + offs, x)
    else:
        tl.store(b_ptr + offs, x)


@triton.jit
def constexpr_flag(a_ptr, b_ptr, x_ptr, FLAG: tl.constexpr, BLOCK: tl.constexpr):
    """A constexpr branch is folded: only the taken side counts."""
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    if FLAG:
        tl.store(a_ptr + offs, x)
    else:
        tl.store(b_ptr + offs, x)


@triton.jit
def select_pointer(a_ptr, b_ptr, x_ptr, flag, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    target = tl.where(flag > 0, a_ptr, b_ptr)
    tl.store(target + offs, tl.load(x_ptr + offs))


@triton.jit
def for_loop_accumulate(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, n, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


@triton.jit
def for_loop_pointer_swap(a_ptr, b_ptr, c_ptr, n, BLOCK: tl.constexpr):
    """Loop-carried pointers swap each iteration: a and b are both written, c only read."""
    offs = tl.arange(0, BLOCK)
    p = a_ptr
    q = b_ptr
    for _ in range(n):
        tl.store(p + offs, tl.load(c_ptr + offs))
        p, q = q, p


@triton.jit
def while_loop(x_ptr, out_ptr, n):
    i = 0
    while i < n:
        tl.store(out_ptr + i, tl.load(x_ptr + i) * 2)
        i += 1


@triton.jit
def while_loop_advancing_pointer(x_ptr, out_ptr, n):
    p = out_ptr
    i = 0
    while i < n:
        tl.store(p, tl.load(x_ptr + i))
        p += 1
        i += 1


@triton.jit
def nested_if_in_loop(x_ptr, even_ptr, odd_ptr, n, BLOCK: tl.constexpr):
    for i in range(n):
        v = tl.load(x_ptr + i)
        if i % 2 == 0:
            tl.store(even_ptr + i, v)
        else:
            tl.store(odd_ptr + i, v)


# --- reductions, scans, calls -----------------------------------------------------------------


@triton.jit
def row_sum(x_ptr, out_ptr, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    c = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * cols + c, mask=c < cols, other=0.0)
    tl.store(out_ptr + row, tl.sum(x, axis=0))


@triton.jit
def _max_combine(a, b):
    return tl.maximum(a, b)


@triton.jit
def custom_reduce(x_ptr, out_ptr, BLOCK: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, BLOCK))
    tl.store(out_ptr, tl.reduce(x, 0, _max_combine))


@triton.jit
def cumulative_sum(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.cumsum(tl.load(x_ptr + offs), axis=0))


@triton.jit
def _store_helper(ptr, value):
    tl.store(ptr, value)


@triton.jit
def inlined_helper(x_ptr, out_ptr):
    _store_helper(out_ptr, tl.load(x_ptr))


@triton.jit(noinline=True)
def _store_not_inlined(ptr, value):
    tl.store(ptr, value + 1)


@triton.jit(noinline=True)
def _load_not_inlined(ptr):
    return tl.load(ptr)


@triton.jit
def non_inlined_calls(x_ptr, out_ptr, unused_ptr):
    _store_not_inlined(out_ptr, _load_not_inlined(x_ptr))


@triton.jit(noinline=True)
def _returns_its_pointer(ptr):
    return ptr + 1


@triton.jit
def pointer_through_call(x_ptr, out_ptr):
    tl.store(_returns_its_pointer(out_ptr), tl.load(x_ptr))


# --- atomics ----------------------------------------------------------------------------------


@triton.jit
def atomic_add(x_ptr, total_ptr, BLOCK: tl.constexpr):
    tl.atomic_add(total_ptr, tl.sum(tl.load(x_ptr + tl.arange(0, BLOCK)), axis=0))


@triton.jit
def atomic_cas_lock(lock_ptr, x_ptr, out_ptr):
    while tl.atomic_cas(lock_ptr, 0, 1) == 1:
        pass
    tl.store(out_ptr, tl.load(x_ptr))
    tl.atomic_xchg(lock_ptr, 0)


@triton.jit
def atomic_max_masked(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.atomic_max(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


# --- inline asm, libdevice, float scalars ----------------------------------------------------


@triton.jit
def pure_inline_asm(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = tl.inline_asm_elementwise("mov.b32 $0, $1;", "=r,r", [x], dtype=tl.float32, is_pure=True, pack=1)
    tl.store(out_ptr + offs, y)


@triton.jit
def impure_inline_asm(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = tl.inline_asm_elementwise("mov.b32 $0, $1;", "=r,r", [x], dtype=tl.float32, is_pure=False, pack=1)
    tl.store(out_ptr + offs, y)


@triton.jit
def float_scalar_methods(x_ptr, out_ptr, eps, BLOCK: tl.constexpr):
    """``eps.to(...)`` on a float argument, which defeats PyTorch's analysis."""
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs).to(tl.float32)
    tl.store(out_ptr + offs, x * libdevice.rsqrt(tl.sum(x * x, 0) + eps.to(tl.float32)))


@triton.jit
def libdevice_math(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(out_ptr + offs, libdevice.tanh(x) + libdevice.exp(x))


# --- descriptors ------------------------------------------------------------------------------


@triton.jit
def host_descriptor_copy(in_desc, out_desc, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    tile = in_desc.load([tl.program_id(0) * BLOCK_M, 0])
    out_desc.store([tl.program_id(0) * BLOCK_M, 0], tile)


@triton.jit
def device_descriptor_store(x_ptr, out_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    in_desc = tl.make_tensor_descriptor(x_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    out_desc = tl.make_tensor_descriptor(out_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    out_desc.store([0, 0], in_desc.load([0, 0]))


@triton.jit
def descriptor_and_pointer(desc, bias_ptr, out_ptr, BLOCK: tl.constexpr):
    tile = desc.load([0, 0])
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs[:, None] * BLOCK + offs[None, :], tile + tl.load(bias_ptr + offs)[None, :])


# --- decorated kernels and launch options ----------------------------------------------------


@triton.autotune(configs=[triton.Config({"BLOCK": 32}), triton.Config({"BLOCK": 64}, num_warps=8)], key=["n"])
@triton.jit
def autotuned_copy(src, dst, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst + offs, tl.load(src + offs, mask=offs < n), mask=offs < n)


@triton.heuristics({"HAS_RESIDUAL": lambda args: args["residual_ptr"] is not None})
@triton.jit
def heuristic_residual(x_ptr, residual_ptr, out_ptr, BLOCK: tl.constexpr, HAS_RESIDUAL: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    if HAS_RESIDUAL:
        x += tl.load(residual_ptr + offs)
        tl.store(residual_ptr + offs, x)
    tl.store(out_ptr + offs, x)


@triton.jit
def in_place_gradient(logits_ptr, labels_ptr, loss_ptr, n_cols, BLOCK: tl.constexpr):
    """Cross-entropy style: the gradient overwrites the logits in place."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    logits = tl.load(logits_ptr + row * n_cols + offs, mask=mask, other=-float("inf"))
    label = tl.load(labels_ptr + row)
    m = tl.max(logits, 0)
    e = tl.exp(logits - m)
    s = tl.sum(e, 0)
    tl.store(loss_ptr + row, tl.log(s) + m - tl.sum(tl.where(offs == label, logits, 0.0), 0))
    tl.store(logits_ptr + row * n_cols + offs, e / s - (offs == label), mask=mask)


# --- pointers the analysis cannot attribute ---------------------------------------------------


@triton.jit
def pointer_from_memory(table_ptr, x_ptr):
    """Stores through a pointer loaded from a table: no parameter names the target."""
    dst = tl.load(table_ptr).to(tl.pointer_type(tl.float32))
    tl.store(dst, tl.load(x_ptr))


@triton.jit
def pointer_from_integer(address, x_ptr):
    tl.store(address.to(tl.pointer_type(tl.float32)), tl.load(x_ptr))


def _desc(*shape: int, block: tuple[int, ...]) -> TensorDescriptor:
    return TensorDescriptor(t(*shape), list(shape), [shape[1], 1], list(block))


CASES = [
    Case("copy", copy, lambda: ((t(64), t(64), 64), {"BLOCK": 32}), ("dst",), ("src",)),
    Case("runtime_flag", runtime_flag, lambda: ((t(8), t(8), t(8), 3), {"BLOCK": 8}), ("a_ptr", "b_ptr"), ("x_ptr",)),
    Case("constexpr_flag_true", constexpr_flag, lambda: ((t(8), t(8), t(8)), {"FLAG": True, "BLOCK": 8}),
         ("a_ptr",), ("x_ptr",)),
    Case("constexpr_flag_false", constexpr_flag, lambda: ((t(8), t(8), t(8)), {"FLAG": False, "BLOCK": 8}),
         ("b_ptr",), ("x_ptr",)),
    Case("select_pointer", select_pointer, lambda: ((t(8), t(8), t(8), 1), {"BLOCK": 8}), ("a_ptr", "b_ptr"),
         ("x_ptr",)),
    Case("scalar_equal_to_one", runtime_flag, lambda: ((t(8), t(8), t(8), 1), {"BLOCK": 8}), ("a_ptr", "b_ptr"),
         ("x_ptr",)),
    Case("for_loop_accumulate", for_loop_accumulate, lambda: ((t(64), t(16), 64), {"BLOCK": 16}), ("out_ptr",),
         ("x_ptr",)),
    Case("for_loop_pointer_swap", for_loop_pointer_swap, lambda: ((t(8), t(8), t(8), 4), {"BLOCK": 8}),
         ("a_ptr", "b_ptr"), ("c_ptr",)),
    Case("while_loop", while_loop, lambda: ((t(8), t(8), 8), {}), ("out_ptr",), ("x_ptr",)),
    Case("while_loop_advancing_pointer", while_loop_advancing_pointer, lambda: ((t(8), t(8), 8), {}),
         ("out_ptr",), ("x_ptr",)),
    Case("nested_if_in_loop", nested_if_in_loop, lambda: ((t(8), t(8), t(8), 8), {"BLOCK": 8}),
         ("even_ptr", "odd_ptr"), ("x_ptr",)),
    Case("row_sum", row_sum, lambda: ((t(4, 16), t(4), 16), {"BLOCK": 16}), ("out_ptr",), ("x_ptr",)),
    Case("custom_reduce", custom_reduce, lambda: ((t(16), t(1)), {"BLOCK": 16}), ("out_ptr",), ("x_ptr",)),
    Case("cumulative_sum", cumulative_sum, lambda: ((t(16), t(16)), {"BLOCK": 16}), ("out_ptr",), ("x_ptr",)),
    Case("inlined_helper", inlined_helper, lambda: ((t(1), t(1)), {}), ("out_ptr",), ("x_ptr",)),
    Case("non_inlined_calls", non_inlined_calls, lambda: ((t(1), t(1), t(1)), {}), ("out_ptr",), ("x_ptr",)),
    Case("pointer_through_call", pointer_through_call, lambda: ((t(1), t(2)), {}), ("out_ptr",), ("x_ptr",)),
    Case("atomic_add", atomic_add, lambda: ((t(16), t(1)), {"BLOCK": 16}), ("total_ptr",), ("x_ptr", "total_ptr")),
    Case("atomic_cas_lock", atomic_cas_lock, lambda: ((t(1, dtype=torch.int32), t(1), t(1)), {}),
         ("lock_ptr", "out_ptr"), ("lock_ptr", "x_ptr")),
    Case("atomic_max_masked", atomic_max_masked, lambda: ((t(16), t(16), 16), {"BLOCK": 16}), ("out_ptr",),
         ("x_ptr", "out_ptr")),
    Case("pure_inline_asm", pure_inline_asm, lambda: ((t(16), t(16)), {"BLOCK": 16}), ("out_ptr",), ("x_ptr",)),
    Case("float_scalar_methods", float_scalar_methods, lambda: ((t(16), t(16), 1e-6), {"BLOCK": 16}),
         ("out_ptr",), ("x_ptr",)),
    Case("libdevice_math", libdevice_math, lambda: ((t(16), t(16)), {"BLOCK": 16}), ("out_ptr",), ("x_ptr",)),
    Case("host_descriptor_copy", host_descriptor_copy,
         lambda: ((_desc(64, 64, block=(32, 64)), _desc(64, 64, block=(32, 64))), {"BLOCK_M": 32, "BLOCK_N": 64}),
         ("out_desc",), ("in_desc",)),
    Case("device_descriptor_store", device_descriptor_store,
         lambda: ((t(32, 32), t(32, 32), 32, 32), {"BLOCK_M": 16, "BLOCK_N": 16}), ("out_ptr",), ("x_ptr",)),
    Case("descriptor_and_pointer", descriptor_and_pointer,
         lambda: ((_desc(16, 16, block=(16, 16)), t(16), t(16, 16)), {"BLOCK": 16}), ("out_ptr",),
         ("desc", "bias_ptr")),
    Case("autotuned_copy", autotuned_copy, lambda: ((t(64), t(64), 64), {}), ("dst",), ("src",)),
    Case("heuristic_residual_given", heuristic_residual, lambda: ((t(8), t(8), t(8)), {"BLOCK": 8}),
         ("residual_ptr", "out_ptr"), ("x_ptr", "residual_ptr")),
    Case("heuristic_residual_none", heuristic_residual, lambda: ((t(8), None, t(8)), {"BLOCK": 8}),
         ("out_ptr",), ("x_ptr",)),
    Case("backend_keyword_arguments", copy,
         lambda: ((t(64), t(64), 64), {"BLOCK": 32, "num_warps": 8, "num_stages": 3, "waves_per_eu": 2,
                                       "matrix_instr_nonkdim": 16, "kpack": 2}), ("dst",), ("src",)),
    Case("in_place_gradient", in_place_gradient,
         lambda: ((t(4, 32), t(4, dtype=torch.int64), t(4), 32), {"BLOCK": 32}), ("logits_ptr", "loss_ptr"),
         ("logits_ptr", "labels_ptr")),
]

#: Kernels whose answer cannot be exact, with a word the reason must contain.
INEXACT = [
    Case("impure_inline_asm", impure_inline_asm, lambda: ((t(16), t(16)), {"BLOCK": 16}), ("x_ptr", "out_ptr"),
         ("x_ptr", "out_ptr")),
    Case("pointer_from_memory", pointer_from_memory, lambda: ((t(1, dtype=torch.int64), t(1)), {}),
         ("table_ptr", "x_ptr"), ("table_ptr", "x_ptr")),
    Case("pointer_from_integer", pointer_from_integer, lambda: ((2**40, t(1)), {}), ("x_ptr",), ("x_ptr",)),
]
INEXACT_REASONS = {
    "impure_inline_asm": "not pure",
    "pointer_from_memory": "derived from no tensor argument",
    "pointer_from_integer": "derived from no tensor argument",
}
