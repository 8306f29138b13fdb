"""Running a launch's programs as batches, and deciding when it must run program by program instead.

The launch's grid is cut into chunks of programs in launch order, and the kernel's
Python runs once per chunk on :class:`~tritonhost_interpreter.batched.BatchedBuilder`
(the first chunk is small, unless an earlier launch of the kernel's specialization
told the size of its blocks; later ones are sized so that a value holds about
:data:`CHUNK_ELEMENTS` elements). A launch runs program by program, as Triton's
interpreter runs it, when:

1. ``TRITONHOST_INTERPRETER_BATCH=0`` asks for it;
2. the kernel's Python takes a branch, a loop bound or an index from a scalar that
   differs between programs (:class:`~tritonhost_interpreter.batched.Divergence`);
3. it performs an operation whose meaning depends on programs running one at a time:
   ``atomic_cas``, ``atomic_xchg``, ``tl.debug_barrier``, ``device_print``, inline
   assembly, or an operation not reviewed for batching (tensor descriptors, block
   pointers...) (:class:`~tritonhost_interpreter.batched.Unbatchable`);
4. the batched attempt raises anything else (an out-of-bounds access, a failed
   ``device_assert``): the launch runs again program by program, so that the error, the
   program it names and the memory written before it are exactly those of that path.

In every case the memory the attempt wrote is put back first
(:mod:`tritonhost_interpreter.snapshot`), the reason goes to the ``tritonhost.interpreter``
logger at DEBUG, and for 2 and 3 the kernel's specialization is remembered, so its later
launches go straight to the per-program path.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import triton.language as tl
from triton.language.semantic import TritonSemantic
from triton.runtime import interpreter as triton_interpreter
from triton.runtime.interpreter import GridExecutor, InterpretedFunction, TensorHandle

from tritonhost.plugin_api import OutOfBoundsError, globals_key, tensors_of
from tritonhost_interpreter import bounds, recording, semantics, separable, tape
from tritonhost_interpreter.affine import Form
from tritonhost_interpreter.batched import Addresses, BatchedBuilder, Divergence, Unbatchable
from tritonhost_interpreter.batched_python import lift, patch_tensor_methods, tensor_loop
from tritonhost_interpreter.batched_reductions import BatchedReduceOps, BatchedScanOps
from tritonhost_interpreter.memory import ArgumentMemory, argument_spans
from tritonhost_interpreter.progress import Progress
from tritonhost_interpreter.snapshot import WriteJournal

log = logging.getLogger("tritonhost.interpreter")

#: Set to 0 to run every launch program by program, as Triton's interpreter does.
BATCH_ENV = "TRITONHOST_INTERPRETER_BATCH"
#: Programs in a launch's first chunk, before the size of its blocks is known.
FIRST_CHUNK = 64
#: Later chunks hold about this many elements in their largest per-program block times programs.
CHUNK_ELEMENTS = 1 << 21


def enabled() -> bool:
    """Whether launches run their programs as batches (the default)."""
    return os.environ.get(BATCH_ENV, "1").strip() not in ("0", "false", "no", "off")


class Fallback(Exception):
    """The batched attempt was abandoned and its writes put back; run the launch program by program."""

    def __init__(self, reason: str, remember: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remember = remember


def constexpr_names(fn: InterpretedFunction) -> frozenset[str]:
    """The kernel's constexpr parameters, as Triton's interpreter finds them."""
    return frozenset(GridExecutor(fn.fn, fn.arg_names, (1, 1, 1)).constexprs)


def specialization_key(constexprs: frozenset[str], params: dict[str, Any]) -> tuple[Any, ...]:
    """What decides whether a kernel diverges, as far as it can be known before it runs.

    Constexprs by value; tensors by dtype; integers as Triton specializes them (equal to
    1, divisible by 16). Divergence that depends on other integer values or on data is
    remembered under the same key, which errs towards the per-program path.
    """
    key: list[Any] = []
    for name, value in sorted(params.items()):
        if name in constexprs:
            key.append((name, repr(value)))
        elif isinstance(value, torch.Tensor):
            key.append((name, str(value.dtype)))
        elif isinstance(value, bool) or not isinstance(value, int):
            key.append((name, type(value).__name__))
        else:
            key.append((name, value == 1, value % 16 == 0))
    return tuple(key)


def run(fn: InterpretedFunction, grid: tuple[int, int, int], params: dict[str, Any], kernel: str,
        progress: Progress | None, peak: int | None = None, key: tuple[Any, ...] | None = None,
        tapes: tape.Tapes | None = None) -> int:
    """Run one launch as batches of programs, or raise :class:`Fallback` with its writes put back.

    ``peak`` is the largest per-program block (in elements) of an earlier launch of the same
    specialization, if known: then the first chunk is sized from it, rather than made small
    to learn it. With ``tapes`` (kept by the caller across launches) and the launch's
    :func:`specialization_key` ``key``, chunks replay the specialization's recorded
    operations (:mod:`tritonhost_interpreter.tape`) where one is kept, and the first chunk
    records one where none is. Returns this launch's peak.
    """
    rewritten = fn.rewrite()
    executor = GridExecutor(rewritten, fn.arg_names, grid, fn.pre_run_hooks)
    spec = inspect.getfullargspec(rewritten)
    accepted = set(spec.args) | set(spec.kwonlyargs)
    kwargs = {name: value for name, value in params.items() if name in accepted}
    _, host = executor._init_args_hst((), kwargs)
    for hook in fn.pre_run_hooks:
        hook(**host)
    tensors = list(tensors_of(host))  # on a GPU machine these are the host copies
    builder = _builder
    journal = _attach(builder, kernel, tensors)
    mismatch: tape.Mismatch | None = None
    try:
        with _batched_language(builder):
            scope = triton_interpreter._patch_lang(rewritten)
            try:
                args = inspect.getcallargs(rewritten, **host)
                args = {name: value if name in executor.constexprs else lift(triton_interpreter._implicit_cvt(value))
                        for name, value in args.items()}
                builder.set_grid_dim(*grid)
                chunk = _chunk_runner(rewritten, builder, args, fn, key, tapes)
                for start, stop in _chunks(grid, builder, chunk, peak):
                    if progress is not None:
                        progress.advance(stop - start)
                    peak = max(peak or 1, builder.peak_elements)
            finally:
                scope.restore()
    except KeyboardInterrupt:
        journal.restore()
        raise
    except tape.Mismatch as error:
        journal.restore()
        mismatch = error
    except Exception as error:
        journal.restore()
        raise _fallback(error) from error
    finally:
        builder.before_access = None
        builder.memory = None
    if mismatch is not None:
        # A guard read another value than when recorded: this launch's Python decides
        # otherwise. Run it again with its Python; it records anew, a few times at most.
        assert tapes is not None and key is not None
        log.debug("kernel %s: replay stopped (%s); running its Python", kernel, mismatch)
        if progress is not None:
            progress.restart()
        return run(fn, grid, params, kernel, progress, peak, key, tapes)
    if any(t.device.type != "cpu" for _, t in tensors_of(params)):
        executor._restore_args_dev((), (), kwargs, host)
    return peak or 1


class Signature:
    """A kernel's parameters as a launch binds them, read once: names in order, defaults, constexprs."""

    def __init__(self, fn: InterpretedFunction) -> None:
        parameters = inspect.signature(fn.fn).parameters.values()
        self.names = tuple(p.name for p in parameters)
        self.defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
        self.constexprs = constexpr_names(fn)
        #: Only plain parameters bind by name alone (no ``*args``, ``**kwargs``, positional-only).
        self.plain = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters)

    def bind(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The converted arguments, as :func:`run` makes them; None for any argument a replay leaves
        to :func:`run` (a GPU tensor, a tuple, a descriptor...), or a missing one (run names it)."""
        if not self.plain:
            return None
        args: dict[str, Any] = {}
        for name in self.names:
            value = params[name] if name in params else self.defaults.get(name, _MISSING)
            if name in self.constexprs:
                args[name] = value
            elif isinstance(value, torch.Tensor):
                if value.device.type != "cpu":
                    return None
                args[name] = _pointer(value)
            elif value is None or isinstance(value, (bool, int, float)):
                args[name] = lift(semantics.convert_argument(value))
            else:
                return None
        return args


_MISSING = object()
#: The pointer type of a tensor argument, by its dtype (what Triton's conversion gives it).
_POINTER_TYPES: dict[torch.dtype, Any] = {}


def _pointer(tensor: torch.Tensor) -> tl.core.tensor:
    """``lift(semantics.convert_argument(tensor))`` for a CPU tensor, with its type found once per dtype."""
    pointer_type = _POINTER_TYPES.get(tensor.dtype)
    if pointer_type is None:
        converted = lift(semantics.convert_argument(tensor))
        _POINTER_TYPES[tensor.dtype] = converted.type
        return converted
    address = tensor.data_ptr()
    handle = TensorHandle(np.array([[address]], dtype=np.uint64), pointer_type)
    separable.with_form(handle, Form.constant(address, (1, 1)))
    return tl.core.tensor(handle, pointer_type)


def replay(fn: InterpretedFunction, grid: tuple[int, int, int], params: dict[str, Any], kernel: str,
           progress: Progress, peak: int | None, key: tuple[Any, ...], tapes: tape.Tapes,
           signature: Signature) -> int | None:
    """Run one launch by replaying its specialization's kept tape, with none of the kernel's Python.

    For the launch :func:`run` would replay anyway, without what only the kernel's Python
    and Triton's semantic layer need: the rewritten source, Triton's argument handling, its
    language patch. The caller holds :func:`tritonhost_interpreter.executor.replaying`. Bounds
    checks, the write journal and the builder's operations are those of :func:`run`.

    Returns this launch's peak, or None where it did not run: no tape kept for the launch,
    a tape whose operations run the kernel's Python (a reduction's combine function), an
    argument :meth:`Signature.bind` leaves to :func:`run`; or the replay stopped (a guard read
    otherwise; an error, which :func:`run` then meets and reports from the per-program path).
    When it stops, what it wrote is put back first.
    """
    if not tape.enabled():
        return None
    args = signature.bind(params)
    if args is None:
        return None
    found = tape_key(key, fn, args)
    kept = tapes.find(found)
    if not isinstance(kept, tape.Tape) or not kept.standalone:
        return None
    builder = _builder
    journal = _attach(builder, kernel, list(tensors_of(params)))
    try:
        builder.set_grid_dim(*grid)
        for start, stop in _chunks(grid, builder, functools.partial(kept.replay, builder, args), peak):
            progress.advance(stop - start)
            peak = max(peak or 1, builder.peak_elements)
    except tape.Mismatch as mismatch:
        journal.restore()
        if not isinstance(mismatch, tape.ViewConflict):  # the tape itself still holds
            tapes.stopped(found)
        log.debug("kernel %s: replay stopped (%s); running its Python", kernel, mismatch)
        progress.restart()
        return None
    except BaseException as error:
        journal.restore()
        if not isinstance(error, Exception):
            raise  # KeyboardInterrupt
        log.debug("kernel %s: replay raised %s; running the launch again with its Python", kernel,
                  type(error).__name__)
        progress.restart()
        return None
    finally:
        builder.before_access = None
        builder.memory = None
    return peak or 1


def tape_key(key: tuple[Any, ...], fn: InterpretedFunction, args: dict[str, Any]) -> tuple[Any, ...]:
    """What a tape is kept under: the specialization key, the converted arguments' types, the globals read."""
    types = tuple((name, str(value.type)) if isinstance(value, tl.core.tensor) else (name, type(value).__name__)
                  for name, value in sorted(args.items(), key=lambda item: item[0]))
    return key, types, globals_key(fn)


def _chunk_runner(kernel: Any, builder: BatchedBuilder, args: dict[str, Any], fn: InterpretedFunction,
                  key: tuple[Any, ...] | None, tapes: tape.Tapes | None) -> Callable[[], None]:
    """What runs one chunk: a replay of the kept tape, a recording, or the kernel's Python."""
    if tapes is None or key is None or not tape.enabled():
        return lambda: kernel(**args)
    found = tape_key(key, fn, args)
    kept = tapes.find(found)

    def chunk() -> None:
        nonlocal kept
        if isinstance(kept, tape.Tape):
            try:
                kept.replay(builder, args)
            except tape.Mismatch as mismatch:
                if not isinstance(mismatch, tape.ViewConflict):
                    tapes.stopped(found)
                raise
        elif kept is tape.RECORD:
            with recording.Recorder(builder, args) as recorder:
                kernel(**args)
            kept = tapes.keep(found, recorder.tape())
            if kept is None:
                log.debug("kernel %s runs its Python for every chunk: %s", fn.fn.__name__,
                          recorder.poisoned or "its replays kept stopping at a guard")
        else:
            kernel(**args)

    return chunk


def _chunks(grid: tuple[int, int, int], builder: BatchedBuilder, chunk: Callable[[], None],
            peak: int | None = None) -> Iterator[tuple[int, int]]:
    """Run the kernel over consecutive chunks of the grid, yielding each chunk once it has run."""
    total = grid[0] * grid[1] * grid[2]
    start, size = 0, min(total, FIRST_CHUNK if peak is None else max(1, CHUNK_ELEMENTS // peak))
    while start < total:
        stop = min(total, start + size)
        builder.set_programs(start, stop)
        chunk()
        yield start, stop
        start = stop
        size = max(1, CHUNK_ELEMENTS // max(1, builder.peak_elements))


def _fallback(error: BaseException) -> Fallback:
    cause = _find(error)
    if isinstance(cause, (Divergence, Unbatchable)):
        return Fallback(str(cause), remember=True)
    if isinstance(cause, OutOfBoundsError):
        return Fallback("an out-of-bounds access: the per-program path names the program", remember=False)
    return Fallback(f"{type(cause).__name__}: {cause}", remember=False)


def _find(error: BaseException) -> BaseException:
    """Our own exception inside the chain Triton's wrappers (InterpreterError) put around it."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (Divergence, Unbatchable, OutOfBoundsError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return error


def _attach(builder: BatchedBuilder, kernel: str, tensors: list[tuple[str, torch.Tensor]]) -> WriteJournal:
    """Give ``builder`` the launch's argument memory and bounds checks; returns the launch's write journal."""
    extents = bounds.extents_of(tensors)
    spans = argument_spans(tensors, extents)
    journal = WriteJournal(spans)
    checker = bounds.BoundsChecker(kernel, tensors, extents) if bounds.enabled() else None
    builder.before_access = _access_hook(builder, journal, checker)
    builder.memory = ArgumentMemory(spans)
    return journal


def _access_hook(builder: BatchedBuilder, journal: WriteJournal, checker: bounds.BoundsChecker | None) -> Any:
    def before(access: str, pointers: Addresses, mask: np.ndarray | None, item_size: int,
               span: tuple[int, int] | None) -> None:
        if checker is not None:
            # The program named is the chunk's first; the per-program rerun names the exact one.
            checker.check(access, pointers, mask, item_size, builder.first_program(), span)
        if access != "load":
            journal.before_write(pointers, mask, item_size, span)

    return before


class _batched_language:
    """For the attempt: the batched builder under Triton's semantic layer, with batched reductions,
    scans, loop indices and truth values. Entered after the launch's other patches, left before
    a per-program rerun."""

    def __init__(self, builder: BatchedBuilder) -> None:
        self.builder = builder
        self._undo: list[tuple[Any, str, Any]] = []

    def _set(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def __enter__(self) -> None:
        try:
            semantic = triton_interpreter.interpreter_semantic
            self._set(semantic, "builder", self.builder)
            # Triton 3.6 makes its semantic objects from this module attribute on each patch.
            self._set(triton_interpreter, "interpreter_builder", self.builder)
            self._set(triton_interpreter, "ReduceOps", BatchedReduceOps)
            self._set(triton_interpreter, "ScanOps", BatchedScanOps)
            self._set(triton_interpreter, "_patch_lang_tensor",
                      patch_tensor_methods(triton_interpreter._patch_lang_tensor))
            self._set(semantics, "tensor_loop", tensor_loop)
            self._set(TritonSemantic, "binary_op_sanitize_overflow_impl",
                      _unused_overflow_check_skipped(TritonSemantic.binary_op_sanitize_overflow_impl, self.builder))
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        while self._undo:
            owner, name, value = self._undo.pop()
            setattr(owner, name, value)


def _unused_overflow_check_skipped(original: Callable[..., Any], builder: BatchedBuilder) -> Callable[..., Any]:
    """Triton's integer overflow check, skipped on ``builder`` where its result would be dropped.

    Triton's semantic layer checks every 32-bit integer add, sub and mul for overflow: it
    casts both operands to int64, redoes the operation, compares with the bounds and hands
    the result to ``device_assert``, which drops it unless the builder's options ask for
    debugging. An interpreter builder's never do (Triton's ``InterpreterOptions`` default),
    so on a batch of 4,096 programs the check was a sixth of a launch's time for nothing.
    With debugging on, and on any other builder (a compile in another thread while the
    class is patched), the check runs as Triton wrote it.
    """

    def check(semantic: TritonSemantic, lhs: Any, rhs: Any, binary_op: Any) -> None:
        if semantic.builder is builder and not builder.options.debug:
            return
        original(semantic, lhs, rhs, binary_op)

    return check


_builder = BatchedBuilder()


def builder() -> BatchedBuilder:
    """The one batched builder (launches are serialized by the interpreter's lock)."""
    return _builder
