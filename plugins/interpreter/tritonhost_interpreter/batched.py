"""A grid's programs as one batch: Triton's interpreter builder with the program id as a leading dimension.

Triton's interpreter runs a kernel's Python once per program, about a millisecond
each whatever the block size: the time goes into interpreting, not arithmetic.
Here the kernel's Python runs once for a whole chunk of programs. Every value's
NumPy array carries one more, leading, dimension: the program. Its length is the
chunk's program count where the value differs between programs (``tl.program_id``,
everything loaded through it) and 1 where it cannot (constants, ``tl.arange``,
scalar arguments), so NumPy broadcasting mixes the two. A per-program value of data
shape ``S`` (the interpreter keeps scalars as shape ``(1,)``) is an array of shape
``(1, *S)`` or ``(B, *S)``; Triton's semantic layer above the builder still sees
per-program types and shapes, and only the builder's shape-sensitive operations
shift their axes by one. Address arithmetic keeps its values as a per-program plus a
per-lane part where it can (:mod:`tritonhost_interpreter.separable`), so that making
and using the addresses of a large batch costs passes over the parts, not the lanes.

What cannot run this way raises a private exception, and the launch runs program by
program instead (:mod:`tritonhost_interpreter.batching` decides and says why):

- :class:`Divergence`: Python control flow (``if``, ``while``, a ``range`` bound,
  ``int()``) on a scalar that differs between the chunk's programs;
- :class:`Unbatchable`: an operation whose meaning depends on programs running one at
  a time (``atomic_cas``, ``atomic_xchg``, ``tl.debug_barrier``, ``device_print``,
  inline assembly, tensor descriptors and block pointers), and any builder operation
  not reviewed for batching.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Literal

import numpy as np
import triton.language as tl
from triton._C.libtriton import ir
from triton.runtime import interpreter as triton_interpreter
from triton.runtime.interpreter import InterpreterBuilder, TensorHandle

from tritonhost_interpreter import access, program_ids, separable
from tritonhost_interpreter.affine import Form
from tritonhost_interpreter.bounds import active_span
from tritonhost_interpreter.memory import ArgumentMemory
from tritonhost_interpreter.tape import ViewConflict

_UINT64 = np.dtype(np.uint64)
_NP_DTYPES: dict[Any, np.dtype] = {}


def _np_dtype(tt_dtype: Any) -> np.dtype:
    """The NumPy dtype the interpreter keeps a Triton type's values in, as Triton's ``_get_np_dtype`` says.

    Remembered per scalar type: Triton's builds its table anew on each call, a few
    microseconds that a batched load, splat or cast paid every time.
    """
    scalar = tt_dtype.element_ty if isinstance(tt_dtype, tl.block_type) else tt_dtype
    if isinstance(scalar, tl.pointer_type):  # unhashable, and always addresses
        return _UINT64
    found = _NP_DTYPES.get(scalar)
    if found is None:
        found = _NP_DTYPES[scalar] = triton_interpreter._get_np_dtype(scalar)
    return found

#: An access's addresses, or a function making them (separable pointers are made dense only if asked).
Addresses = np.ndarray | Callable[[], np.ndarray]


class Divergence(Exception):
    """Python control flow on a scalar whose value differs between the batch's programs."""


class Unbatchable(Exception):
    """An operation whose meaning depends on programs running one at a time."""


def _lead(data: np.ndarray) -> int:
    return int(data.shape[0])


def _handle(data: np.ndarray, dtype: Any) -> TensorHandle:
    return TensorHandle(data, dtype)


#: How many chunks' program ids a builder keeps (each at most a chunk's ids, three int32 columns).
_CHUNK_IDS_KEPT = 16


def _common(*arrays: np.ndarray, batch: int | None = None) -> list[np.ndarray]:
    """The arrays broadcast to one shape, contiguous (Triton's C++ helpers index them flat)."""
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    if batch is not None:
        shape = (batch, *shape[1:])
    return [_dense(a, shape) for a in arrays]


def _dense(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    # Triton 3.6's C++ helpers also ask for writeable arrays, which broadcast views are not.
    if array.shape == shape and array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.array(np.broadcast_to(array, shape), order="C")


#: Builder operations that act element by element, or along trailing axes only: NumPy
#: broadcasting over the leading program dimension gives each program its own result.
ELEMENTWISE = frozenset({
    "create_add", "create_addptr", "create_and", "create_approx_divf", "create_ashr", "create_bitcast",
    "create_ceil", "create_clampf", "create_cos", "create_dot", "create_erf", "create_exp", "create_exp2",
    "create_fabs", "create_fadd", "create_fdiv", "create_floor", "create_fmul", "create_fneg", "create_fp_ext",
    "create_fp_to_fp", "create_fp_to_si", "create_fp_to_ui", "create_fp_trunc", "create_frem", "create_fsub",
    "create_iabs", "create_idiv", "create_int_cast", "create_int_to_ptr", "create_log", "create_log2",
    "create_lshr", "create_maximumf", "create_maxnumf", "create_maxsi", "create_maxui", "create_minimumf",
    "create_minnumf", "create_minsi", "create_minui", "create_mul", "create_or", "create_precise_divf",
    "create_precise_sqrt", "create_ptr_to_int", "create_rsqrt", "create_sdiv", "create_select", "create_shl",
    "create_si_to_fp", "create_sin", "create_split", "create_sqrt", "create_srem", "create_sub", "create_udiv",
    "create_ui_to_fp", "create_umulhi", "create_urem", "create_xor", "create_load", "create_store",
    "create_assert", "create_assume",
    *(f"create_icmp{k}" for k in ("EQ", "NE", "SGE", "SGT", "SLE", "SLT", "UGE", "UGT", "ULE", "ULT")),
    *(f"create_fcmp{k}" for k in ("OEQ", "OGE", "OGT", "OLE", "OLT", "ONE", "UEQ", "UGE", "UGT", "ULE", "ULT",
                                  "UNE")),
})

#: Why an operation makes a launch run program by program.
ORDERED = {
    "create_atomic_cas": "atomic_cas (a lock or a compare-and-swap protocol depends on the order programs run in)",
    "create_barrier": "tl.debug_barrier (its meaning is per program)",
    "create_print": "device_print (its output is per program)",
    "create_inline_asm": "inline assembly",
    "create_extern_elementwise": "an external elementwise function",
}


class BatchedBuilder(InterpreterBuilder):  # type: ignore[misc]
    """Triton's interpreter builder over a chunk of programs at once (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.grid_dim = (1, 1, 1)
        self.grid_idx = None
        self.batch = 0
        self._program_ids: list[np.ndarray] = []
        self._program_forms: list[Form | None] = []
        #: :func:`program_ids.of_chunk` by (grid, start, stop), the oldest dropped first.
        self._chunk_ids: dict[tuple[tuple[int, int, int], int, int], tuple[list[np.ndarray], list[Form | None]]] = {}
        #: Called before each memory access: (access, pointers or a function making them, mask (None: every
        #: lane), item size, active span); may raise.
        self.before_access: Callable[[str, Addresses, np.ndarray | None, int, tuple[int, int] | None], None] | None = None
        #: The launch's argument memory, where loads and stores inside it run as NumPy gathers and scatters.
        self.memory: ArgumentMemory | None = None
        #: The largest per-program block seen, in elements (to size the next chunk).
        self.peak_elements = 1
        #: Whether a load through a strided view may return the view itself, not a copy (a replay
        #: sets it: :class:`tritonhost_interpreter.tape.Tape`). Its value must not change while
        #: the chunk can still read it, so each such view's byte span is kept for the chunk, and
        #: a write that reaches one stops the replay (:class:`ViewConflict`).
        self.view_loads = False
        self._viewed: list[tuple[int, int]] = []
        #: Set by the replay with views on: whether a value the chunk still reads after the
        #: running step lies in the byte range [low, high). A write to a viewed span is let
        #: through where none does (an in-place kernel's load, dead by its store).
        self.still_read: Callable[[int, int], bool] | None = None

    # --- the chunk ---------------------------------------------------------------------------

    def set_grid_dim(self, nx: int, ny: int, nz: int) -> None:
        self.grid_dim = (nx, ny, nz)

    def set_grid_idx(self, x: int, y: int, z: int) -> None:
        raise Unbatchable("a program id set one program at a time")

    def set_programs(self, start: int, stop: int) -> None:
        """Run the programs ``start`` to ``stop`` (exclusive) in launch order: x slowest, as Triton loops."""
        self.batch = stop - start
        self._viewed.clear()  # the last chunk's values are gone
        self.peak_elements = 1
        key = (self.grid_dim, start, stop)
        found = self._chunk_ids.get(key)
        if found is None:
            # Made once per grid and chunk: a test suite launches the same grid again and
            # again, and making them cost about 20 us of a 0.5 ms launch.
            found = program_ids.of_chunk(self.grid_dim, start, stop)
            if len(self._chunk_ids) >= _CHUNK_IDS_KEPT:
                self._chunk_ids.pop(next(iter(self._chunk_ids)))
            self._chunk_ids[key] = found
        self._program_ids, self._program_forms = found

    def first_program(self) -> tuple[int, int, int]:
        """The id (x, y, z) of the chunk's first program (what an error names; the rest are not made)."""
        x, y, z = (int(i[0, 0]) for i in self._program_ids)
        return x, y, z

    def _seen(self, shape: Iterable[int]) -> None:
        size = math.prod(int(n) for n in shape)  # NumPy's prod costs microseconds on a short tuple
        self.peak_elements = max(self.peak_elements, size)

    # --- constants and the programming model ---------------------------------------------------

    def create_get_program_id(self, axis: int) -> TensorHandle:
        return separable.with_form(_handle(self._program_ids[axis], tl.int32), self._program_forms[axis])

    def create_get_num_programs(self, axis: int) -> TensorHandle:
        return _handle(np.array([[self.grid_dim[axis]]], dtype=np.int32), tl.int32)

    def create_make_range(self, ret_ty: Any, start: int, stop: int) -> TensorHandle:
        self._seen([stop - start])
        made = _handle(np.arange(start, stop, dtype=np.int32)[None], tl.int32)
        return separable.with_form(made, Form.make(start, (0, 1), (1, stop - start)))

    # --- shapes --------------------------------------------------------------------------------

    def create_splat(self, ret_ty: Any, arg: TensorHandle) -> TensorHandle:
        shape = list(ret_ty.shape)
        data = arg.data if arg.data.ndim >= 2 else arg.data.reshape(1, -1)
        first = data.reshape(_lead(data), -1)[:, :1].astype(_np_dtype(arg.dtype), copy=False)
        self._seen(shape)
        if first.shape[0] == 1:
            # One value for every program: a zero-strided array over it, as np.broadcast_to
            # makes, for an eighth of its cost (a splat runs for each scalar in each kernel).
            out = np.ndarray((1, *shape), first.dtype, np.ascontiguousarray(first), 0, (0,) * (len(shape) + 1))
            out.flags.writeable = False
        else:
            out = np.broadcast_to(first.reshape(_lead(data), *([1] * len(shape))), (_lead(data), *shape))
        made = _handle(out, arg.dtype.scalar)
        if out.dtype.kind in "iu":  # a splat's form: one value, or one per program
            if first.shape[0] == 1:
                made.attr[separable.FORM] = (Form.constant(int(first[0, 0]), out.shape), out)
            else:
                form = separable.form_of(arg)
                if form is not None and form.shape[1:] == (1,) * (len(form.shape) - 1):
                    made.attr[separable.FORM] = (Form(form.first, (form.steps[0], *(0,) * len(shape)), out.shape),
                                                 out)
        return made

    def create_unsplat(self, arg: TensorHandle) -> TensorHandle:
        data = arg.data
        return _handle(data.reshape(_lead(data), -1)[:, :1], arg.dtype.scalar)

    def create_broadcast(self, arg: TensorHandle, shape: list[int]) -> TensorHandle:
        self._seen(shape)
        made = separable.broadcast(arg, shape)
        if made is not None:
            return made
        return _handle(np.broadcast_to(arg.data, (_lead(arg.data), *shape)), arg.dtype.scalar)

    def create_expand_dims(self, arg: TensorHandle, axis: int) -> TensorHandle:
        made = separable.expand_dims(arg, axis + 1 if axis >= 0 else axis)
        if made is not None:
            return made
        return _handle(np.expand_dims(arg.data, axis + 1 if axis >= 0 else axis), arg.dtype.scalar)

    def create_reshape(self, arg: TensorHandle, shape: list[int], allow_reorder: bool) -> TensorHandle:
        data = arg.data
        return _handle(data.reshape(_lead(data), *(list(shape) or [1])), arg.dtype.scalar)

    def create_trans(self, arg: TensorHandle, perm: list[int]) -> TensorHandle:
        made = separable.trans(arg, (0, *(p + 1 for p in perm)))
        if made is not None:
            return made
        return _handle(np.transpose(arg.data, (0, *(p + 1 for p in perm))), arg.dtype.scalar)

    def create_cat(self, lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        lead = max(_lead(lhs.data), _lead(rhs.data))
        parts = [np.broadcast_to(d, (lead, *d.shape[1:])) for d in (lhs.data, rhs.data)]
        return _handle(np.concatenate(parts, axis=1), lhs.dtype.scalar)

    def create_join(self, lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        a, b = np.broadcast_arrays(lhs.data, rhs.data)
        return _handle(np.stack([a, b], axis=-1), lhs.dtype.scalar)

    def create_gather(self, src: TensorHandle, indices: TensorHandle, axis: int) -> TensorHandle:
        lead = max(_lead(src.data), _lead(indices.data))
        data = np.broadcast_to(src.data, (lead, *src.data.shape[1:]))
        index = np.broadcast_to(indices.data, (lead, *indices.data.shape[1:]))
        return _handle(np.take_along_axis(data, index, axis=axis + 1), src.dtype.scalar)

    def create_histogram(self, data: TensorHandle, bins: int, mask: TensorHandle | None) -> TensorHandle:
        values = data.data.reshape(_lead(data.data), -1).astype(np.int64)
        valid = (values >= 0) & (values < bins)
        if mask is not None:
            valid &= np.broadcast_to(mask.data, data.data.shape).reshape(values.shape)
        rows = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
        counts = np.bincount((rows * bins + values)[valid], minlength=values.shape[0] * bins)
        return _handle(counts.reshape(values.shape[0], bins).astype(np.int32), tl.int32)

    # --- integer and address arithmetic, on separable parts where it can -------------------------

    def create_add(self, lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        made = separable.add(lhs, rhs)
        if made is not None:
            return made
        return separable.with_form(super().create_add(lhs, rhs), separable.sum_form(lhs, rhs))

    def create_sub(self, lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        made = separable.add(lhs, rhs, subtract=True)
        if made is not None:
            return made
        return separable.with_form(super().create_sub(lhs, rhs), separable.sum_form(lhs, rhs, subtract=True))

    def create_mul(self, lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        made = separable.multiply(lhs, rhs)
        if made is not None:
            return made
        return separable.with_form(super().create_mul(lhs, rhs), separable.product_form(lhs, rhs))

    def create_addptr(self, ptr: TensorHandle, offset: TensorHandle) -> TensorHandle:
        # int1's bitwidth is 1, but a pointer to it steps by bytes, as in Triton's interpreter
        size = max(1, ptr.get_element_ty().primitive_bitwidth // 8)
        made = separable.addptr(ptr, offset, size)
        if made is not None:
            return made
        return separable.with_form(super().create_addptr(ptr, offset), separable.pointer_form(ptr, offset, size))

    def create_int_cast(self, src: TensorHandle, dst_type: Any, is_signed: bool) -> TensorHandle:
        made = separable.cast(src, _np_dtype(dst_type.scalar), dst_type.scalar)
        return made if made is not None else super().create_int_cast(src, dst_type, is_signed)

    def create_fma(self, x: TensorHandle, y: TensorHandle, z: TensorHandle) -> TensorHandle:
        # Triton's fma hands broadcast views to C++, which reads them as dense.
        a, b, c = _common(x.data, y.data, z.data)
        return super().create_fma(_handle(a, x.dtype), _handle(b, y.dtype), _handle(c, z.dtype))  # type: ignore[no-any-return]

    # --- memory --------------------------------------------------------------------------------

    def _check(self, access: str, pointers: Addresses, mask: np.ndarray | None,
               item_type: Any, span: tuple[int, int] | None | Literal["unknown"] = "unknown") -> tuple[int, int] | None:
        """Check the access (bounds, the write journal); return its active lanes' lowest and highest address.

        ``pointers`` may be a function making them, called only if the span does not settle the check.
        """
        if span == "unknown":
            assert not callable(pointers)
            span = active_span(pointers, mask)
        size = max(1, int(item_type.primitive_bitwidth) // 8)
        if self._viewed and access != "load" and span is not None:
            low, high = span[0], span[1] + size
            if any(start < high and low < stop for start, stop in self._viewed) and (
                    self.still_read is None or self.still_read(low, high)):
                raise ViewConflict(f"a {access} reaches memory that a value of the chunk, loaded as a view, still shows")
        if self.before_access is not None:
            self.before_access(access, pointers, mask, size, span)
        return span

    def _separable_access(self, ptrs: TensorHandle, mask: TensorHandle) -> tuple[int, int] | None:
        """The address span of separable pointers whose every lane is active, or None."""
        if self.memory is None or not isinstance(ptrs, separable.SeparableHandle) or not _all_true(mask.data):
            return None
        return access.address_span(ptrs) if ptrs.split else None

    def create_load(self, ptr: TensorHandle, *rest: Any) -> TensorHandle:
        return self.create_masked_load(ptr, self._every_lane(ptr), None, *rest)

    def create_store(self, ptr: TensorHandle, value: TensorHandle, *rest: Any) -> None:
        self.create_masked_store(ptr, value, self._every_lane(ptr), *rest)

    @staticmethod
    def _every_lane(ptr: TensorHandle) -> TensorHandle:
        # One row for every program: Triton's all-ones mask like the pointers would make them dense.
        return _handle(np.broadcast_to(np.True_, (1, *separable.shape_of(ptr)[1:])), tl.int1)

    def create_masked_load(self, ptrs: TensorHandle, mask: TensorHandle, other: TensorHandle | None,
                           *rest: Any) -> TensorHandle:
        element = ptrs.get_element_ty()
        dtype = _np_dtype(element)
        reached = self._separable_access(ptrs, mask)
        if reached is not None:
            self._seen(ptrs.shape[1:])
            self._check("load", lambda: ptrs.data, None, element, reached)
            assert self.memory is not None
            loaded = self.memory.load_separable(ptrs, dtype, reached, copy=not self.view_loads)
            if loaded is not None:
                values, viewed = loaded
                if viewed:
                    self._viewed.append((reached[0], reached[1] + dtype.itemsize))
                return _handle(values, element)
        other_data = np.zeros((1,) * ptrs.data.ndim, dtype=dtype) if other is None else other.data
        pointers, active, fill = _common(ptrs.data, mask.data, other_data)
        self._seen(pointers.shape[1:])
        span = self._check("load", pointers, active, element)
        fill = fill.astype(dtype, copy=False)
        if self.memory is not None and span is not None:
            gathered = self.memory.load(pointers, active.astype(bool, copy=False), fill, dtype, span)
            if gathered is not None:
                return _handle(gathered, element)
        return _handle(triton_interpreter._interpreter.load(pointers, active, fill, dtype), element)

    def create_masked_store(self, ptrs: TensorHandle, value: TensorHandle, mask: TensorHandle, *rest: Any) -> None:
        reached = self._separable_access(ptrs, mask)
        if reached is not None:
            self._check("store", lambda: ptrs.data, None, ptrs.get_element_ty(), reached)
            assert self.memory is not None
            if self.memory.store_separable(ptrs, value.data, reached):
                return
        # Elements are written in C order, so where programs store to one address the
        # highest program id writes last, as when programs run in order.
        pointers, values, active = _common(ptrs.data, value.data, mask.data)
        span = self._check("store", pointers, active, ptrs.get_element_ty())
        if span is None:
            return  # every lane masked off
        if self.memory is not None and self.memory.store(pointers, values, active.astype(bool, copy=False), span):
            return
        triton_interpreter._interpreter.store(pointers, values, active)

    def create_atomic_rmw(self, op: Any, ptr: TensorHandle, val: TensorHandle, mask: TensorHandle,
                          sem: Any, scope: Any) -> TensorHandle:
        if op == ir.ATOMIC_OP.XCHG:
            raise Unbatchable("atomic_xchg (its result depends on the order programs run in)")
        # Every program performs the atomic, even where its operands are equal across programs.
        pointers, values, active = _common(ptr.data, val.data, mask.data, batch=self.batch)
        self._check("atomic", pointers, active, ptr.get_element_ty())
        return super().create_atomic_rmw(  # type: ignore[no-any-return]
            op, _handle(pointers, ptr.dtype), _handle(values, val.dtype), _handle(active, tl.int1), sem, scope
        )


def _all_true(mask: np.ndarray) -> bool:
    """Whether every lane of ``mask`` is set, read once per distinct element (broadcast axes once)."""
    compact = mask[tuple(slice(0, 1) if s == 0 else slice(None) for s in mask.strides)]
    return bool(compact.all())


#: Integer comparisons, and the NumPy function Triton's interpreter computes each with.
_INTEGER_COMPARISONS = {
    "create_icmpSLE": np.less_equal, "create_icmpSLT": np.less, "create_icmpSGE": np.greater_equal,
    "create_icmpSGT": np.greater, "create_icmpULE": np.less_equal, "create_icmpULT": np.less,
    "create_icmpUGE": np.greater_equal, "create_icmpUGT": np.greater, "create_icmpEQ": np.equal,
    "create_icmpNE": np.not_equal,
}


def _comparison(name: str, op: Callable[..., Any]) -> Callable[..., TensorHandle]:
    """An integer comparison decided from a separable operand's bounds where they decide it."""
    original = getattr(InterpreterBuilder, name)

    def compare(self: BatchedBuilder, lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        outcome = separable.decided(lhs, rhs, op)
        if outcome is not None:
            return _handle(outcome, lhs.dtype.scalar)
        return original(self, lhs, rhs)  # type: ignore[no-any-return]

    compare.__name__ = name
    return compare


for _name, _op in _INTEGER_COMPARISONS.items():
    setattr(BatchedBuilder, _name, _comparison(_name, _op))


def _constant(name: str) -> Callable[..., TensorHandle]:
    original = getattr(InterpreterBuilder, name)

    def make(self: BatchedBuilder, *args: Any) -> TensorHandle:
        made = original(self, *args)
        return _handle(made.data.reshape(1, -1), made.dtype)

    make.__name__ = name
    return make


def _refused(name: str) -> Callable[..., Any]:
    reason = ORDERED.get(name, f"{name.removeprefix('create_')} (not reviewed for batching)")

    def refuse(self: BatchedBuilder, *args: Any, **kwargs: Any) -> Any:
        raise Unbatchable(reason)

    refuse.__name__ = name
    return refuse


def _complete_builder() -> None:
    """Constants made with a program dimension; every operation not reviewed for batching refused."""
    for name in dir(InterpreterBuilder):
        if name in vars(BatchedBuilder):
            continue
        if name.startswith("get_") and not name.endswith("_ty") and name not in ("get_cache_policy",):
            setattr(BatchedBuilder, name, _constant(name))
        elif name.startswith("create_") and name not in ELEMENTWISE:
            setattr(BatchedBuilder, name, _refused(name))


_complete_builder()
