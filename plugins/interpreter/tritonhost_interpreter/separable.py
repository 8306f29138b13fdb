"""Integer and pointer values of a batch kept as a per-program part plus a per-lane part.

Over a batch of B programs, ``offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)``
is a (B, BLOCK) array, and so is each ``x_ptr + offs``. Made densely, a vector add of
4,096 programs spends most of its time making such addresses and reading them back
to load and store: a dozen NumPy passes over every lane for each access. Yet each is
a per-program column (shape ``(B, 1)``) plus a per-lane row (shape ``(1, BLOCK)``).
A :class:`SeparableHandle` keeps the two parts, and the batched builder
(:mod:`tritonhost_interpreter.batched`) works on them alone where it can:

- add and sub of integers each of which is separable, per-program or per-lane;
  multiplication by one scalar; ``addptr``; broadcasts, ``expand_dims`` and
  transposes; integer casts that cannot wrap (:func:`add`, :func:`multiply`,
  :func:`addptr`, :func:`cast`, :func:`broadcast`, :func:`expand_dims`, :func:`trans`);
- a comparison with one scalar whose outcome the parts' bounds decide, the mask
  ``offs < n`` of full blocks, is a constant (:func:`decided`);
- a load or store through separable pointers with every lane active is a strided
  view of the argument's memory, or a gather at the parts' index sum
  (:meth:`tritonhost_interpreter.memory.ArgumentMemory.load_separable`).

Exactness: integer add, sub and mul wrap alike in any grouping (they are exact
modulo 2**bits), so the parts' sum is, bit for bit, the dense value. A cast to a
wider type, whose sign extension does not distribute over a wrapped sum, is taken on
the parts only where their bounds show that the sum cannot wrap; comparisons and
address spans are decided from bounds only where the sum cannot wrap. Any other use
reads ``.data`` and gets the dense array, made once on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from triton.runtime.interpreter import TensorHandle

#: Parts of a separable value: per program (shape (L, 1, ..., 1)), per lane (shape (1, *S)).
Parts = tuple[np.ndarray, np.ndarray]


class SeparableHandle(TensorHandle):  # type: ignore[misc]
    """A value of the batch as ``program + lane``, broadcast to ``shape``; ``data`` made on first use."""

    def __init__(self, program: np.ndarray, lane: np.ndarray, dtype: Any, shape: Sequence[int]) -> None:
        # Not the dataclass's __init__: that would assign (and so compute) data.
        self.program: np.ndarray | None = program
        self.lane: np.ndarray | None = lane
        self.dtype = dtype
        self.attr: dict[str, Any] = {}
        self.shape = tuple(shape)
        self._dense: np.ndarray | None = None

    @property  # type: ignore[misc]
    def data(self) -> np.ndarray:
        if self._dense is None:
            assert self.program is not None and self.lane is not None
            total = self.program + self.lane
            self._dense = total if total.shape == self.shape else np.broadcast_to(total, self.shape)
        return self._dense

    @data.setter
    def data(self, value: np.ndarray) -> None:
        # Written from outside (Triton's reversed scan does): the parts no longer describe it.
        self._dense = value
        self.program = self.lane = None
        self.shape = tuple(value.shape)

    def clone(self) -> TensorHandle:
        return TensorHandle(np.array(self.data), self.dtype)


def shape_of(handle: TensorHandle) -> tuple[int, ...]:
    """The batched shape of ``handle``'s data, without making a separable value dense."""
    if isinstance(handle, SeparableHandle):
        return handle.shape
    return tuple(handle.data.shape)


def parts(handle: TensorHandle) -> Parts | None:
    """``handle`` as per-program plus per-lane parts, or None where it is neither of the two nor their sum.

    A plain integer value with one row (the same in every program) is all lane; one whose
    trailing axes are broadcast (a splat scalar) is all program.
    """
    if isinstance(handle, SeparableHandle):
        if handle.program is None or handle.lane is None:
            return None
        return handle.program, handle.lane
    data = handle.data
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "iu" or data.ndim < 2:
        return None
    zero = np.zeros((1,) * data.ndim, dtype=data.dtype)
    if data.shape[0] == 1:
        return zero, data
    if all(n == 1 or s == 0 for n, s in zip(data.shape[1:], data.strides[1:])):
        return data[(slice(None),) + (slice(0, 1),) * (data.ndim - 1)], zero
    return None


def single(handle: TensorHandle) -> np.ndarray | None:
    """The one value of a plain handle whose lanes and programs all hold it (a splat scalar), or None."""
    if isinstance(handle, SeparableHandle):
        return None
    data = handle.data
    if not isinstance(data, np.ndarray):
        return None
    compact = data[tuple(slice(0, 1) if s == 0 else slice(None) for s in data.strides)]
    return compact.reshape(-1)[:1] if compact.size == 1 else None


def bounds(array: np.ndarray) -> tuple[int, int]:
    """The lowest and highest value of a (small) part, as Python ints."""
    return int(array.min()), int(array.max())


def sum_bounds(split: Parts) -> tuple[int, int]:
    """The lowest and highest ``program + lane`` over every lane, as integers (no wrapping).

    Exact: the batch holds every combination of a program row and a lane.
    """
    (plow, phigh), (llow, lhigh) = bounds(split[0]), bounds(split[1])
    return plow + llow, phigh + lhigh


def _fits(low: int, high: int, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return int(info.min) <= low and high <= int(info.max)


def _worth(program: np.ndarray, lane: np.ndarray) -> bool:
    """Whether the dense value would vary along both the program and the lanes (else it is small)."""
    return program.shape[0] > 1 and lane.size > 1


def add(lhs: TensorHandle, rhs: TensorHandle, subtract: bool = False) -> SeparableHandle | None:
    """``lhs + rhs`` (or ``-``) on the parts, or None where the dense operation must run."""
    a, b = parts(lhs), parts(rhs)
    if a is None or b is None or a[0].dtype != b[0].dtype:
        return None  # mixed dtypes: NumPy's promotion decides the dense result
    op = np.subtract if subtract else np.add
    program, lane = op(a[0], b[0]), op(a[1], b[1])
    if not _worth(program, lane):
        return None
    return SeparableHandle(program, lane, lhs.dtype.scalar, np.broadcast_shapes(shape_of(lhs), shape_of(rhs)))


def multiply(lhs: TensorHandle, rhs: TensorHandle) -> SeparableHandle | None:
    """A separable value times one scalar, on the parts."""
    for value, factor in ((lhs, rhs), (rhs, lhs)):
        if isinstance(value, SeparableHandle) and not isinstance(factor, SeparableHandle):
            split, k = parts(value), single(factor)
            if split is None or k is None or k.dtype != split[0].dtype:
                continue
            k = k.reshape((1,) * split[0].ndim)
            shape = np.broadcast_shapes(value.shape, shape_of(factor))
            return SeparableHandle(split[0] * k, split[1] * k, lhs.dtype.scalar, shape)
    return None


def _casts_exactly(split: Parts, target: np.dtype) -> bool:
    """Whether casting each part to ``target`` and adding gives the cast of the sum."""
    source = split[0].dtype
    if np.dtype(target).itemsize <= source.itemsize:
        return True  # truncation and same-width reinterpretation are exact modulo 2**bits
    return _fits(*sum_bounds(split), source)  # widening: exact where the sum did not wrap


def addptr(ptr: TensorHandle, offset: TensorHandle, element_bytes: int) -> SeparableHandle | None:
    """``ptr + offset`` in elements of ``element_bytes``, as Triton's interpreter computes it, on the parts."""
    p, o = parts(ptr), parts(offset)
    if p is None or o is None or p[0].dtype != np.uint64 or not _casts_exactly(o, np.dtype(np.uint64)):
        return None
    size = np.uint64(element_bytes)
    program = p[0] + size * o[0].astype(np.uint64)
    lane = p[1] + size * o[1].astype(np.uint64)
    if not _worth(program, lane):
        return None
    return SeparableHandle(program, lane, ptr.dtype, np.broadcast_shapes(shape_of(ptr), shape_of(offset)))


def cast(src: TensorHandle, target: np.dtype, dtype: Any) -> SeparableHandle | None:
    """An integer cast of a separable value, where it is exact on the parts."""
    split = parts(src) if isinstance(src, SeparableHandle) else None
    if split is None or np.dtype(target).kind not in "iu" or not _casts_exactly(split, np.dtype(target)):
        return None
    return SeparableHandle(split[0].astype(target), split[1].astype(target), dtype, src.shape)


def broadcast(arg: TensorHandle, shape: Sequence[int]) -> SeparableHandle | None:
    """A separable value broadcast to the per-program ``shape``."""
    if not isinstance(arg, SeparableHandle) or parts(arg) is None:
        return None
    assert arg.program is not None and arg.lane is not None
    return SeparableHandle(arg.program, arg.lane, arg.dtype.scalar, (arg.shape[0], *shape))


def expand_dims(arg: TensorHandle, axis: int) -> SeparableHandle | None:
    """A separable value with a new axis at ``axis`` (the batched array's axis, past the program's)."""
    if not isinstance(arg, SeparableHandle) or parts(arg) is None:
        return None
    assert arg.program is not None and arg.lane is not None
    shape = list(arg.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return SeparableHandle(np.expand_dims(arg.program, axis), np.expand_dims(arg.lane, axis), arg.dtype.scalar,
                           shape)


def trans(arg: TensorHandle, axes: Sequence[int]) -> SeparableHandle | None:
    """A separable value with its axes permuted (``axes`` of the batched array, 0 first)."""
    if not isinstance(arg, SeparableHandle) or parts(arg) is None:
        return None
    assert arg.program is not None and arg.lane is not None
    shape = [arg.shape[a] for a in axes]
    return SeparableHandle(np.transpose(arg.program, axes), np.transpose(arg.lane, axes), arg.dtype.scalar, shape)


#: Comparisons (Triton's interpreter's NumPy functions), and each with its operands swapped.
_SWAPPED: dict[Callable[..., Any], Callable[..., Any]] = {
    np.less: np.greater, np.less_equal: np.greater_equal, np.greater: np.less,
    np.greater_equal: np.less_equal, np.equal: np.equal, np.not_equal: np.not_equal,
}


def decided(lhs: TensorHandle, rhs: TensorHandle, op: Callable[..., Any]) -> np.ndarray | None:
    """A comparison of a separable value with one scalar, where the value's bounds decide it for every lane.

    Returns the constant outcome, with one row for all programs, or None.
    """
    for value, scalar, compare in ((lhs, rhs, op), (rhs, lhs, _SWAPPED.get(op))):
        if not isinstance(value, SeparableHandle) or isinstance(scalar, SeparableHandle) or compare is None:
            continue
        split, n = parts(value), single(scalar)
        if split is None or n is None or n.dtype != split[0].dtype:
            continue  # mixed dtypes compare after NumPy's promotion, possibly to float
        low, high = sum_bounds(split)
        if not _fits(low, high, split[0].dtype):
            return None  # the sum wraps somewhere: only the dense values tell
        outcome = _outcome(compare, low, high, int(n[0]))
        if outcome is None:
            return None
        shape = np.broadcast_shapes(value.shape, shape_of(scalar))
        return np.broadcast_to(np.bool_(outcome), (1, *shape[1:]))
    return None


def _outcome(op: Callable[..., Any], low: int, high: int, n: int) -> bool | None:
    """``x op n`` for every x in [low, high], if it is the same for all; else None."""
    if op is np.less:
        return True if high < n else False if low >= n else None
    if op is np.less_equal:
        return True if high <= n else False if low > n else None
    if op is np.greater:
        return True if low > n else False if high <= n else None
    if op is np.greater_equal:
        return True if low >= n else False if high < n else None
    if op is np.equal:
        return True if low == high == n else False if n < low or n > high else None
    if op is np.not_equal:
        return False if low == high == n else True if n < low or n > high else None
    return None


def address_span(split: Parts) -> tuple[int, int] | None:
    """The lowest and highest address of separable pointers (uint64 parts), or None if they may wrap.

    The program part is read as signed (a per-program offset may be negative modulo
    2**64), the lane part as unsigned.
    """
    (plow, phigh), (llow, lhigh) = bounds(split[0].view(np.int64)), bounds(split[1])
    low, high = plow + llow, phigh + lhigh
    if low < 0 or high >= 2**64:
        return None
    return low, high


def element_indices(split: Parts, start: int, size: int) -> Parts | None:
    """Each part's share of the element index ``(address - start) / size``, or None if some lane is unaligned.

    The two int64 arrays add up to each lane's element index; the caller knows, from
    :func:`address_span`, that every address lies in the argument starting at ``start``.
    """
    program = split[0].view(np.int64)
    llow, lhigh = bounds(split[1])
    if not (-(2**63) <= llow - start and lhigh - start < 2**63):
        return None
    lane = (split[1] - np.uint64(start)).view(np.int64)
    presidue, lresidue = _same_residue(program, size), _same_residue(lane, size)
    if presidue is None or lresidue is None or (presidue + lresidue) % size:
        return None
    return (program - presidue) // size, (lane + presidue) // size


def _same_residue(part: np.ndarray, size: int) -> int | None:
    """The residue modulo ``size`` (a power of two) every element of ``part`` has, or None if they differ."""
    residues = part & (size - 1)  # for a power of two, the same as % size, negatives included
    low, high = bounds(residues)
    return low if low == high else None


def steps(part: np.ndarray) -> list[int] | None:
    """The step along each axis if ``part`` is ``part[0, ..., 0] + sum_k i_k * step_k``, else None.

    Exactly then, along every axis each difference of neighbours equals the first one.
    """
    found = []
    for axis, n in enumerate(part.shape):
        if n == 1:
            found.append(0)
            continue
        differences = np.diff(part, axis=axis)
        first = differences[(0,) * part.ndim]
        if not bool((differences == first).all()):
            return None
        found.append(int(first))
    return found
