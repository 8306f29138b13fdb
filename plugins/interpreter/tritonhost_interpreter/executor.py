"""Running a kernel under Triton's interpreter, however it was decorated.

Triton's interpreter is chosen when a kernel is *decorated* with
``TRITON_INTERPRET=1`` set: the decorator then returns an ``InterpretedFunction``.
A kernel decorated without it is a ``JITFunction``, and so are the helper
functions it calls, which refuse to run outside a compiled kernel. While a
kernel runs here, the interpreter mode is switched on and helper calls are
routed to interpreted versions of the helpers. Beyond Triton's interpreter,
a Python float argument arrives as the fp32 scalar the compiled kernel sees,
libdevice functions run on NumPy (:mod:`tritonhost_interpreter.libdevice`), and
tensors' ``__index__`` is mended for Triton 3.6's interpreter under NumPy 2.

Triton's interpreter patches ``triton.language`` process-wide while it runs, so
launches are serialized by one lock, the one TTIR generation holds too
(``plugin_api.language_lock``): an analysis in another thread waits for the launch.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch
import triton.language as tl
from torch._subclasses.fake_tensor import FakeTensor
from triton import knobs
from triton.runtime import interpreter as triton_interpreter
from triton.runtime.interpreter import InterpretedFunction, TensorHandle
from triton.runtime.jit import JITFunction

from tritonhost.plugin_api import DeviceMismatchError, IdentityCache, language_lock, tensors_of
from tritonhost_interpreter import batching, bfloat16, bounds, progress, semantics
from tritonhost_interpreter.libdevice import Replacements

# One lock with TTIR generation: the analysis must not see this launch's patches.
_lock = language_lock
_device_functions: IdentityCache[InterpretedFunction] = IdentityCache()


def interpreted(kernel: Any) -> InterpretedFunction:
    """``kernel`` as an InterpretedFunction (itself, if it already is one)."""
    if isinstance(kernel, InterpretedFunction):
        return kernel
    return _device_functions.get_or_make(kernel, lambda jit: InterpretedFunction(jit.fn))


def _tensor_index(self: Any) -> int:
    # Triton 3.6's interpreter converts with int(array), which NumPy 2.x refuses for a
    # one-element array that is not 0-d: loops like `for k in range(0, K, BLOCK)` fail.
    return int(self.handle.data.reshape(-1)[0]) if self.handle.data.size == 1 else int(self.handle.data)


def _patch_tensor_methods(tensor: Any, scope: Any) -> None:
    _original_patch_tensor(tensor, scope)
    scope.set_attr(tensor, "__index__", _tensor_index)


_original_patch_tensor = triton_interpreter._patch_lang_tensor


def _call_helper(self: JITFunction, *args: Any, **kwargs: Any) -> Any:
    if _active is not None:
        _active.patch_globals(self.fn.__globals__)
    # Patch what the helper's module sees of triton.language (standard.py uses
    # `core`, not `tl`) for the call only: InterpretedFunction.__call__ would patch it
    # and never restore it, breaking every later compilation in this process.
    try:
        scope = triton_interpreter._patch_lang(self.fn)
    except AssertionError:  # a helper that uses nothing from triton.language
        scope = None
    try:
        return interpreted(self).rewrite()(*args, **kwargs)
    finally:
        if scope is not None:
            scope.restore()


# --- triton.language patched from a plan --------------------------------------------------------
# Triton's interpreter patches triton.language for every launch: it walks the modules with
# inspect.getmembers, wraps each builtin in a new lambda, and restores all afterwards,
# about 600 attributes and most of a small launch's fixed cost. What it sets depends on
# which language modules the kernel's globals hold and on the interpreter module's
# attributes it reads while patching (the builder and semantic objects, the reduce and scan
# classes, its patch helpers, which a batched attempt replaces): with those the same, the
# wrappers it makes behave the same. So the first top-level patch for each combination is
# recorded as a plan, and later launches set the plan's values. A patch made while another
# is active (a helper called from a kernel sees the language already patched, and patches
# differently) goes through Triton's own.

#: The interpreter module's attributes that Triton's ``_patch_lang`` reads (3.6 to 3.9).
_LANG_INPUTS = (
    "interpreter_builder",
    "interpreter_semantic",
    "ReduceOps",
    "ScanOps",
    "_patch_lang_tensor",
    "_patch_lang_core",
    "_patch_reduce_scan",
    "_patch_builtin",
    "_patch_attr",
)
#: Plans kept: one per combination met (per-program and batched launches, a few at most).
_PLANS_KEPT = 16

_lang_plans: dict[Any, tuple[tuple[Any, ...], list[tuple[Any, str, Any]]]] = {}
_lang_depth = 0


class _PlannedScope:
    """A language patch, restored as Triton's scope restores; counts the patches active."""

    def __init__(self, scope: Any) -> None:
        self._scope = scope

    def restore(self) -> None:
        global _lang_depth
        self._scope.restore()
        _lang_depth -= 1


def _planned_patch_lang(fn: Any) -> Any:
    """Triton's ``_patch_lang(fn)``, set from a plan where one was recorded (see above)."""
    global _lang_depth
    langs = tuple(sorted({id(value) for value in fn.__globals__.values() if value is tl or value is tl.core}))
    if _lang_depth or not langs:
        scope = _original_patch_lang(fn)  # nested, or no language module (Triton's assertion says so)
    else:
        inputs = tuple(getattr(triton_interpreter, name, None) for name in _LANG_INPUTS)
        key = (langs, tuple(map(id, inputs)))
        found = _lang_plans.get(key)
        # The plan holds its inputs, so their ids cannot be reused while it is kept; `is`
        # makes sure all the same.
        if found is not None and all(a is b for a, b in zip(found[0], inputs)):
            scope = triton_interpreter._LangPatchScope()
            for owner, name, value in found[1]:
                scope.set_attr(owner, name, value)
        else:
            scope = _original_patch_lang(fn)
            if len(_lang_plans) >= _PLANS_KEPT:
                _lang_plans.clear()
            _lang_plans[key] = (inputs, [(owner, name, getattr(owner, name)) for owner, name, _ in scope._changes])
    _lang_depth += 1
    return _PlannedScope(scope)


_original_patch_lang = triton_interpreter._patch_lang


class _Patches:
    """Attributes and dictionary entries replaced for one launch, put back afterwards."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._globals_seen: set[int] = set()

    def set_attr(self, owner: Any, name: str, value: Any) -> None:
        old = getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old))

    def set_instance_attr(self, owner: Any, name: str, value: Any) -> None:
        """Shadow a method on one object; undone by removing the shadow again."""
        had = name in vars(owner)
        old = vars(owner).get(name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old) if had else delattr(owner, name))

    def on_restore(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` when the patches are put back."""
        self._undo.append(undo)

    def set_item(self, mapping: dict[str, Any], key: str, value: Any) -> None:
        old = mapping[key]
        mapping[key] = value
        self._undo.append(lambda: mapping.__setitem__(key, old))

    def update(self, namespace: dict[str, Any], new: dict[str, Any], old: dict[str, Any]) -> None:
        namespace.update(new)
        self._undo.append(lambda: namespace.update(old))

    def patch_globals(self, namespace: dict[str, Any]) -> None:
        """Swap libdevice functions a kernel module imported by name for their interpreted versions."""
        if id(namespace) in self._globals_seen:
            return
        self._globals_seen.add(id(namespace))
        replacements = _libdevice()
        for key, value in list(namespace.items()):
            if callable(value):
                stand_in = replacements.stand_in(value)
                if stand_in is not None:
                    self.set_item(namespace, key, stand_in)

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


_active: _Patches | None = None
_loops = semantics.CompiledLoops()
_replacements: dict[int, list[tuple[Any, str, Callable[..., Any]]]] = {}
_REDUCE_OPS, _SCAN_OPS = triton_interpreter.ReduceOps, triton_interpreter.ScanOps


def _semantics(builder: Any) -> list[tuple[Any, str, Callable[..., Any]]]:
    """``(owner, name, replacement)`` for compiled Triton's semantics, made once per builder (semantics.py, bfloat16.py).

    Each builder's comparisons are wrapped first, so that the bf16 wrappers of the
    floating-point comparisons give int1 too. The reductions' replacements (methods of
    Triton's ReduceOps and ScanOps, which the batched ones inherit) come with Triton's
    own builder.
    """
    if id(builder) not in _replacements:
        comparisons = semantics.comparison_operations(builder)
        made = [(builder, name, operation) for name, operation in comparisons.items()]
        view = _Overlay(builder, comparisons)
        made += [(builder, name, operation) for name, operation in bfloat16.wrapped_operations(view).items()]
        if builder is triton_interpreter.interpreter_builder:
            made += bfloat16.wrapped_reductions(_REDUCE_OPS, _SCAN_OPS) + bfloat16.wrapped_atomics()
        _replacements[id(builder)] = made
    return _replacements[id(builder)]


class _Overlay:
    """The builder's attributes, some seen through replacements (to wrap wrappers)."""

    def __init__(self, builder: Any, over: dict[str, Any]) -> None:
        self._builder, self._over = builder, over

    def __getattr__(self, name: str) -> Any:
        return self._over[name] if name in self._over else getattr(self._builder, name)

_rewritten: dict[Callable[..., Any], Callable[..., Any]] = {}


@functools.cache
def _libdevice() -> Replacements:
    return Replacements()


@contextlib.contextmanager
def interpreting(
    fn: Callable[..., Any], kernel: str | None = None, grid: tuple[int, int, int] | None = None
) -> Iterator[progress.Progress | None]:
    """Interpreter mode for one launch of ``fn``: knobs set, helpers and libdevice routed, others waiting.

    With ``kernel`` (its name) given, every memory access of the launch is bounds-checked
    unless the environment turns checks off (:mod:`tritonhost_interpreter.bounds`); with
    its ``grid`` too, a slow launch shows its progress (:mod:`tritonhost_interpreter.progress`),
    and the progress is what the block receives (a batched run advances it itself).
    The batched builder gets compiled Triton's semantics too, ready for a batched attempt.
    """
    global _active, _bounds_kernel
    with _lock, knobs.runtime.scope():
        knobs.runtime.interpret = True
        patches = _Patches()
        _active = patches
        try:
            patches.set_attr(JITFunction, "__call__", _call_helper)
            patches.set_attr(triton_interpreter, "_patch_lang_tensor", _patch_tensor_methods)
            patches.set_attr(triton_interpreter, "_implicit_cvt", semantics.convert_argument)
            patches.set_attr(triton_interpreter, "_patch_lang", _planned_patch_lang)
            for module, originals, stand_ins in _libdevice().modules:
                patches.update(vars(module), stand_ins, originals)
            patches.patch_globals(fn.__globals__)
            # Compiled Triton's semantics where the interpreter departs from them (semantics.py,
            # bfloat16.py). Kernels rewritten for these launches are cached apart from those
            # Triton's own interpreter rewrites.
            patches.set_attr(triton_interpreter.FunctionRewriter, "ast_transformer", _loops)
            patches.set_attr(InterpretedFunction, "rewritten_fn", _rewritten)
            # The batched builder has them for good (below).
            builder = triton_interpreter.interpreter_builder
            for owner, name, replacement in _semantics(builder):
                if owner is builder:
                    patches.set_instance_attr(builder, name, replacement)
                else:
                    patches.set_attr(owner, name, replacement)
            if kernel is not None and bounds.enabled():
                _bounds_kernel = kernel
                _check_accesses(patches, builder)
            shown = None
            if kernel is not None and grid is not None:
                shown = progress.Progress(kernel, grid)
                _count_programs(patches, builder, shown)
                patches.on_restore(shown.close)
            yield shown
        finally:
            patches.restore()
            _active = None
            _bounds_kernel = None
            _checker.clear()


@contextlib.contextmanager
def replaying(kernel: str, grid: tuple[int, int, int]) -> Iterator[progress.Progress]:
    """What a batched launch replayed from its tape needs (:func:`batching.replay`): the interpreter's
    lock, and compiled Triton's semantics on the classes the batched builder shares with Triton's.

    A replay runs none of the kernel's Python and none of Triton's semantic layer, only the
    batched builder's operations, the reductions and scans, libdevice on NumPy and loop
    indices. So the rest of :func:`interpreting`'s patches (about 130 attributes, and
    Triton's language patch of about 200 more) are not made: they were two fifths of a small
    launch. The batched builder keeps its own semantics for good (below); the bf16 sums,
    scans and atomics are methods of Triton's classes, set here. The progress of a slow
    launch is what the block receives.
    """
    with _lock:
        patches = _Patches()
        try:
            builder = triton_interpreter.interpreter_builder
            for owner, name, replacement in _semantics(builder):
                if owner is not builder:
                    patches.set_attr(owner, name, replacement)
            shown = progress.Progress(kernel, grid)
            patches.on_restore(shown.close)
            yield shown
        finally:
            patches.restore()


def _keep_batched_semantics() -> None:
    # The batched builder is this backend's own, called by nothing else: compiled Triton's
    # semantics (int1 comparisons, bf16 arithmetic) stay on it rather than being set per launch.
    builder = batching.builder()
    for owner, name, replacement in _semantics(builder):
        assert owner is builder
        setattr(builder, name, replacement)


_keep_batched_semantics()


# --- bounds checks ------------------------------------------------------------------------------
# The launch's checker is made from the host arguments the interpreter hands the kernel (a
# pre-run hook: CUDA tensors are copies on the host by then), and consulted by the builder's
# memory operations, shadowed for the launch.

_bounds_kernel: str | None = None
_checker: list[bounds.BoundsChecker] = []


def add_bounds_hook(fn: InterpretedFunction) -> None:
    """Have launches of ``fn`` record their host arguments for the bounds checks (once per function)."""
    if _record_host_arguments not in fn.pre_run_hooks:
        fn.add_pre_run_hook(_record_host_arguments)


def only_bounds_hook(fn: InterpretedFunction) -> bool:
    """Whether ``fn`` has no pre-run hook but the bounds checks' (which a batched launch does not need)."""
    return all(hook is _record_host_arguments for hook in fn.pre_run_hooks)


def _record_host_arguments(*args: Any, **kwargs: Any) -> None:
    if _bounds_kernel is None:
        return
    params = {f"#{index}": value for index, value in enumerate(args)} | kwargs
    _checker[:] = [bounds.BoundsChecker(_bounds_kernel, tensors_of(params))]


def _item_size(pointers: TensorHandle) -> int:
    return max(1, int(pointers.get_element_ty().primitive_bitwidth) // 8)


def _check(access: str, pointers: TensorHandle, mask: TensorHandle | None, builder: Any) -> None:
    if _checker:
        _checker[0].check(access, pointers.data, None if mask is None else mask.data, _item_size(pointers), builder.grid_idx)


def _count_programs(patches: _Patches, builder: Any, shown: progress.Progress) -> None:
    set_grid_idx = builder.set_grid_idx

    def counted(*index: Any) -> None:  # the interpreter sets it before each program
        set_grid_idx(*index)
        shown.program_started()

    patches.set_instance_attr(builder, "set_grid_idx", counted)


def _check_accesses(patches: _Patches, builder: Any) -> None:
    load, store = builder.create_masked_load, builder.create_masked_store
    rmw, cas = builder.create_atomic_rmw, builder.create_atomic_cas

    def checked_load(ptrs: TensorHandle, mask: TensorHandle, *rest: Any, **options: Any) -> Any:
        _check("load", ptrs, mask, builder)
        return load(ptrs, mask, *rest, **options)

    def checked_store(ptrs: TensorHandle, value: TensorHandle, mask: TensorHandle, *rest: Any, **options: Any) -> Any:
        _check("store", ptrs, mask, builder)
        return store(ptrs, value, mask, *rest, **options)

    def checked_rmw(op: Any, ptr: TensorHandle, value: TensorHandle, mask: TensorHandle, *rest: Any, **options: Any) -> Any:
        _check("atomic", ptr, mask, builder)
        return rmw(op, ptr, value, mask, *rest, **options)

    def checked_cas(ptr: TensorHandle, *rest: Any, **options: Any) -> Any:
        _check("atomic compare-and-swap", ptr, None, builder)
        return cas(ptr, *rest, **options)

    patches.set_instance_attr(builder, "create_masked_load", checked_load)
    patches.set_instance_attr(builder, "create_masked_store", checked_store)
    patches.set_instance_attr(builder, "create_atomic_rmw", checked_rmw)
    patches.set_instance_attr(builder, "create_atomic_cas", checked_cas)


def check_tensors(params: dict[str, Any], backend: str) -> None:
    """Reject tensors the interpreter cannot read: meta and fake tensors, and devices it cannot copy from."""
    for name, tensor in tensors_of(params):
        device = tensor.device.type
        if device == "meta" or _is_fake(tensor):
            kind = "a meta tensor" if device == "meta" else "a fake tensor"
            raise DeviceMismatchError(
                f"argument {name!r} is {kind}: it has no data for backend {backend!r} to run on. "
                "Pass a real tensor, or trace the launch so that it runs on real inputs later."
            )
        if device not in ("cpu", "cuda"):
            raise DeviceMismatchError(
                f"argument {name!r} is a tensor on {tensor.device}; backend {backend!r} runs kernels on CPU "
                "tensors (and CUDA tensors, copied to the host and back). Move it with .cpu()."
            )


def _is_fake(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, FakeTensor)
