"""Loads and stores of a batched launch as NumPy gathers and scatters over its arguments' memory.

Triton's interpreter loads and stores through C++ helpers that dereference each
lane's address on its own: about 60 ns an element here, most of a batched
elementwise launch. Where every active lane of an access lies inside one tensor
argument, aligned to the element size, the same access is a NumPy gather from (or
scatter into) that argument's bytes viewed as the element type, a few times
faster. Anything else (an access across arguments or outside them, unaligned,
bool) goes through Triton's helpers as before.

A store writes through NumPy only where its active addresses are all distinct, so
the order in which lanes write cannot matter; a store where two lanes meet (which
the batched path orders by program id) stays with Triton's helper, which writes in
C order. Masked-off lanes are never dereferenced by either path.

Separable pointers (:mod:`tritonhost_interpreter.separable`), every lane active, skip
the dense addresses: the parts give each lane's element index as a row plus a column,
and where each is evenly spaced the access is a strided view of the argument (a copy
out, or an assignment in where no two lanes meet); otherwise a gather or scatter at
the index sum.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from tritonhost_interpreter import access, separable
from tritonhost_interpreter.bounds import Extent, active_span, extents_of

# A scatter checks distinct addresses with a bitmap of the argument's elements when
# the argument has at most this many elements per stored lane; past that, with a sort.
_BITMAP_RATIO = 8


#: One tensor argument's memory: its lowest byte, one past its highest, and those bytes.
Span = tuple[int, int, torch.Tensor]


def argument_spans(tensors: Iterable[tuple[str, torch.Tensor]],
                   extents: Iterable[Extent | None] | None = None) -> list[Span]:
    """The bytes each CPU tensor argument spans, as the kernel was given it (a view's elements).

    ``extents``, if given, are :func:`~tritonhost_interpreter.bounds.extents_of` ``tensors``.
    """
    tensors = list(tensors)
    spans = []
    for (name, tensor), extent in zip(tensors, extents_of(tensors) if extents is None else extents):
        if extent is not None and tensor.device.type == "cpu":
            spans.append((extent.low, extent.high, argument_bytes(tensor, extent.low, extent.high)))
    return spans


def argument_bytes(tensor: torch.Tensor, low: int, high: int) -> torch.Tensor:
    """The bytes ``[low, high)`` of ``tensor``'s storage, as a uint8 tensor sharing that memory."""
    storage = tensor.untyped_storage()
    whole = torch.empty(0, dtype=torch.uint8, device=tensor.device).set_(storage)
    start = low - storage.data_ptr()
    return whole[start:start + (high - low)]


class ArgumentMemory:
    """One launch's tensor arguments (:func:`argument_spans`), for :meth:`load` and :meth:`store`."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self._spans = [(low, high, data.numpy()) for low, high, data in spans]
        self._views: dict[tuple[int, np.dtype], np.ndarray] = {}

    def load(self, pointers: np.ndarray, active: np.ndarray, fill: np.ndarray, dtype: np.dtype,
             span: tuple[int, int] | None = None) -> np.ndarray | None:
        """The loaded values (``fill`` where a lane is masked off), or None to load through Triton.

        ``pointers`` (uint64 addresses), ``active`` and ``fill`` have one shape; ``dtype`` is the
        element's NumPy type; ``span`` is :func:`active_span` of the access, if known.
        """
        found = self._indices(pointers, active, np.dtype(dtype), span)
        if found is None:
            return None
        view, indices = found
        values = view[indices]
        if not bool(active.all()):
            np.copyto(values, fill, where=~active)
        return values

    def store(self, pointers: np.ndarray, values: np.ndarray, active: np.ndarray,
              span: tuple[int, int] | None = None) -> bool:
        """Write the active lanes' values, if they fall inside one argument at distinct addresses."""
        found = self._indices(pointers, active, values.dtype, span)
        if found is None:
            return False
        view, indices = found
        if not active.all():
            indices, values = indices[active], values[active]
        indices, values = indices.reshape(-1), values.reshape(-1)
        if not _distinct(indices, view.size):
            return False
        view[indices] = values
        return True

    def load_separable(self, pointers: separable.SeparableHandle, dtype: np.dtype, span: tuple[int, int],
                       copy: bool = True) -> tuple[np.ndarray, bool] | None:
        """Every lane's value through separable pointers (all active), or None to load them densely.

        ``span`` is :func:`access.address_span` of the pointers; the values have their shape.
        Returns them and whether they are a read-only view of the argument's memory, which
        later stores would show through: never so unless ``copy`` is False.
        """
        found = self._separable(pointers, np.dtype(dtype), span)
        if found is None:
            return None
        view, strided, index = found
        if strided is not None:
            return (strided, True) if not copy else (np.array(strided), False)
        assert index is not None
        return view[index], False

    def store_separable(self, pointers: separable.SeparableHandle, values: np.ndarray, span: tuple[int, int]) -> bool:
        """Write every lane through separable pointers, if they fall inside one argument at distinct addresses."""
        found = self._separable(pointers, values.dtype, span, writeable=True)
        if found is None:
            return False
        view, strided, index = found
        if strided is not None:
            strided[...] = values
            return True
        assert index is not None
        if not _distinct(index.reshape(-1), view.size):
            return False
        view[index] = values
        return True

    def _separable(self, pointers: separable.SeparableHandle, dtype: np.dtype, span: tuple[int, int],
                   writeable: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
        """The argument as ``dtype``, and the lanes' elements in it: a strided view, or else an index array.

        A view is made only where it reaches each lane's element once (for writing) and
        never leaves the argument.
        """
        size = dtype.itemsize
        if dtype.kind not in "iuf" or size & (size - 1):
            return None
        found = self._argument(span, size)
        if found is None:
            return None
        number, start, data = found
        shape = pointers.shape
        indices = access.element_indices(pointers, start, size)
        if indices is None:
            return None
        view = self._view(number, data, dtype)
        make, (row_form, column_form) = indices
        arrays: separable.Parts | None = None
        if row_form is not None and column_form is not None:
            row_steps: list[int] | None = list(row_form.steps)
            column_steps: list[int] | None = list(column_form.steps)
            row_count, column_shape = row_form.shape[0], column_form.shape
            first = row_form.first + column_form.first
        else:
            arrays = rows, columns = make()
            row_steps, column_steps = access.steps(rows), access.steps(columns)
            row_count, column_shape = rows.shape[0], columns.shape
            first = int(rows.reshape(-1)[0]) + int(columns.reshape(-1)[0])
        if row_steps is not None and column_steps is not None:
            elements = [row_steps[0] if row_count > 1 else 0,
                        *(s if n > 1 else 0 for s, n in zip(column_steps[1:], column_shape[1:]))]
            last = first + sum((n - 1) * s for n, s in zip(shape, elements))
            if all(s >= 0 for s in elements) and 0 <= first and last < view.size and (
                    not writeable or _injective(shape, elements)):
                strided = np.lib.stride_tricks.as_strided(
                    view[first:], shape, [s * view.itemsize for s in elements], writeable=writeable)
                return view, strided, None
        rows, columns = arrays if arrays is not None else make()
        return view, None, np.broadcast_to(rows + columns, shape)

    def _indices(self, pointers: np.ndarray, active: np.ndarray, dtype: np.dtype,
                 span: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The argument's memory as ``dtype`` and each lane's element index in it (the lowest where masked off)."""
        size = dtype.itemsize
        if dtype.kind not in "iuf" or size & (size - 1) or pointers.dtype != np.uint64:
            return None
        if span is None:
            span = active_span(pointers, active)
            if span is None:
                return None
        found = self._argument(span, size)
        if found is None:
            return None
        index, start, data = found
        low = span[0]
        # In place where it can be: each temporary the size of the access costs page faults too.
        if bool(active.all()):
            offsets = pointers - np.uint64(start)
        else:
            offsets = np.where(active, pointers, np.uint64(low))
            offsets -= np.uint64(start)
        if size > 1 and int(np.bitwise_or.reduce(offsets, axis=None)) & (size - 1):
            return None  # some lane is off the element grid
        indices = np.right_shift(offsets, np.uint64(size.bit_length() - 1), out=offsets).view(np.int64)
        return self._view(index, data, dtype), indices

    def _argument(self, span: tuple[int, int], size: int) -> tuple[int, int, np.ndarray] | None:
        """The argument holding every address of ``span`` (items of ``size`` bytes, aligned at its start):
        its number, first address and bytes; None if no one argument does."""
        low, high = span
        for number, (start, stop, data) in enumerate(self._spans):
            if start <= low and high + size <= stop and start % size == 0:
                return number, start, data
        return None

    def _view(self, index: int, data: np.ndarray, dtype: np.dtype) -> np.ndarray:
        view = self._views.get((index, dtype))
        if view is None:
            usable = data.size - data.size % dtype.itemsize
            view = self._views[(index, dtype)] = data[:usable].view(dtype)
        return view


def _injective(shape: tuple[int, ...], elements: list[int]) -> bool:
    """Whether the strides ``elements`` (in elements, all >= 0) reach a different element from each index."""
    covered = 0
    for step, n in sorted((s, n) for s, n in zip(elements, shape) if n > 1):
        if step <= covered:
            return False
        covered += (n - 1) * step
    return True


def _distinct(indices: np.ndarray, elements: int) -> bool:
    """Whether no two of ``indices`` (flat, all within ``[0, elements)``) are equal."""
    if indices.size < 2:
        return True
    if bool((indices[1:] > indices[:-1]).all()):  # launch order along the memory: the usual case
        return True
    if elements <= _BITMAP_RATIO * indices.size:
        seen = np.zeros(elements, dtype=bool)
        seen[indices] = True
        return int(np.count_nonzero(seen)) == indices.size
    return int(np.unique(indices).size) == indices.size
