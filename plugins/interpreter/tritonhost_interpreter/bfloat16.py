"""bfloat16 arithmetic as compiled Triton does it: in fp32, rounded back to bf16.

NumPy has no bfloat16, so Triton's interpreter keeps bf16 values as their raw
16 bits in uint16 arrays, and then applies NumPy's arithmetic to those bits:
``x * 2`` gives 0 and ``x + x`` gives 1.7e38, silently. Compiled Triton computes
bf16 arithmetic in fp32 and rounds each result to the nearest even bf16.

For a launch, the interpreter's floating-point operations are wrapped: when an
operand is bf16, its bits are widened to fp32, the operation runs there, and a
floating-point result is rounded back to bf16 bits (comparisons give int1).
``tl.dot`` on bf16 inputs multiplies and accumulates in fp32. Casts to bf16 round
to nearest even, as compiled Triton's do (the interpreter truncates). Sums, minima,
maxima and scans of bf16 blocks, which the interpreter takes with NumPy on the raw
bits, run on the values: a sum accumulates in fp32 and is rounded once (a GPU's
tree of bf16 additions lands within a few units in the last place of it), a
cumulative sum rounds at every step. ``atomic_add`` on bf16 (Triton's front end takes
no other atomic on bf16), which Triton's interpreter refuses ("Unsupported data type"),
runs lane by lane in launch order, each sum rounded to bf16 as a GPU's bf16 atomic is.
Operations on the bits themselves (loads, stores, ``tl.where``, ``abs``, bitcasts) need
nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import triton.language as tl
from triton._C.libtriton import interpreter as triton_cpp
from triton._C.libtriton import ir
from triton.runtime.interpreter import InterpreterBuilder, TensorHandle

#: Binary floating-point operations of the interpreter's builder (comparisons included).
BINARY = (
    "create_fadd", "create_fsub", "create_fmul", "create_fdiv", "create_frem", "create_precise_divf",
    "create_approx_divf", "create_minimumf", "create_minnumf", "create_maximumf", "create_maxnumf",
    *(f"create_fcmp{kind}" for kind in ("OLT", "OGT", "OLE", "OGE", "OEQ", "ONE", "ULT", "UGT", "ULE", "UGE",
                                        "UEQ", "UNE")),
)
#: Unary floating-point operations.
UNARY = (
    "create_fneg", "create_cos", "create_sin", "create_exp", "create_exp2", "create_log", "create_log2",
    "create_floor", "create_ceil", "create_sqrt", "create_precise_sqrt", "create_rsqrt", "create_erf",
)


def widen(bits: np.ndarray) -> np.ndarray:
    """bf16 bits (uint16) as the fp32 values they stand for."""
    return (np.asarray(bits).astype(np.uint32) << np.uint32(16)).view(np.float32)


def round_to_bf16(values: np.ndarray) -> np.ndarray:
    """fp32 values rounded to the nearest even bf16, as bits (uint16); NaN stays NaN."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    quiet_nan = (bits >> np.uint32(16)) | np.uint32(0x40)
    return np.where(np.isnan(values), quiet_nan, rounded).astype(np.uint16)


def _is_bf16(handle: Any) -> bool:
    return isinstance(handle, TensorHandle) and handle.dtype.scalar == tl.bfloat16


def _as_fp32(handle: TensorHandle) -> TensorHandle:
    return TensorHandle(widen(handle.data), tl.float32) if _is_bf16(handle) else handle


def _back(result: TensorHandle) -> TensorHandle:
    if result.dtype.scalar == tl.float32:
        return TensorHandle(round_to_bf16(result.data), tl.bfloat16)
    return result  # a comparison's int1


def _binary(original: Callable[..., TensorHandle]) -> Callable[..., TensorHandle]:
    def op(lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        if not (_is_bf16(lhs) or _is_bf16(rhs)):
            return original(lhs, rhs)
        return _back(original(_as_fp32(lhs), _as_fp32(rhs)))

    return op


def _unary(original: Callable[..., TensorHandle]) -> Callable[..., TensorHandle]:
    def op(arg: TensorHandle) -> TensorHandle:
        if not _is_bf16(arg):
            return original(arg)
        return _back(original(_as_fp32(arg)))

    return op


def _all_operands(original: Callable[..., TensorHandle], count: int) -> Callable[..., TensorHandle]:
    """For clamp and fma: the first ``count`` arguments are operands."""

    def op(*args: Any) -> TensorHandle:
        if not any(_is_bf16(arg) for arg in args[:count]):
            return original(*args)
        return _back(original(*[_as_fp32(arg) for arg in args[:count]], *args[count:]))

    return op


def _dot(original: Callable[..., TensorHandle]) -> Callable[..., TensorHandle]:
    def op(a: TensorHandle, b: TensorHandle, d: TensorHandle, *rest: Any) -> TensorHandle:
        if not (_is_bf16(a) or _is_bf16(b) or _is_bf16(d)):
            return original(a, b, d, *rest)
        result = original(_as_fp32(a), _as_fp32(b), _as_fp32(d), *rest)  # fp32 products and sums
        return _back(result) if _is_bf16(d) else result

    return op


def _cast(original: Callable[..., TensorHandle]) -> Callable[..., TensorHandle]:
    def cast(src: TensorHandle, dst_type: Any) -> TensorHandle:
        target = dst_type.scalar
        if target == tl.bfloat16 and not _is_bf16(src):
            return TensorHandle(round_to_bf16(np.asarray(src.data).astype(np.float32)), tl.bfloat16)
        if _is_bf16(src) and target != tl.bfloat16:
            return original(TensorHandle(widen(src.data), tl.float32), dst_type)
        return original(src, dst_type)

    return cast


def wrapped_operations(builder: Any) -> dict[str, Callable[..., TensorHandle]]:
    """Each of the builder's floating-point operations, made exact for bf16 operands."""
    operations: dict[str, Callable[..., TensorHandle]] = {}
    for name in BINARY:
        if hasattr(builder, name):
            operations[name] = _binary(getattr(builder, name))
    for name in UNARY:
        if hasattr(builder, name):
            operations[name] = _unary(getattr(builder, name))
    if hasattr(builder, "create_clampf"):
        operations["create_clampf"] = _all_operands(builder.create_clampf, 3)
    operations["create_fma"] = _all_operands(builder.create_fma, 3)
    operations["create_dot"] = _dot(builder.create_dot)
    operations["cast_impl"] = _cast(builder.cast_impl)
    # A bf16 constant (`x * 2` with x bf16): Triton 3.6's interpreter has no builder for one.
    # Made through the builder's own fp32 constant, which has the shape its builder's values have.
    operations["get_bf16"] = lambda value: TensorHandle(round_to_bf16(builder.get_fp32(value).data), tl.bfloat16)
    return operations


# --- reductions and scans (methods of the interpreter's ReduceOps and ScanOps) ------------------


def _sum(original: Callable[..., Any]) -> Callable[..., Any]:
    def total(self: Any, input: Any) -> Any:
        if input.dtype.scalar != tl.bfloat16:
            return original(self, input)
        values = np.sum(widen(input.handle.data), axis=self.axis, keepdims=self.keep_dims, dtype=np.float32)
        return self.to_tensor(round_to_bf16(np.asarray(values)), tl.bfloat16)

    return total


def _min_max(original: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(self: Any, input: Any, val_reduce_op: Any, idx_reduce_op: Any = None) -> Any:
        value = input[0] if isinstance(input, tuple) else input
        if value.dtype.scalar != tl.bfloat16:
            return original(self, input, val_reduce_op, idx_reduce_op)
        data = widen(value.handle.data)
        found = []
        if val_reduce_op:
            found.append(self.to_tensor(round_to_bf16(np.asarray(val_reduce_op(data, axis=self.axis,
                                                                               keepdims=self.keep_dims))), tl.bfloat16))
        if idx_reduce_op:
            found.append(self.to_tensor(idx_reduce_op(data, axis=self.axis, keepdims=self.keep_dims), tl.int32))
        return tuple(found) if len(found) == 2 else found[0]

    return extreme


def _scan(original: Callable[..., Any], step: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Any]:
    def scan(self: Any, input: Any) -> Any:
        if input.dtype.scalar != tl.bfloat16:
            return original(self, input)
        data = np.moveaxis(widen(input.handle.data), self.axis, 0)
        if self.reverse:
            data = data[::-1]
        out = np.empty_like(data)
        running = data[0]
        out[0] = running
        for k in range(1, data.shape[0]):  # rounded at every step, as a bf16 scan is
            running = widen(round_to_bf16(step(running, data[k])))
            out[k] = running
        if self.reverse:
            out = out[::-1]
        return [self.to_tensor(round_to_bf16(np.moveaxis(out, 0, self.axis)), tl.bfloat16)]

    return scan


def wrapped_reductions(reduce_ops: Any, scan_ops: Any) -> list[tuple[Any, str, Callable[..., Any]]]:
    """``(class, method, replacement)`` for the interpreter's NumPy fast paths on bf16 blocks."""
    return [
        (reduce_ops, "sum", _sum(reduce_ops.sum)),
        (reduce_ops, "min_max", _min_max(reduce_ops.min_max)),
        (scan_ops, "cumsum", _scan(scan_ops.cumsum, np.add)),
        (scan_ops, "cumprod", _scan(scan_ops.cumprod, np.multiply)),
    ]


# --- atomics (a method of Triton's InterpreterBuilder, which the batched builder calls too) ------

#: What each read-modify-write does to the value in memory, on fp32 values: the ones
#: Triton's front end allows on bf16.
_RMW: dict[Any, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {ir.ATOMIC_OP.FADD: np.add}


def atomic_rmw_bits(op: Any, pointers: np.ndarray, values: np.ndarray, active: np.ndarray) -> np.ndarray:
    """A bf16 read-modify-write at each active lane's address, in C order; the old bits per lane.

    Lanes that share an address apply one after the other, as Triton's helper applies
    lanes: each round takes the next lane of every address at once.
    """
    pointers, values, active = (np.ascontiguousarray(a).reshape(-1) for a in np.broadcast_arrays(
        pointers, values, np.asarray(active, dtype=bool)))
    combine = _RMW[op]
    old = np.zeros(values.shape, dtype=np.uint16)
    lanes = np.flatnonzero(active)
    if lanes.size == 0:
        return old
    addresses = pointers[lanes]
    order = np.argsort(addresses, kind="stable")  # by address, launch order kept within one
    ordered = addresses[order]
    new_group = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    starts = np.flatnonzero(new_group)
    rank = np.arange(ordered.size) - starts[np.cumsum(new_group) - 1]
    # Lanes in rounds: round r holds the r-th lane of each address, so one contiguous slice each.
    by_round = lanes[order[np.argsort(rank, kind="stable")]]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(rank))])
    for first, last in itertools.pairwise(bounds):
        chosen = by_round[first:last]  # at most one lane per address
        where = pointers[chosen]
        every = np.ones(chosen.size, dtype=bool)
        current = triton_cpp.load(where, every, np.zeros(chosen.size, dtype=np.uint16), np.dtype(np.uint16))
        old[chosen] = current
        updated = round_to_bf16(combine(widen(current), widen(values[chosen])))
        triton_cpp.store(where, updated, every)
    return old


def _atomic_rmw(original: Callable[..., TensorHandle]) -> Callable[..., TensorHandle]:
    def rmw(self: Any, op: Any, ptr: TensorHandle, val: TensorHandle, mask: TensorHandle, sem: Any,
            scope: Any) -> TensorHandle:
        if not _is_bf16(val) or op not in _RMW:
            return original(self, op, ptr, val, mask, sem, scope)
        old = atomic_rmw_bits(op, ptr.data, val.data, mask.data)
        return TensorHandle(old.reshape(np.broadcast_shapes(ptr.data.shape, val.data.shape, mask.data.shape)),
                            tl.bfloat16)

    return rmw


def wrapped_atomics() -> list[tuple[Any, str, Callable[..., Any]]]:
    """``(class, method, replacement)``: bf16 read-modify-writes, which Triton's interpreter refuses."""
    return [(InterpreterBuilder, "create_atomic_rmw", _atomic_rmw(InterpreterBuilder.create_atomic_rmw))]
