"""Exact affine forms of the batched interpreter's integer parts (tritonhost_interpreter.affine).

A form stands for its array in the separable paths' decisions (bounds, residues, steps of a
load's or store's access), so a wrong form would decide a wrong access. Each test holds the
forms to their arrays: the arithmetic against NumPy's on random forms, and, over a corpus of
kernels (the separable kernels with wrapping sums, 2-D grids, falling addresses, and the
library corpus), every form the builder makes against the array it describes, and every
launch's results and access decisions against the same launch deciding from the arrays alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import separable_kernels as sk
import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import TensorHandle

import tritonhost
from library_cases import CASES
from tritonhost_interpreter import access, affine, batching, separable
from tritonhost_interpreter.affine import Form
from tritonhost_interpreter.memory import ArgumentMemory

INT_DTYPES = [np.int8, np.int32, np.int64, np.uint32, np.uint64]


def _values(form: Form) -> np.ndarray:
    """The form's exact values, as Python integers over its shape."""
    grids = np.indices(form.shape, dtype=object)
    total = np.full(form.shape, form.first, dtype=object)
    for grid, step in zip(grids, form.steps):
        total = total + grid * step
    return total


def _wrapped(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` (Python integers) reduced into ``dtype`` as two's complement wraps them."""
    info = np.iinfo(dtype)
    span = int(info.max) - int(info.min) + 1
    return ((values - int(info.min)) % span + int(info.min)).astype(dtype)


def _random_form(rng: random.Random, shape: tuple[int, ...], big: bool = False) -> Form:
    scale = 2**62 if big else 1000
    return Form.make(rng.randrange(-scale, scale), [rng.randrange(-scale, scale) for _ in shape], shape)


def test_the_arithmetic_of_forms_is_numpys_on_their_values():
    rng = random.Random(0)
    for _ in range(300):
        shape = tuple(rng.choice([1, 1, 2, 5]) for _ in range(rng.randrange(1, 4)))
        a, b = _random_form(rng, shape, rng.random() < 0.3), _random_form(rng, shape)
        broadcast = tuple(1 if rng.random() < 0.4 else n for n in shape)
        c = _random_form(rng, broadcast)
        assert (_values(a.plus(b)) == _values(a) + _values(b)).all()
        assert (_values(a.plus(c, -1)) == _values(a) - _values(c)).all()
        k = rng.randrange(-50, 50)
        assert (_values(a.times(k)) == _values(a) * k).all()
        values = _values(a)
        assert a.low() == values.min() and a.high() == values.max()
        for dtype in INT_DTYPES:
            info = np.iinfo(dtype)
            assert a.fits(np.dtype(dtype)) == (int(info.min) <= values.min() and values.max() <= int(info.max))
        for size in (1, 2, 4, 8):
            residues = {int(v) % size for v in values.flat}
            assert a.residue(size) == (residues.pop() if len(residues) == 1 else None)
            # wrapping keeps the residue: the wrapped int64 values' residues are the form's
            if a.residue(size) is not None:
                assert {int(v) % size for v in _wrapped(values, np.dtype(np.int64)).flat} == {a.residue(size)}
        axes = list(range(len(shape)))
        rng.shuffle(axes)
        assert (_values(a.transpose(axes)) == np.transpose(values, axes)).all()
        assert (_values(a.expand_dims(1)) == np.expand_dims(values, 1)).all()
        assert (_values(a.first_along(1)) == values[(slice(None),) + (slice(0, 1),) * (len(shape) - 1)]).all()
        assert (_values(a.times(8).divided(8)) == values).all()
        assert affine.of_array(_wrapped(values, np.dtype(np.int64))) is not None or not a.fits(np.dtype(np.int64))


def test_of_array_refuses_what_is_not_affine():
    assert affine.of_array(np.array([[0, 1, 3]])) is None
    assert affine.of_array(np.array([[0, 1], [10, 12]])) is None
    found = affine.of_array(np.array([[5, 7], [8, 10]]))
    assert found is not None and (found.first, found.steps) == (5, (3, 2))


# --- values kept as forms alone, against the same values kept as arrays --------------------------

TL_TYPES = {np.int32: tl.int32, np.int64: tl.int64}


def _form_handle(rng: random.Random, dtype: type, programs: int = 6, lanes: int = 5, big: bool = False):
    """A separable value kept as forms alone, and its twin kept as the same arrays without forms."""
    scale = 2**40 if big else 200
    program = Form.make(rng.randrange(-scale, scale), [rng.randrange(-scale, scale), 0], (programs, 1))
    lane = Form.make(rng.randrange(-50, 50), [0, rng.randrange(-9, 9)], (1, lanes))
    shape = (programs, lanes)
    value = separable.SeparableHandle(None, None, TL_TYPES[dtype], shape, (program, lane), np.dtype(dtype))
    twin = separable.SeparableHandle(value.program.copy(), value.lane.copy(), TL_TYPES[dtype], shape)
    value = separable.SeparableHandle(None, None, TL_TYPES[dtype], shape, (program, lane), np.dtype(dtype))
    return value, twin


def _same(made, twin_made) -> None:
    assert (made is None) == (twin_made is None)
    if made is not None:
        assert made.data.dtype == twin_made.data.dtype and np.array_equal(made.data, twin_made.data)
        if made.split:
            assert np.array_equal(made.program, twin_made.program) and np.array_equal(made.lane, twin_made.lane)


@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_operations_on_forms_equal_those_on_arrays_bit_for_bit(dtype):
    rng = random.Random(1)
    tl_type = TL_TYPES[dtype]
    for round_ in range(60):
        big = round_ % 3 == 0  # values past int32: the int32 arrays wrap
        a, a_twin = _form_handle(rng, dtype, big=big)
        b, b_twin = _form_handle(rng, dtype, big=rng.random() < 0.3)
        assert np.array_equal(a.data, a_twin.data)
        with np.errstate(over="ignore"):
            _same(separable.add(a, b), separable.add(a_twin, b_twin))
            _same(separable.add(a, b, subtract=True), separable.add(a_twin, b_twin, subtract=True))
            factor = TensorHandle(np.array([[rng.randrange(-9, 9)]], dtype=dtype), tl_type)
            _same(separable.multiply(a, factor), separable.multiply(a_twin, factor))
        for target in (np.int64, np.uint64, np.int32, np.int16, np.int8):
            _same(separable.cast(a, np.dtype(target), tl_type), separable.cast(a_twin, np.dtype(target), tl_type))
        _same(separable.expand_dims(a, 1), separable.expand_dims(a_twin, 1))
        _same(separable.trans(separable.expand_dims(a, 1), (0, 2, 1)),
              separable.trans(separable.expand_dims(a_twin, 1), (0, 2, 1)))
        n = TensorHandle(np.array([[rng.randrange(-300, 300)]], dtype=dtype), tl_type)
        for op in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal):
            outcome, expected = separable.decided(a, n, op), separable.decided(a_twin, n, op)
            assert (outcome is None) == (expected is None)
            if outcome is not None:
                assert np.array_equal(outcome, expected)
        pointer_type = tl.pointer_type(tl.float32)
        base = TensorHandle(np.broadcast_to(np.array([[rng.choice([0, 2**40, 2**64 - 2**20])]], dtype=np.uint64),
                                            (1, 5)), pointer_type)
        for size in (1, 2, 4, 8):
            pointers, twin = separable.addptr(base, a, size), separable.addptr(base, a_twin, size)
            _same(pointers, twin)
            if pointers is None:
                continue
            span = access.address_span(pointers)
            assert span == access.address_span(twin)
            if span is None:
                continue
            for start in (span[0], span[0] - size, span[0] - 1):
                found, expected = (access.element_indices(pointers, start, size),
                                   access.element_indices(twin, start, size))
                assert (found is None) == (expected is None)
                if found is None:
                    continue
                make, (rows, columns) = found
                twin_rows, twin_columns = expected[0]()
                assert all(np.array_equal(x, y) for x, y in zip(make(), (twin_rows, twin_columns)))
                if rows is not None:
                    assert np.array_equal(affine.array(rows, np.dtype(np.int64)), twin_rows)
                if columns is not None:
                    assert np.array_equal(affine.array(columns, np.dtype(np.int64)), twin_columns)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint32], ids=["int32", "int64", "uint32"])
def test_a_dense_value_with_a_form_compares_as_its_array_does(dtype):
    """``decided`` on a plain handle with a form (offsets kept whole): NumPy's comparison of
    the array, wherever it answers, including forms whose values wrap in the dtype."""
    rng = random.Random(2)
    tl_type = {np.int32: tl.int32, np.int64: tl.int64, np.uint32: tl.uint32}[dtype]
    ops = (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)
    answered = 0
    for round_ in range(300):
        small = Form.make(rng.randrange(-600, 600), [rng.randrange(-9, 9), rng.randrange(-9, 9)], (6, 5))
        form = _random_form(rng, (6, 5), big=True) if round_ % 4 == 0 else small
        data = _wrapped(_values(form), np.dtype(dtype))
        value = separable.with_form(TensorHandle(data, tl_type), form)
        assert separable.form_of(value) is form
        scalar = np.array([[rng.randrange(0, 700) - (0 if dtype == np.uint32 else 350)]], dtype=dtype)
        n = TensorHandle(np.broadcast_to(scalar, (1, 5)), tl_type)  # a splat, as the builder makes it
        for op in ops:
            for lhs, rhs in ((value, n), (n, value)):
                outcome = separable.decided(lhs, rhs, op)
                if outcome is not None:
                    answered += 1
                    assert np.array_equal(np.broadcast_to(outcome, data.shape), op(lhs.data, rhs.data))
    assert answered > 300  # most small forms lie wholly on one side of n


def test_an_array_made_from_a_form_wraps_as_numpy_arithmetic_does():
    rng = random.Random(2)
    for _ in range(200):
        form = _random_form(rng, (rng.choice([1, 3]), rng.choice([1, 4])), big=rng.random() < 0.5)
        for dtype in INT_DTYPES:
            assert np.array_equal(affine.array(form, np.dtype(dtype)), _wrapped(_values(form), np.dtype(dtype)))


# --- every form made, against its array ----------------------------------------------------------


class Made:
    """The forms the builder made over a test, each checked against its array when made."""

    def __init__(self) -> None:
        self.forms = 0
        self.bad: list[str] = []

    def check(self, form: Form | None, array: np.ndarray | None, where: str) -> None:
        if form is None or array is None:
            return
        self.forms += 1
        if tuple(array.shape) != form.shape and array.size != 1:
            # a plain handle's form takes its data's shape; a part keeps its own
            self.bad.append(f"{where}: shape {array.shape} against {form}")
            return
        expected = _wrapped(np.broadcast_to(_values(form), array.shape), array.dtype)
        if not np.array_equal(expected, array):
            self.bad.append(f"{where}: {form} does not hold {array.reshape(-1)[:8]}")


@pytest.fixture
def made(interpreter, monkeypatch):
    monkeypatch.setenv(batching.BATCH_ENV, "1")
    seen = Made()
    init, with_form = separable.SeparableHandle.__init__, separable.with_form

    def checked_init(self, program, lane, dtype, shape, forms=(None, None), part_dtype=None):
        init(self, program, lane, dtype, shape, forms, part_dtype)
        seen.check(forms[0], program, "program part")
        seen.check(forms[1], lane, "lane part")

    def checked_with_form(handle, form):
        made_handle = with_form(handle, form)
        kept = made_handle.attr.get(separable.FORM)
        if kept is not None:
            seen.check(kept[0], kept[1], "plain value")
        return made_handle

    monkeypatch.setattr(separable.SeparableHandle, "__init__", checked_init)
    monkeypatch.setattr(separable, "with_form", checked_with_form)
    return seen


def _no_forms(monkeypatch) -> None:
    """Decide every access from the arrays alone, as before forms."""
    monkeypatch.setattr(separable, "forms", lambda handle: (None, None))
    monkeypatch.setattr(separable, "form_of", lambda handle: None)


def _launches() -> list[tuple[str, Callable[[], list[torch.Tensor]]]]:
    wrap = tritonhost.wrap
    found: list[tuple[str, Callable[[], list[torch.Tensor]]]] = []

    def add(name: str, launch: Callable[[], list[torch.Tensor]]) -> None:
        found.append((name, launch))

    x = torch.randn(300 * 64)
    add("scale_shift", lambda: _out(lambda out: wrap(sk.scale_shift)[(300,)](x, out, x.numel() - 7, BLOCK=64),
                                    torch.zeros_like(x)))
    base = torch.randn(80, 96).t()
    add("tile_copy 2-D grid, transposed input", lambda: _out(
        lambda out: wrap(sk.tile_copy)[(6, 5)](base, out, 96, 80, base.stride(0), base.stride(1), out.stride(0),
                                               BM=16, BN=16), torch.empty(96, 80)))
    tiles = torch.randn(70 * 16, 16)
    add("tile_transpose", lambda: _out(lambda out: wrap(sk.tile_transpose)[(70,)](tiles, out, tiles.shape[0],
                                                                                  BLOCK=16), torch.empty_like(tiles)))
    for factor in (7, 2**30 - 1):
        add(f"wrapping_sums {factor}", lambda factor=factor: _outs(
            lambda out, flags: wrap(sk.wrapping_sums)[(70,)](out, flags, factor, BLOCK=8),
            torch.empty(560, dtype=torch.int64), torch.empty(560, dtype=torch.int32)))
    add("reversed_copy", lambda: _out(lambda out: wrap(sk.reversed_copy)[(40,)](x, out, 40 * 64, BLOCK=64),
                                      torch.empty(40 * 64)))
    add("decided_masks", lambda: _out(lambda out: wrap(sk.decided_masks)[(30,)](out, BLOCK=32),
                                      torch.zeros(30 * 32, dtype=torch.int32)))
    for case in CASES:
        def launch(case: Any = case) -> list[torch.Tensor]:
            torch.manual_seed(0)
            setup = case.setup("cpu")
            wrap(case.kernel)[setup.grid](*setup.args, **setup.kwargs)
            return [t.clone() for t in setup.outputs()]

        add(f"library: {case.name}", launch)
    return found


def _out(launch: Callable[[torch.Tensor], Any], out: torch.Tensor) -> list[torch.Tensor]:
    launch(out)
    return [out]


def _outs(launch: Callable[..., Any], *outs: torch.Tensor) -> list[torch.Tensor]:
    launch(*outs)
    return list(outs)


LAUNCHES = _launches()


@pytest.mark.parametrize("launch", [launch for _, launch in LAUNCHES], ids=[name for name, _ in LAUNCHES])
def test_forms_hold_their_arrays_and_decide_as_the_arrays_do(made, monkeypatch, launch):
    decisions: list[str] = []  # per separable access: a strided view, an index gather, or neither
    separable_access = ArgumentMemory._separable

    def logged(self, *args, **kwargs):
        found = separable_access(self, *args, **kwargs)
        decisions.append("none" if found is None else "strided" if found[1] is not None else "index")
        return found

    monkeypatch.setattr(ArgumentMemory, "_separable", logged)
    # The first launch records a tape on a small first chunk, and a replay may turn the
    # tape's views off; after two launches the kernel's state is settled, so the third and
    # fourth launches, with forms and without, run the same chunks on the same tape.
    settling = [launch(), launch()]
    assert made.bad == [], "\n".join(made.bad[:5])
    decisions.clear()
    with_forms = launch()
    decided_with_forms = list(decisions)
    decisions.clear()
    with monkeypatch.context() as patched:
        _no_forms(patched)
        without = launch()
    for got in (*settling, with_forms):
        for a, b in zip(got, without, strict=True):
            assert torch.equal(a, b)
    assert decided_with_forms == decisions
    assert made.bad == [], "\n".join(made.bad[:5])


def test_the_corpus_makes_forms_and_takes_strided_accesses(made):
    """Not vacuous: the launches above make forms, and forms decide strided accesses."""
    taken = []
    separable_access = ArgumentMemory._separable

    def logged(self, *args, **kwargs):
        found = separable_access(self, *args, **kwargs)
        taken.append(found is not None and found[1] is not None)
        return found

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(ArgumentMemory, "_separable", logged)
        triton_kernel = triton.jit(sk.scale_shift.fn)
        x = torch.randn(300 * 64)
        out = torch.zeros_like(x)
        tritonhost.wrap(triton_kernel)[(300,)](x, out, x.numel(), BLOCK=64)
    assert made.forms > 5 and taken and all(taken)
