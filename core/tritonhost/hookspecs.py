"""Hook specifications: the contract between the tritonhost host and its backends.

A backend is a plugin object published under the entry-point group
``tritonhost.backends``: a module of plain functions decorated with
:data:`tritonhost.hookimpl` (by convention ``<package>/plugin.py``), or an
instance of :class:`tritonhost.plugin_api.BackendPlugin`, whose methods
implement these hooks for one backend name. The host loads every plugin into
one :class:`pluggy.PluginManager` (see :mod:`tritonhost.host.discovery`).

Each plugin implements one backend. Hooks that only the selected backend should
answer take a ``backend`` argument first: an implementation returns None unless
``backend`` is its own name, and the first non-None result wins
(``firstresult=True``), the way pytest's collectors pass on files that are not
theirs.

The host calls the per-backend hooks once per kernel or per event (a launcher is
made once per kernel and then called directly), never on every launch.

This module imports only the ground floor (:mod:`tritonhost.contract`,
:mod:`tritonhost.markers`): it is what a vendor codes against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tritonhost.contract import BackendInfo, CodeObject, Launcher, Specialization, TMADescriptorSpec
from tritonhost.markers import hookspec

if TYPE_CHECKING:
    import torch
    from triton.backends.compiler import GPUTarget


@hookspec
def tritonhost_describe_backend() -> BackendInfo:
    """Describe the backend this plugin implements.

    Called by the host once per process, when the backends are first listed or one
    is selected, and again only after :func:`tritonhost.host.discovery.reset`.
    Every plugin's implementation is called (this hook takes no ``backend``).

    :return: A :class:`tritonhost.BackendInfo`: the backend's name (the value of
        ``TRITONHOST_BACKEND`` that selects it), the torch device types its kernels
        take, and whether it is usable on this machine, with the reason when it is
        not.

    Must not raise for a missing device: report ``usable=False`` instead. An
    exception here marks the plugin as broken.
    """
    raise NotImplementedError  # pragma: no cover - a specification has no body


@hookspec(firstresult=True)
def tritonhost_make_launcher(backend: str, kernel: Any) -> Launcher | None:
    """Make the callable that launches ``kernel`` on ``backend``.

    Called by the host the first time a kernel is launched on a backend; the
    result is cached with the kernel and called directly on every later launch.
    The first non-None result wins.

    :param backend: The selected backend's name. Return None unless it is yours.
    :param kernel: The innermost Triton function of a user's kernel: a
        ``triton.JITFunction``, or Triton's ``InterpretedFunction`` when the kernel
        was decorated under ``TRITON_INTERPRET=1``. Autotuning and heuristics are
        resolved by the host before the launcher is called.
    :return: A :class:`tritonhost.Launcher`, called as ``launcher(grid, params,
        options)`` with the grid as three ints, every kernel parameter bound by
        name (constexprs included) and the launch options (``num_warps``...); or
        None when ``backend`` is not this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_benchmark(
    backend: str, fn: Callable[[], object], warmup: int | None, rep: int | None
) -> float | None:
    """Time ``fn`` on ``backend``.

    Called by the host's autotuner, once for each config it compares, when a
    kernel meets a new tuning key and more than one config is left after
    pruning, unless the backend's :class:`~tritonhost.BackendInfo` says
    ``times_kernels=False`` or the kernel brings its own ``do_bench``. The first
    non-None result wins.

    :param backend: The selected backend's name. Return None unless it is yours.
    :param fn: Launches the kernel once with one config; call it as often as the
        backend needs.
    :param warmup: The kernel's ``triton.autotune(warmup=...)``: milliseconds of
        runs before timing, counted as ``triton.testing.do_bench`` counts them; None
        when the kernel did not say (time the backend's own way). Implementations
        written before this argument existed may leave it out: pluggy passes only
        the arguments an implementation names, and they keep timing their own way.
    :param rep: The kernel's ``triton.autotune(rep=...)``: milliseconds of timed
        runs, as for ``warmup``; None when the kernel did not say.
    :return: The median run time in milliseconds, or None when ``backend`` is not
        this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_make_tma_descriptor(backend: str, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object | None:
    """Make the host-side TMA descriptor that a kernel parameter receives for ``tensor``.

    Called by the host when a launch's argument is a TMA descriptor to be made
    from a tensor at launch time (the compiler layer does this for traced
    programs; :func:`tritonhost.make_tma_descriptor` does it eagerly). The first
    non-None result wins.

    :param backend: The selected backend's name. Return None unless it is yours.
    :param tensor: The tensor the descriptor describes, whole.
    :param spec: Which of Triton's descriptor APIs to use: ``"stable"``
        (``triton.tools.tensor_descriptor.TensorDescriptor``, with a block shape) or
        ``"experimental"`` (Triton's older 1-D/2-D ``create_{1,2}d_tma_descriptor``,
        with dims, block dims and element size), where the installed Triton has it.
    :return: The object to pass as the kernel argument, or None when ``backend``
        is not this plugin's. Raise :class:`tritonhost.UnsupportedFeatureError`
        when the backend or the installed Triton cannot make that kind.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_specialize_args(backend: str, kernel: Any, args: Mapping[str, Any]) -> Specialization | None:
    """Give the Triton types of ``args`` for ``kernel``, as ``backend`` would compile them.

    Called by the kernel analysis before it generates TTIR, for every analysis
    whose result is not cached. A backend that leaves this hook out gets
    :func:`tritonhost.analysis.specialization.specialize`, which asks Triton's
    own type mangling (it changed across 3.x releases); implement it only to
    type arguments differently. The first non-None result wins.

    :param backend: The selected backend's name. Return None unless it is yours.
    :param kernel: The innermost Triton function, as for ``tritonhost_make_launcher``.
    :param args: Every parameter bound by name (constexprs included); values may
        be tensors, FakeTensors, SymInts or sympy expressions.
    :return: A :class:`tritonhost.plugin_api.Specialization` that specializes no
        runtime value (no divisibility, no equal-to-1 folding), so the analysis
        holds for every launch with the same types; or None when ``backend`` is
        not this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_analysis_target(backend: str) -> GPUTarget | None:
    """Name the target whose TTIR the analysis reads when ``backend`` is selected.

    Called once per analysis request that names no target: first for the
    selected backend, then for the other installed ones, until one answers.

    :param backend: The backend asked. Return None unless it is yours.
    :return: A GPU backend's device target (or a default one when no device is
        present); a backend that compiles nothing (the interpreter) returns the
        target it is configured to analyse for. None when ``backend`` is not this
        plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_generate_ttir(
    backend: str, kernel: Any, specialization: Specialization, target: GPUTarget
) -> str | None:
    """Generate the TTIR of ``kernel`` with ``specialization`` for ``target``, without a GPU.

    Called by the kernel analysis when a result is not cached: first on the
    selected backend, then on the other installed ones, until one answers.

    :param backend: The backend asked. Return None unless it is yours.
    :param kernel: The innermost Triton function, as for ``tritonhost_make_launcher``.
    :param specialization: Every parameter's Triton type and the constexpr values.
    :param target: The target to generate for; answer only for the targets your
        Triton backend compiles for (most plugins use
        :func:`tritonhost.plugin_api.make_ttir`).
    :return: The module as text, as ``str(module)`` prints it, before optimization
        passes; or None for another target or when ``backend`` is not yours.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_compile(
    backend: str, kernel: Any, params: Mapping[str, Any], options: Mapping[str, Any], target: GPUTarget
) -> CodeObject | None:
    """Compile ``kernel`` to the code object ``target``'s driver loads, on any machine.

    Called by :func:`tritonhost.compile_for` and ``tritonhost compile``, once per
    autotune config: first on the selected backend, then on the other installed
    ones, until one answers. No device of ``target`` need be present.

    :param backend: The backend asked. Return None unless it is yours.
    :param kernel: The innermost Triton function, as for ``tritonhost_make_launcher``.
    :param params: Every parameter bound by name (constexprs included), heuristics
        and the config applied. Tensors may be meta tensors: read only their dtype.
    :param options: Launch options of the call and the config (``num_warps``,
        ``waves_per_eu``...), including ones meant for other vendors: pass on what
        your compiler takes and drop the rest, logging each at DEBUG.
    :param target: The target to compile for; answer only for the kinds your
        compiler targets (``target.backend``).
    :return: A :class:`tritonhost.CodeObject` (the binary, the intermediate stages
        as text, and the resources it uses); or None for another target or when
        ``backend`` is not yours. Raise for a kernel that does not compile.
    """
    raise NotImplementedError  # pragma: no cover
