"""``tl.reduce`` and ``tl.associative_scan`` over a batch of programs (see :mod:`tritonhost_interpreter.batched`).

Triton's interpreter reduces and scans along an axis of one program's block; here every
value carries a leading program dimension, so the per-program axis moves past it, and a
combine function of the kernel's own runs over whole arrays of operands, every program
at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import triton.language as tl
from triton.runtime import interpreter as triton_interpreter

from tritonhost_interpreter import recording
from tritonhost_interpreter.batched import _handle, _lead, _np_dtype


def _per_program(data: np.ndarray, dtype: Any) -> tl.tensor:
    """A batched array as the tensor the kernel sees: its type has the per-program shape."""
    dtype = dtype.scalar if hasattr(dtype, "scalar") else dtype
    if data.ndim <= 1:
        return tl.core.tensor(_handle(data.reshape(-1, 1), dtype), dtype)
    return tl.core.tensor(_handle(data, dtype), tl.block_type(dtype, list(data.shape[1:])))


def _combine(fn: Any, left: list[np.ndarray], right: list[np.ndarray], dtypes: list[Any]) -> list[np.ndarray]:
    """The combine function over whole arrays of operands, each result shaped as its left operand."""
    result = fn(*(_per_program(a, d) for a, d in zip(left, dtypes)), *(_per_program(a, d) for a, d in zip(right, dtypes)))
    results = result if isinstance(result, tuple) else (result,)
    out = []
    for value, like in zip(results, left):
        data = value.handle.data if isinstance(value, tl.core.tensor) else np.asarray(value)
        typed = _per_program(like, dtypes[0]).handle.data.shape  # a scalar per program is (L, 1)
        out.append(np.broadcast_to(data, typed).reshape(like.shape).astype(like.dtype, copy=False))
    return out


class BatchedReduceOps(triton_interpreter.ReduceOps):  # type: ignore[misc]
    """``tl.reduce`` over a batch: the per-program axis moved past the program dimension."""

    axis: Any
    keep_dims: bool

    def apply(self, input: Any) -> Any:
        # One operation of a tape (tape.py): replayed whole, the combine function's Python included.
        return recording.call(_reduce, self.axis, self.combine_fn, self.keep_dims, input)

    def _apply(self, input: Any) -> Any:
        if not isinstance(input, tuple):
            return self._apply((input,))[0]
        self.check_tensor(input)
        shape = list(input[0].shape)
        keep_dims = self.keep_dims
        if self.axis is None:
            # Each program's block flattened, reduced along its one axis.
            input = tuple(_per_program(t.handle.data.reshape(_lead(t.handle.data), -1), t.dtype) for t in input)
            self.axis, self.keep_dims = 1, False
        else:
            self.axis = (self.axis % max(1, len(shape))) + 1
        ret = self.apply_impl(input)
        ret = tuple(ret) if isinstance(ret, (list, tuple)) else (ret,)
        if keep_dims and self.keep_dims is False and shape:  # axis=None with keep_dims
            ret = tuple(_per_program(r.handle.data.reshape(-1, *([1] * len(shape))), r.dtype) for r in ret)
        return ret

    def to_tensor(self, ret: Any, dtype: Any) -> tl.tensor:
        return _per_program(np.asarray(ret).astype(_np_dtype(dtype)), dtype)

    def generic_reduce(self, input: Any) -> list[tl.tensor]:
        # A tree of combines over adjacent pairs, each one NumPy call over every program:
        # log2(n) interpreted combines rather than one per element. Combine functions are
        # associative (a GPU reduces in a tree too); floats may round differently from a
        # left-to-right fold, within what reordering a sum allows.
        recording.runs_kernel_python()
        values = [np.moveaxis(t.handle.data, self.axis, -1) for t in input]
        lead = max(_lead(v) for v in values)
        values = [np.broadcast_to(v, (lead, *v.shape[1:])) for v in values]
        dtypes = [t.dtype for t in input]
        while values[0].shape[-1] > 1:
            n = values[0].shape[-1]
            pairs = n // 2
            left = [np.ascontiguousarray(v[..., 0:2 * pairs:2]) for v in values]
            right = [np.ascontiguousarray(v[..., 1:2 * pairs:2]) for v in values]
            combined = _combine(self.combine_fn.fn, left, right, dtypes)
            if n % 2:
                combined = [np.concatenate([c, v[..., -1:]], axis=-1) for c, v in zip(combined, values)]
            values = combined
        out = []
        for v, d in zip(values, dtypes):
            result = v[..., 0]
            if self.keep_dims:
                result = np.expand_dims(result, self.axis)
            out.append(self.to_tensor(result, d))
        return out


class BatchedScanOps(triton_interpreter.ScanOps):  # type: ignore[misc]
    """``tl.associative_scan`` over a batch: the per-program axis moved past the program dimension."""

    axis: Any
    reverse: bool

    def apply(self, input: Any) -> Any:
        return recording.call(_scan, self.axis, self.combine_fn, self.reverse, input)

    def _apply(self, input: Any) -> Any:
        if not isinstance(input, tuple):
            return self._apply((input,))[0]
        self.check_tensor(input)
        self.axis = (self.axis % max(1, len(input[0].shape))) + 1
        ret = self.apply_impl(input)
        return tuple(ret) if isinstance(ret, (list, tuple)) else (ret,)

    def to_tensor(self, ret: Any, dtype: Any) -> tl.tensor:
        return _per_program(np.asarray(ret).astype(_np_dtype(dtype)), dtype)

    def generic_scan(self, input: Any) -> list[tl.tensor]:
        # Step by step along the axis, as Triton's interpreter does, each step one NumPy
        # call over every program and every other axis.
        recording.runs_kernel_python()
        values = [np.moveaxis(t.handle.data, self.axis, -1) for t in input]
        lead = max(_lead(v) for v in values)
        values = [np.broadcast_to(v, (lead, *v.shape[1:])) for v in values]
        dtypes = [t.dtype for t in input]
        outs = [np.empty(v.shape, dtype=v.dtype) for v in values]
        for out, v in zip(outs, values):
            out[..., 0] = v[..., 0]
        for k in range(1, values[0].shape[-1]):
            acc = [np.ascontiguousarray(o[..., k - 1]) for o in outs]
            item = [np.ascontiguousarray(v[..., k]) for v in values]
            for out, result in zip(outs, _combine(self.combine_fn.fn, acc, item, dtypes)):
                out[..., k] = result
        return [self.to_tensor(np.moveaxis(o, -1, self.axis), d) for o, d in zip(outs, dtypes)]




def _reduce(axis: Any, combine_fn: Any, keep_dims: bool, input: Any) -> Any:
    return BatchedReduceOps(axis, combine_fn, keep_dims)._apply(input)


def _scan(axis: Any, combine_fn: Any, reverse: bool, input: Any) -> Any:
    return BatchedScanOps(axis, combine_fn, reverse)._apply(input)
