"""``tritonhost.analyze``: which tensor arguments a kernel launch writes and reads.

The answer comes from the kernel's TTIR, generated for an explicit target with
no GPU needed, and walked by :mod:`tritonhost.analysis.dataflow`. It is exact
unless something in the TTIR defeats the walk (impure inline assembly, a store
through a pointer loaded from memory, an operation it does not know); then
every tensor argument is reported written and read, ``exact`` is False,
``reason`` says why, and one warning is logged.

Results are cached in memory by kernel source, argument types, constexpr values
and target, and exact ones on disk too (persistent.py). No runtime value is
specialized, so a cached result is sound for every launch that shares those.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from triton.backends.compiler import GPUTarget
from triton.compiler.errors import CompilationError

from tritonhost.analysis import persistent
from tritonhost.analysis.dataflow import analyze_module
from tritonhost.analysis.specialization import Specialization, ir_arguments, specialize, tensor_arguments
from tritonhost.analysis.ttir import parse
from tritonhost.compat.frontend import format_target, parse_target
from tritonhost.errors import AnalysisError, KernelArgumentError, TritonhostError
from tritonhost.host import discovery
from tritonhost.host.selection import requested_backend, select
from tritonhost.kernel.binding import Binder
from tritonhost.kernel.decorators import DecoratedKernel, launch_variants, read_decorators
from tritonhost.kernel.global_values import globals_key
from tritonhost.kernel.identity import IdentityCache

log = logging.getLogger(__name__)


@attrs.frozen
class Analysis:
    """The tensor arguments one kernel launch writes and reads.

    ``written`` and ``read`` name tensor parameters (tensors and host TMA
    descriptors; scalars never appear) in signature order. ``exact`` is False
    when the analysis fell back; then both hold every tensor argument and
    ``reason`` says which operation or error forced it.
    """

    kernel: str
    written: tuple[str, ...]
    read: tuple[str, ...]
    exact: bool
    reason: str = ""
    target: str = ""
    #: The TTIR of each analysed variant (one per autotune config), for inspection.
    ttir: tuple[str, ...] = attrs.field(default=(), repr=False)


@attrs.frozen
class _Variant:
    written: frozenset[str]
    read: frozenset[str]
    reason: str
    ttir: str


_results: dict[tuple[Any, ...], _Variant] = {}
_results_lock = threading.Lock()
_binders: IdentityCache[Binder] = IdentityCache()
_warned: set[tuple[str, str]] = set()


def analyze(kernel: Any, *args: Any, **kwargs: Any) -> Analysis:
    """Which tensor arguments ``kernel[grid](*args, **kwargs)`` would write and read.

    Takes the same arguments as a launch (launch options such as ``num_warps``
    are accepted and ignored); tensors may be real, fake or meta, sizes may be
    SymInts. Analyses for the selected backend's target (see
    :func:`analyze_call` to name one). A wrong argument count raises
    :class:`tritonhost.KernelArgumentError`.
    """
    return analyze_call(kernel, args, kwargs)


def analyze_call(
    kernel: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    target: GPUTarget | str | None = None,
) -> Analysis:
    """:func:`analyze` with an explicit ``target`` (a GPUTarget, ``"cuda:90"`` or ``"hip:gfx942"``)."""
    decorated = read_decorators(kernel)
    binder = _binders.get_or_make(kernel, lambda _: Binder(decorated, discovery.registry().launch_options()))
    params, _ = binder.bind(args, dict(kwargs))
    tensors = tuple(tensor_arguments(decorated.arg_names, params))
    hooks = _backend_hooks()
    if isinstance(target, str):
        target = parse_target(target)
    if target is None:
        target = hooks.target()
    variants = []
    try:
        source = _source_key(decorated)  # once: the globals walk is the same for every variant
        for variant_params in _variants(decorated, params):
            variants.append(_analyze_variant(decorated, variant_params, target, hooks, source))
    except (KernelArgumentError, AnalysisError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure falls back to the safe answer
        reason = _describe(exc)
        variants = [_Variant(frozenset(tensors), frozenset(tensors), reason, "")]
    if len(variants) == 1:
        (variant,) = variants
        written, read, reason = variant.written, variant.read, variant.reason
    else:
        written = frozenset().union(*(v.written for v in variants))
        read = frozenset().union(*(v.read for v in variants))
        reason = "; ".join(sorted({v.reason for v in variants if v.reason}))
    if reason:
        written = read = frozenset(tensors)
        _warn_once(decorated.name, reason)
    return Analysis(
        kernel=decorated.name,
        written=tuple(n for n in tensors if n in written),
        read=tuple(n for n in tensors if n in read),
        exact=not reason,
        reason=reason,
        target=format_target(target),
        ttir=tuple(v.ttir for v in variants),
    )


class _BackendHooks:
    """The analysis hooks of the installed backends, the selected one first, resolved once per selection.

    Hook dispatch through pluggy is slow, and an analysis asks these hooks for every
    variant it does not find in the cache.
    """

    def __init__(self, registry: discovery.Registry, selected: str | None) -> None:
        loaded = [status.name for status in registry.statuses if status.info is not None]
        if selected is not None:
            loaded = [selected, *[name for name in loaded if name != selected]]
        self.backends = tuple(loaded)
        self.registry = registry
        self._specialize = registry.implementation(self.backends[0], "tritonhost_specialize_args") if loaded else None
        self._target: GPUTarget | None = None

    def target(self) -> GPUTarget:
        if self._target is None:
            hook = self.registry.manager.hook
            for name in self.backends:
                found = hook.tritonhost_analysis_target(backend=name)
                if found is not None:
                    self._target = found
                    break
            else:
                raise AnalysisError(
                    "no installed backend names an analysis target; pass one, such as target='cuda:90'"
                )
        return self._target

    def specialize(self, decorated: DecoratedKernel, params: dict[str, Any]) -> Specialization:
        if self._specialize is not None:
            found = self._specialize(backend=self.backends[0], kernel=decorated.jit, args=params)
            if found is not None:
                return found  # type: ignore[no-any-return]
        return specialize(decorated.arg_names, decorated.constexprs, params)

    def generate(self, decorated: DecoratedKernel, specialization: Specialization, target: GPUTarget) -> str:
        hook = self.registry.manager.hook
        for name in self.backends:
            ttir = hook.tritonhost_generate_ttir(
                backend=name, kernel=decorated.jit, specialization=specialization, target=target
            )
            if ttir is not None:
                return str(ttir)
        raise AnalysisError(
            f"no installed backend generates TTIR for target {format_target(target)} "
            f"(asked: {', '.join(self.backends) or 'none installed'})"
        )


_hooks_by_selection: dict[tuple[int, str], _BackendHooks] = {}


def _backend_hooks() -> _BackendHooks:
    registry = discovery.registry()
    requested = requested_backend()
    key = (id(registry), requested)
    hooks = _hooks_by_selection.get(key)
    if hooks is not None and hooks.registry is not registry:  # a new registry reusing a freed one's id
        hooks = None
    if hooks is None:
        try:
            selected: str | None = select().name
        except TritonhostError:
            selected = None
        if len(_hooks_by_selection) > 16:
            _hooks_by_selection.clear()
        hooks = _hooks_by_selection[key] = _BackendHooks(registry, selected)
    return hooks


def front_end_error(decorated: DecoratedKernel, params: Mapping[str, Any]) -> str | None:
    """Why Triton's front end refuses ``decorated`` with ``params`` (a failing ``tl.static_assert``...), or None.

    For the autotuner on backends that compile nothing (the interpreter): a config
    the front end refuses would fail on a GPU before running, and is skipped as
    there. Anything else that keeps the TTIR from being made (no backend makes TTIR
    for the target, a parameter left unset) is no verdict on the config: None.
    """
    if any(name not in params for name in decorated.arg_names):
        return None
    try:
        hooks = _backend_hooks()
        target = hooks.target()
        hooks.generate(decorated, hooks.specialize(decorated, dict(params)), target)
    except CompilationError as exc:
        # Triton's message: "at LINE:COL:", the source, a caret, then what failed.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        where = f" ({lines[0].rstrip(':')} of {decorated.name})" if lines and lines[0].startswith("at ") else ""
        return f"{type(exc).__name__}{where}: {lines[-1] if lines else ''}"
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    return None


def clear_cache() -> None:
    """Forget every cached analysis result."""
    with _results_lock:
        _results.clear()


def _variants(decorated: DecoratedKernel, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The parameter sets a launch may run with: one per autotune config, heuristics applied."""
    for _, variant in launch_variants(decorated, params):
        missing = [name for name in decorated.arg_names if name not in variant]
        if missing:
            raise KernelArgumentError(
                f"kernel {decorated.name}() is missing {', '.join(map(repr, missing))}: no autotune config "
                "or heuristic sets it and the call did not pass it."
            )
        yield variant


def _source_key(decorated: DecoratedKernel) -> Any:
    """The kernel's code as it would compile now: Triton's hash, and the globals it reads now."""
    try:
        source = decorated.jit.cache_key  # Triton's hash of the source and everything it calls
    except Exception:  # noqa: BLE001 - InterpretedFunction, or a source Triton cannot hash
        source = ("identity", id(decorated.jit))
    # Triton's hash is computed once; a global constexpr or helper rebound since would not
    # change it (global_values.py).
    return source, globals_key(decorated.jit)


def _analyze_variant(
    decorated: DecoratedKernel, params: dict[str, Any], target: GPUTarget, hooks: _BackendHooks, source: Any
) -> _Variant:
    specialization = hooks.specialize(decorated, params)
    key = (source, specialization.key, target.backend, target.arch, target.warp_size)
    cached = _results.get(key)
    if cached is not None:
        return cached
    tensors = tensor_arguments(decorated.arg_names, params)
    disk = persistent.current()
    disk_key = None if disk is None else persistent.key_of(decorated, specialization, target, hooks.registry)
    found = None if disk is None or disk_key is None else persistent.lookup(disk, disk_key)
    if found is not None and found[0].union(found[1]).issubset(tensors):
        result = _Variant(found[0], found[1], "", "")
    else:
        try:
            ttir = hooks.generate(decorated, specialization, target)
            result = _walk(ttir, specialization, tensors)
        except (AnalysisError, KernelArgumentError):
            raise
        except Exception as exc:  # noqa: BLE001 - reported as the reason of an inexact answer
            result = _Variant(frozenset(tensors), frozenset(tensors), _describe(exc), "")
        if disk is not None and disk_key is not None and not result.reason:
            persistent.store(disk, disk_key, decorated.name, result.written, result.read)
    with _results_lock:
        _results[key] = result
    return result


def _walk(ttir: str, specialization: Specialization, tensors: list[str]) -> _Variant:
    module = parse(ttir)
    kernel = module.kernel
    # The kernel function's arguments are the parameters' parts in order (none for a
    # constexpr; a tuple's elements; a descriptor's handle, sizes and strides), so they are
    # matched by position. Triton's name locations are no guide: after `b_ptr = a_ptr`,
    # Triton 3.9 names the argument of a_ptr "b_ptr".
    expected = [part for name, ty in specialization.signature for part in ir_arguments(name, ty)]
    if len(expected) != len(kernel.params):
        raise ValueError(
            f"the TTIR of {kernel.name} has {len(kernel.params)} arguments where its parameters' types give "
            f"{len(expected)}"
        )
    owners = {}
    for value, printed, ir_type, (owner, kind) in zip(kernel.params, kernel.param_names, kernel.param_types, expected):
        prefix = {"pointer": "!tt.ptr", "descriptor": "!tt.tensordesc"}.get(kind)
        if prefix is not None and not ir_type.startswith(prefix):
            raise ValueError(f"TTIR argument %{printed} has type {ir_type}, where {owner!r} gives a {kind}")
        if owner is not None and owner in tensors:
            owners[value] = owner
    effects = analyze_module(module, owners, tensors)
    reason = "; ".join(effects.unknown)
    return _Variant(frozenset(effects.written), frozenset(effects.read), reason, ttir)


def _describe(exc: BaseException) -> str:
    """An exception as a one-paragraph reason, with the causes Triton wraps it around."""
    parts = [f"{type(exc).__name__}: {str(exc).strip()}"]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        parts.append(f"caused by {type(cause).__name__}: {str(cause).strip()[:200]}")
        cause = cause.__cause__ or cause.__context__
    return "; ".join(parts)


def _warn_once(kernel: str, reason: str) -> None:
    if (kernel, reason) not in _warned:
        _warned.add((kernel, reason))
        log.warning(
            "tritonhost: the analysis of kernel %s is not exact (%s); every tensor argument is taken as "
            "written and read",
            kernel,
            reason,
        )
