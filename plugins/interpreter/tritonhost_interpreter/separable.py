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
  (:mod:`tritonhost_interpreter.access` decides which,
  :meth:`tritonhost_interpreter.memory.ArgumentMemory.load_separable` performs it).

Exactness: integer add, sub and mul wrap alike in any grouping (they are exact
modulo 2**bits), so the parts' sum is, bit for bit, the dense value. A cast to a
wider type, whose sign extension does not distribute over a wrapped sum, is taken on
the parts only where their bounds show that the sum cannot wrap; comparisons and
address spans are decided from bounds only where the sum cannot wrap. Any other use
reads ``.data`` and gets the dense array, made once on first use.

Forms: where each part's exact affine form is known (:mod:`tritonhost_interpreter.affine`:
a program id of a one-dimensional grid, ``tl.arange``, a splat scalar, and their sums,
differences, scalar multiples and exact casts), the operations above work on the forms
alone, and a part's array is made from its form only if something reads it (a gather, the
dense value). Bounds, residues and steps are then read from the forms, without the small
NumPy reductions the arrays would take. A form stands for its array exactly: the array is
the form's values wrapped into the part's dtype, and a decision is taken from a form only
where its values fit that dtype, as from the array (``tests/backends/test_interpreter_affine.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from triton.runtime.interpreter import TensorHandle

from tritonhost_interpreter import affine
from tritonhost_interpreter.affine import Form

#: Parts of a separable value: per program (shape (L, 1, ..., 1)), per lane (shape (1, *S)).
Parts = tuple[np.ndarray, np.ndarray]
#: The parts' exact affine forms (:mod:`tritonhost_interpreter.affine`), each None where unknown.
Forms = tuple[Form | None, Form | None]
#: Where a plain integer handle keeps its form: ``attr[FORM] = (form, data)``, good while
#: the handle's data is still that array.
FORM = "tritonhost.form"
_UNKNOWN: Forms = (None, None)
_INT64, _UINT64 = np.dtype(np.int64), np.dtype(np.uint64)


class SeparableHandle(TensorHandle):  # type: ignore[misc]
    """A value of the batch as ``program + lane``, broadcast to ``shape``; ``data`` made on first use.

    Each part is kept as an array, or as its form alone (the array made from it when read);
    ``part_dtype`` is the parts' NumPy dtype.
    """

    def __init__(self, program: np.ndarray | None, lane: np.ndarray | None, dtype: Any, shape: Sequence[int],
                 forms: Forms = _UNKNOWN, part_dtype: np.dtype | None = None) -> None:
        # Not the dataclass's __init__: that would assign (and so compute) data.
        assert (program is not None or forms[0] is not None) and (lane is not None or forms[1] is not None)
        self._program = program
        self._lane = lane
        self.forms = forms
        self.part_dtype: np.dtype = part_dtype if part_dtype is not None else program.dtype  # type: ignore[union-attr]
        #: Whether the parts still describe the value (not so once ``data`` is assigned).
        self.split = True
        self.dtype = dtype
        self.attr: dict[str, Any] = {}
        self.shape = tuple(shape)
        self._dense: np.ndarray | None = None

    @property
    def program(self) -> np.ndarray:
        """The per-program part (made from its form on first use); only while :attr:`split`."""
        if self._program is None:
            assert self.split and self.forms[0] is not None
            self._program = affine.array(self.forms[0], self.part_dtype)
        return self._program

    @property
    def lane(self) -> np.ndarray:
        """The per-lane part (made from its form on first use); only while :attr:`split`."""
        if self._lane is None:
            assert self.split and self.forms[1] is not None
            self._lane = affine.array(self.forms[1], self.part_dtype)
        return self._lane

    def arrays(self) -> list[np.ndarray | None]:
        """The arrays made so far: each part's and the dense value's (None where not made)."""
        return [self._program, self._lane, self._dense]

    @property  # type: ignore[misc]
    def data(self) -> np.ndarray:
        if self._dense is None:
            total = self.program + self.lane
            self._dense = total if total.shape == self.shape else np.broadcast_to(total, self.shape)
        return self._dense

    @data.setter
    def data(self, value: np.ndarray) -> None:
        # Written from outside (Triton's reversed scan does): the parts no longer describe it.
        self._dense = value
        self._program = self._lane = None
        self.split = False
        self.forms = _UNKNOWN
        self.shape = tuple(value.shape)

    def clone(self) -> TensorHandle:
        return TensorHandle(np.array(self.data), self.dtype)


def shape_of(handle: TensorHandle) -> tuple[int, ...]:
    """The batched shape of ``handle``'s data, without making a separable value dense."""
    if isinstance(handle, SeparableHandle):
        return handle.shape
    return tuple(handle.data.shape)


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if len(a) == len(b):
        return tuple(x if y == 1 else y for x, y in zip(a, b))
    return tuple(np.broadcast_shapes(a, b))


def parts(handle: TensorHandle) -> Parts | None:
    """``handle`` as per-program plus per-lane parts, or None where it is neither of the two nor their sum.

    A plain integer value with one row (the same in every program) is all lane; one whose
    trailing axes are broadcast (a splat scalar) is all program.
    """
    if isinstance(handle, SeparableHandle):
        return (handle.program, handle.lane) if handle.split else None
    data = handle.data
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "iu" or data.ndim < 2:
        return None
    zero = np.zeros((1,) * data.ndim, dtype=data.dtype)
    if data.shape[0] == 1:
        return zero, data
    if all(n == 1 or s == 0 for n, s in zip(data.shape[1:], data.strides[1:])):
        return data[(slice(None),) + (slice(0, 1),) * (data.ndim - 1)], zero
    return None


def part_dtype(handle: TensorHandle) -> np.dtype | None:
    """The NumPy dtype of :func:`parts` of ``handle``, without making them."""
    if isinstance(handle, SeparableHandle):
        return handle.part_dtype
    data = handle.data
    return data.dtype if isinstance(data, np.ndarray) else None


def with_form(handle: TensorHandle, form: Form | None) -> TensorHandle:
    """``handle`` (plain, integer) described by ``form`` over its data's shape; returns it."""
    if form is not None and not isinstance(handle, SeparableHandle):
        data = handle.data
        if isinstance(data, np.ndarray) and data.dtype.kind in "iu":
            handle.attr[FORM] = (form if form.shape == data.shape else form.reshaped(data.shape), data)
    return handle


def form_of(handle: TensorHandle) -> Form | None:
    """The form of a plain handle's whole value, where the builder made one (or it is one value)."""
    if isinstance(handle, SeparableHandle):
        return None
    kept = handle.attr.get(FORM)
    if kept is not None and kept[1] is handle.data:
        return kept[0]  # type: ignore[no-any-return]
    value = single(handle)
    if value is None or value.dtype.kind not in "iu":
        return None
    return Form.constant(int(value[0]), handle.data.shape)


_ZERO_FORMS: dict[int, Form] = {}


def forms(handle: TensorHandle) -> Forms:
    """The forms of :func:`parts` of ``handle``, each None where unknown."""
    if isinstance(handle, SeparableHandle):
        return handle.forms if handle.split else _UNKNOWN
    data = handle.data
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "iu" or data.ndim < 2:
        return _UNKNOWN
    zero = _ZERO_FORMS.get(data.ndim)
    if zero is None:
        zero = _ZERO_FORMS[data.ndim] = Form.constant(0, (1,) * data.ndim)
    if data.shape[0] == 1:
        return zero, form_of(handle)
    if all(n == 1 or s == 0 for n, s in zip(data.shape[1:], data.strides[1:])):
        whole = form_of(handle)
        return (None if whole is None else whole.first_along(1)), zero
    return _UNKNOWN


def _known(found: Forms) -> tuple[Form, Form] | None:
    program, lane = found
    return None if program is None or lane is None else (program, lane)


def single(handle: TensorHandle) -> np.ndarray | None:
    """The one value of a plain handle whose lanes and programs all hold it (a splat scalar), or None."""
    if isinstance(handle, SeparableHandle):
        return None
    data = handle.data
    if not isinstance(data, np.ndarray):
        return None
    compact = data[tuple(slice(0, 1) if s == 0 else slice(None) for s in data.strides)]
    return compact.reshape(-1)[:1] if compact.size == 1 else None


def bounds(array: np.ndarray, form: Form | None = None) -> tuple[int, int]:
    """The lowest and highest value of a (small) part, as Python ints: from its form where that fits."""
    if form is not None and form.fits(array.dtype):
        return form.bounds()
    return int(array.min()), int(array.max())


def form_bounds(found: Forms, dtypes: tuple[np.dtype, np.dtype]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Each part's bounds from its form, read as ``dtypes``; None where a form is missing or does not fit."""
    program, lane = found
    if program is None or lane is None or not program.fits(dtypes[0]) or not lane.fits(dtypes[1]):
        return None
    return program.bounds(), lane.bounds()


def sum_bounds(handle: TensorHandle) -> tuple[int, int] | None:
    """The lowest and highest ``program + lane`` over every lane, as integers (no wrapping); None if not split.

    Exact: the batch holds every combination of a program row and a lane.
    """
    dtype = part_dtype(handle)
    found = None if dtype is None else form_bounds(forms(handle), (dtype, dtype))
    if found is None:
        split = parts(handle)
        if split is None:
            return None
        found = bounds(split[0]), bounds(split[1])
    (plow, phigh), (llow, lhigh) = found
    return plow + llow, phigh + lhigh


def _fits(low: int, high: int, dtype: np.dtype) -> bool:
    lowest, highest = affine.dtype_range(dtype)
    return lowest <= low and high <= highest


def _worth(program: tuple[int, ...], lane: tuple[int, ...]) -> bool:
    """Whether the dense value would vary along both the program and the lanes (else it is small)."""
    return program[0] > 1 and math.prod(lane) > 1


def _may_be_worth(shape: tuple[int, ...]) -> bool:
    """Whether a result of ``shape`` could be worth keeping split: its parts are no larger than its axes."""
    return shape[0] > 1 and math.prod(shape[1:]) > 1


def add(lhs: TensorHandle, rhs: TensorHandle, subtract: bool = False) -> SeparableHandle | None:
    """``lhs + rhs`` (or ``-``) on the parts, or None where the dense operation must run."""
    dtype = part_dtype(lhs)
    if dtype is None or dtype.kind not in "iu" or dtype != part_dtype(rhs):
        return None  # mixed dtypes: NumPy's promotion decides the dense result
    sign = -1 if subtract else 1
    shape = _broadcast(shape_of(lhs), shape_of(rhs))
    if not _may_be_worth(shape):
        return None
    known_a, known_b = _known(forms(lhs)), _known(forms(rhs))
    if known_a is not None and known_b is not None:
        program_form, lane_form = known_a[0].plus(known_b[0], sign), known_a[1].plus(known_b[1], sign)
        if not _worth(program_form.shape, lane_form.shape):
            return None
        return SeparableHandle(None, None, lhs.dtype.scalar, shape, (program_form, lane_form), dtype)
    a, b = parts(lhs), parts(rhs)
    if a is None or b is None:
        return None
    op = np.subtract if subtract else np.add
    program, lane = op(a[0], b[0]), op(a[1], b[1])
    if not _worth(program.shape, lane.shape):
        return None
    return SeparableHandle(program, lane, lhs.dtype.scalar, shape)


def sum_form(lhs: TensorHandle, rhs: TensorHandle, subtract: bool = False) -> Form | None:
    """The form of ``lhs + rhs`` (or ``-``) made densely, for plain operands of one integer dtype."""
    a, b = form_of(lhs), form_of(rhs)
    if a is None or b is None or lhs.data.dtype != rhs.data.dtype:
        return None
    return a.plus(b, -1 if subtract else 1)


def product_form(lhs: TensorHandle, rhs: TensorHandle) -> Form | None:
    """The form of ``lhs * rhs`` made densely, where one plain operand has a form and the other is one value."""
    if isinstance(lhs, SeparableHandle) or isinstance(rhs, SeparableHandle) or lhs.data.dtype != rhs.data.dtype:
        return None
    for value, factor in ((lhs, rhs), (rhs, lhs)):
        form, k = form_of(value), single(factor)
        if form is not None and k is not None and k.dtype.kind in "iu":
            return form.times(int(k[0]))
    return None


def pointer_form(ptr: TensorHandle, offset: TensorHandle, element_bytes: int) -> Form | None:
    """The form of ``ptr + offset`` made densely (uint64 plus the offset widened), for plain operands."""
    a, b = form_of(ptr), form_of(offset)
    if a is None or b is None or ptr.data.dtype != _UINT64 or not b.fits(offset.data.dtype):
        return None  # the widening sign- or zero-extends the offset's wrapped value: the form's only if it fits
    return a.plus(b.times(element_bytes))


def multiply(lhs: TensorHandle, rhs: TensorHandle) -> SeparableHandle | None:
    """A separable value times one scalar, on the parts."""
    for value, factor in ((lhs, rhs), (rhs, lhs)):
        if isinstance(value, SeparableHandle) and value.split and not isinstance(factor, SeparableHandle):
            k = single(factor)
            if k is None or k.dtype != value.part_dtype:
                continue
            shape = _broadcast(value.shape, shape_of(factor))
            known = _known(value.forms)
            if known is not None:
                made = known[0].times(int(k[0])), known[1].times(int(k[0]))
                return SeparableHandle(None, None, lhs.dtype.scalar, shape, made, value.part_dtype)
            split = parts(value)
            assert split is not None
            k = k.reshape((1,) * split[0].ndim)
            return SeparableHandle(split[0] * k, split[1] * k, lhs.dtype.scalar, shape)
    return None


def _casts_exactly(handle: TensorHandle, target: np.dtype) -> bool:
    """Whether casting each part of ``handle`` to ``target`` and adding gives the cast of the sum."""
    source = part_dtype(handle)
    assert source is not None
    if np.dtype(target).itemsize <= source.itemsize:
        return True  # truncation and same-width reinterpretation are exact modulo 2**bits
    found = sum_bounds(handle)
    return found is not None and _fits(*found, source)  # widening: exact where the sum did not wrap


def _cast_forms(found: Forms, source: np.dtype, target: np.dtype) -> Forms:
    """The parts' forms after a cast: kept where the cast is exact modulo the target's width.

    Narrowing or reinterpreting wraps the same either way; widening sign- or zero-extends
    the part's value in ``source``, which is the form's only where the form fits it.
    """
    if np.dtype(target).itemsize <= source.itemsize:
        return found
    program, lane = found
    return (None if program is None or not program.fits(source) else program,
            None if lane is None or not lane.fits(source) else lane)


def addptr(ptr: TensorHandle, offset: TensorHandle, element_bytes: int) -> SeparableHandle | None:
    """``ptr + offset`` in elements of ``element_bytes``, as Triton's interpreter computes it, on the parts."""
    source = part_dtype(offset)
    if part_dtype(ptr) != _UINT64 or source is None or source.kind not in "iu":
        return None
    shape = _broadcast(shape_of(ptr), shape_of(offset))
    if not _may_be_worth(shape) or not _casts_exactly(offset, _UINT64):
        return None
    known_p, known_o = _known(forms(ptr)), _known(_cast_forms(forms(offset), source, _UINT64))
    if known_p is not None and known_o is not None:
        program_form = known_p[0].plus(known_o[0].times(element_bytes))
        lane_form = known_p[1].plus(known_o[1].times(element_bytes))
        if not _worth(program_form.shape, lane_form.shape):
            return None
        return SeparableHandle(None, None, ptr.dtype, shape, (program_form, lane_form), _UINT64)
    p, o = parts(ptr), parts(offset)
    if p is None or o is None:
        return None
    size = np.uint64(element_bytes)
    program = p[0] + size * o[0].astype(np.uint64)
    lane = p[1] + size * o[1].astype(np.uint64)
    if not _worth(program.shape, lane.shape):
        return None
    return SeparableHandle(program, lane, ptr.dtype, shape)


def cast(src: TensorHandle, target: np.dtype, dtype: Any) -> SeparableHandle | None:
    """An integer cast of a separable value, where it is exact on the parts."""
    if not isinstance(src, SeparableHandle) or not src.split or np.dtype(target).kind not in "iu":
        return None
    if not _casts_exactly(src, np.dtype(target)):
        return None
    made = _cast_forms(src.forms, src.part_dtype, np.dtype(target))
    if made[0] is not None and made[1] is not None:
        return SeparableHandle(None, None, dtype, src.shape, made, np.dtype(target))
    split = parts(src)
    assert split is not None
    return SeparableHandle(split[0].astype(target), split[1].astype(target), dtype, src.shape)


def _reshaped(arg: SeparableHandle, shape: Sequence[int], program: Callable[[np.ndarray], np.ndarray],
              form: Callable[[Form], Form]) -> SeparableHandle:
    """``arg`` with each part (array, form, or both) taken through ``program`` and ``form``."""
    made = tuple(None if f is None else form(f) for f in arg.forms)
    arrays = [None if a is None else program(a) for a in (arg._program, arg._lane)]
    for index in (0, 1):
        if arrays[index] is None and made[index] is None:
            arrays[index] = program(arg.program if index == 0 else arg.lane)
    return SeparableHandle(arrays[0], arrays[1], arg.dtype.scalar, shape, made, arg.part_dtype)  # type: ignore[arg-type]


def broadcast(arg: TensorHandle, shape: Sequence[int]) -> SeparableHandle | None:
    """A separable value broadcast to the per-program ``shape``."""
    if not isinstance(arg, SeparableHandle) or not arg.split:
        return None
    return SeparableHandle(arg._program, arg._lane, arg.dtype.scalar, (arg.shape[0], *shape), arg.forms,
                           arg.part_dtype)


def expand_dims(arg: TensorHandle, axis: int) -> SeparableHandle | None:
    """A separable value with a new axis at ``axis`` (the batched array's axis, past the program's)."""
    if not isinstance(arg, SeparableHandle) or not arg.split:
        return None
    shape = list(arg.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return _reshaped(arg, shape, lambda a: np.expand_dims(a, axis), lambda f: f.expand_dims(axis))


def trans(arg: TensorHandle, axes: Sequence[int]) -> SeparableHandle | None:
    """A separable value with its axes permuted (``axes`` of the batched array, 0 first)."""
    if not isinstance(arg, SeparableHandle) or not arg.split:
        return None
    shape = [arg.shape[a] for a in axes]
    return _reshaped(arg, shape, lambda a: np.transpose(a, axes), lambda f: f.transpose(axes))


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
        if isinstance(scalar, SeparableHandle) or compare is None:
            continue
        if isinstance(value, SeparableHandle):
            n = single(scalar)
            if not value.split or n is None or n.dtype != value.part_dtype:
                continue  # mixed dtypes compare after NumPy's promotion, possibly to float
            found = sum_bounds(value)
            assert found is not None
            low, high = found
            if not _fits(low, high, value.part_dtype):
                return None  # the sum wraps somewhere: only the dense values tell
        else:
            # A dense value with a form (offsets a kernel made from the program id and
            # tl.arange, kept whole): its exact bounds, where the form fits the array's dtype
            # (the array then holds the form's values unwrapped), decide the same way.
            form = form_of(value)
            if form is None or all(step == 0 for step in form.steps):
                continue  # no form, or one value: the comparison itself is as cheap
            n = single(scalar)
            if n is None or n.dtype != value.data.dtype or not form.fits(value.data.dtype):
                continue
            low, high = form.bounds()
        outcome = _outcome(compare, low, high, int(n[0]))
        if outcome is None:
            return None
        shape = _broadcast(shape_of(value), shape_of(scalar))
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
