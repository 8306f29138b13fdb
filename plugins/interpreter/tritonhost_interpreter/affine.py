"""Exact affine forms of the small integer arrays the batched interpreter makes addresses from.

A program id over a chunk of a one-dimensional grid is ``start + i``; ``tl.arange`` is
``start + j``; a splat scalar is one value; and sums, differences and scalar multiples of
these keep the shape ``first + sum_k index_k * step_k``. A :class:`Form` keeps ``first``
and the steps as Python integers, without wrapping, next to the NumPy array the builder
computes. Deciding a load's or store's access from the form (its bounds, its residues
modulo the element size, its steps) costs no pass over the array; done from the array,
the same decisions cost some thirty small NumPy reductions per access.

The invariant: an array described by a form holds, element by element, the form's value
reduced into the array's dtype (two's complement wrapping, as NumPy's integer arithmetic
wraps). Add, subtract and multiply keep it in any grouping, since both sides are exact
modulo ``2**bits``. Where the form's values all fit the dtype (:meth:`Form.fits`), the
array holds exactly them, and the bounds, residues and steps of the form are those of the
array; elsewhere the caller decides from the array, as without a form.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Form:
    """``first + sum_k index_k * steps[k]`` over an index grid of ``shape`` (exact integers).

    ``steps[k]`` is 0 along every axis of length 1, so forms of broadcast shapes add. The
    builder makes forms on every integer operation of a launch's addresses, so they are
    plain tuples, made without checks (:meth:`make` zeroes the steps of length-1 axes).
    """

    __slots__ = ("first", "shape", "steps")

    def __init__(self, first: int, steps: tuple[int, ...], shape: tuple[int, ...]) -> None:
        self.first, self.steps, self.shape = first, steps, shape

    @classmethod
    def make(cls, first: int, steps: Sequence[int], shape: Sequence[int]) -> Form:
        """A form from any integers, with each length-1 axis's step zeroed."""
        dims = tuple(int(n) for n in shape)
        return cls(int(first), tuple(int(s) if n > 1 else 0 for s, n in zip(steps, dims, strict=True)), dims)

    @classmethod
    def constant(cls, value: int, shape: tuple[int, ...]) -> Form:
        return cls(value, (0,) * len(shape), shape)

    def __repr__(self) -> str:
        return f"Form({self.first}, {self.steps}, {self.shape})"

    def bounds(self) -> tuple[int, int]:
        """The lowest and highest value."""
        low = high = self.first
        for s, n in zip(self.steps, self.shape):
            if s > 0:
                high += (n - 1) * s
            elif s < 0:
                low += (n - 1) * s
        return low, high

    def low(self) -> int:
        return self.bounds()[0]

    def high(self) -> int:
        return self.bounds()[1]

    def fits(self, dtype: np.dtype) -> bool:
        """Whether every value lies in ``dtype``'s range: then the array holds them unwrapped."""
        lowest, highest = dtype_range(dtype)
        low, high = self.bounds()
        return lowest <= low and high <= highest

    def residue(self, size: int) -> int | None:
        """The residue modulo ``size`` (a power of two) of every value, or None where they differ.

        Wrapping modulo ``2**bits`` keeps residues modulo a smaller power of two, so this
        holds for the array whether or not the form fits its dtype.
        """
        for s in self.steps:
            if s % size:
                return None  # two neighbours along that axis differ in residue
        return self.first % size

    def plus(self, other: Form, sign: int = 1) -> Form:
        """``self + sign * other`` over the broadcast of both shapes (which must broadcast)."""
        shape = tuple(a if b == 1 else b for a, b in zip(self.shape, other.shape, strict=True))
        if sign == 1:
            return Form(self.first + other.first, tuple(a + b for a, b in zip(self.steps, other.steps)), shape)
        return Form(self.first - other.first, tuple(a - b for a, b in zip(self.steps, other.steps)), shape)

    def shifted(self, by: int) -> Form:
        """``self + by``."""
        return Form(self.first + by, self.steps, self.shape)

    def times(self, factor: int) -> Form:
        if factor == 0:
            return Form(0, (0,) * len(self.shape), self.shape)
        return Form(self.first * factor, tuple(s * factor for s in self.steps), self.shape)

    def divided(self, size: int) -> Form:
        """The form divided by ``size``, which divides its first value and every step."""
        assert self.first % size == 0 and all(s % size == 0 for s in self.steps)
        return Form(self.first // size, tuple(s // size for s in self.steps), self.shape)

    def expand_dims(self, axis: int) -> Form:
        steps, shape = list(self.steps), list(self.shape)
        axis = axis if axis >= 0 else len(shape) + 1 + axis
        steps.insert(axis, 0)
        shape.insert(axis, 1)
        return Form(self.first, tuple(steps), tuple(shape))

    def transpose(self, axes: Sequence[int]) -> Form:
        return Form(self.first, tuple(self.steps[a] for a in axes), tuple(self.shape[a] for a in axes))

    def first_along(self, keep: int) -> Form:
        """The form of the array's first ``keep`` axes at index 0 of the others (``array[..., 0:1]``)."""
        rest = len(self.shape) - keep
        return Form(self.first, (*self.steps[:keep], *(0,) * rest), (*self.shape[:keep], *(1,) * rest))

    def reshaped(self, shape: tuple[int, ...]) -> Form:
        """The same values over ``shape``, which differs only in axes along which they do not vary."""
        return Form.make(self.first, self.steps, shape)


_RANGES: dict[np.dtype, tuple[int, int]] = {}


def dtype_range(dtype: np.dtype) -> tuple[int, int]:
    """The lowest and highest value of an integer dtype, as Python ints (kept per dtype)."""
    found = _RANGES.get(dtype)
    if found is None:
        info = np.iinfo(dtype)
        found = _RANGES[np.dtype(dtype)] = (int(info.min), int(info.max))
    return found


def of_array(array: np.ndarray) -> Form | None:
    """The form of a (small) integer array, found from its values; None where it is not affine.

    For tests and checks: the builder carries forms from where values are made.
    """
    if array.dtype.kind not in "iu" or array.size == 0:
        return None
    values = array.astype(object)
    first = int(values[(0,) * array.ndim])
    steps = []
    for axis, n in enumerate(array.shape):
        if n == 1:
            steps.append(0)
            continue
        steps.append(int(values[tuple(1 if k == axis else 0 for k in range(array.ndim))]) - first)
    form = Form.make(first, steps, array.shape)
    grids = np.indices(array.shape, dtype=object) if array.ndim else np.zeros((0,), dtype=object)
    expected = first + sum((grid * s for grid, s in zip(grids, form.steps)), np.zeros(array.shape, dtype=object))
    return form if bool((expected == values).all()) else None


def array(form: Form, dtype: np.dtype) -> np.ndarray:
    """The array ``form`` describes, in ``dtype``: its values reduced as ``dtype``'s arithmetic wraps them.

    Computed in uint64, whose arithmetic wraps modulo ``2**64``, then narrowed (truncation
    wraps modulo the narrower width); a signed dtype reads the same bits.
    """
    total = np.full((1,) * len(form.shape), form.first % 2**64, dtype=np.uint64)
    for axis, (step, n) in enumerate(zip(form.steps, form.shape)):
        if step:
            shape = [1] * len(form.shape)
            shape[axis] = n
            total = total + np.arange(n, dtype=np.uint64).reshape(shape) * np.uint64(step % 2**64)
    if total.shape != form.shape:
        total = np.broadcast_to(total, form.shape)
    return np.ascontiguousarray(total).astype(dtype)
