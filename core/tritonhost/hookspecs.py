"""Hook specifications: the contract between the tritonhost host and its backends.

A backend is a module of plain functions decorated with :data:`tritonhost.hookimpl`
(by convention ``<package>/plugin.py``), published under the entry-point group
``tritonhost.backends``. The host loads every such module into one
:class:`pluggy.PluginManager` (see :mod:`tritonhost.host.discovery`).

Each module implements one backend. Hooks that only the selected backend should
answer take a ``backend`` argument first: an implementation returns None unless
``backend`` is its own name, and the first non-None result wins
(``firstresult=True``), the way pytest's collectors pass on files that are not
theirs.

The host calls the per-backend hooks once per kernel or per event (a launcher is
made once per kernel and then called directly), never on every launch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tritonhost.markers import hookspec

if TYPE_CHECKING:
    import torch
    from triton.backends.compiler import GPUTarget

    from tritonhost.analysis.specialization import Specialization
    from tritonhost.host.info import BackendInfo
    from tritonhost.runtime.launcher import Launcher
    from tritonhost.runtime.tma import TMADescriptorSpec


@hookspec
def tritonhost_describe_backend() -> BackendInfo:
    """Describe the backend this plugin implements.

    Called by the host once per process, when the backends are first listed or one
    is selected, and again only after :func:`tritonhost.host.discovery.reset`.

    Return a :class:`tritonhost.BackendInfo`: the backend's name (the value of
    ``TRITONHOST_BACKEND`` that selects it), the torch device types its kernels
    take, and whether it is usable on this machine, with the reason when it is
    not. Must not raise for a missing device: report ``usable=False`` instead. An
    exception here marks the plugin as broken.
    """
    raise NotImplementedError  # pragma: no cover - a specification has no body


@hookspec(firstresult=True)
def tritonhost_make_launcher(backend: str, kernel: Any) -> Launcher | None:
    """Make the callable that launches ``kernel`` on ``backend``.

    Called by the host the first time a kernel is launched on a backend; the
    result is cached with the kernel and called directly on every later launch.

    ``kernel`` is the innermost Triton function of a user's kernel: a
    ``triton.JITFunction``, or Triton's ``InterpretedFunction`` when the kernel was
    decorated under ``TRITON_INTERPRET=1``. Autotuning and heuristics are resolved
    by the host before the launcher is called.

    Return a :class:`tritonhost.runtime.launcher.Launcher`, called as
    ``launcher(grid, params, options)`` with the grid as three ints, every kernel
    parameter bound by name (constexprs included) and the launch options
    (``num_warps``...). Return None when ``backend`` is not this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_benchmark(backend: str, fn: Callable[[], object]) -> float | None:
    """Time ``fn`` on ``backend`` and return its median run time in milliseconds.

    Called by the host's autotuner, once for each config it compares, when a
    kernel meets a new tuning key and more than one config is left after
    pruning, unless the backend's :class:`~tritonhost.BackendInfo` says
    ``times_kernels=False``. ``fn`` launches the kernel once with one config and
    may be called as often as the backend needs. Return None when ``backend`` is
    not this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_make_tma_descriptor(backend: str, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object | None:
    """Make the host-side TMA descriptor that a kernel parameter receives for ``tensor``.

    Called by the host when a launch's argument is a TMA descriptor to be made
    from a tensor at launch time (the compiler layer does this for traced
    programs; :func:`tritonhost.make_tma_descriptor` does it eagerly).

    ``spec`` says which of Triton's descriptor APIs to use: ``"stable"``
    (``triton.tools.tensor_descriptor.TensorDescriptor``, with a block shape) or
    ``"experimental"`` (Triton's older 1-D/2-D ``create_{1,2}d_tma_descriptor``,
    with dims, block dims and element size), where the installed Triton has it.
    Return the object to pass as the kernel argument, or None when ``backend`` is
    not this plugin's. Raise :class:`tritonhost.UnsupportedFeatureError` when
    the backend or the installed Triton cannot make that kind.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_specialize_args(backend: str, kernel: Any, args: Mapping[str, Any]) -> Specialization | None:
    """Give the Triton types of ``args`` for ``kernel``, as ``backend`` would compile them.

    Called by the kernel analysis before it generates TTIR, for every analysis
    whose result is not cached. ``args`` binds every parameter by name
    (constexprs included); values may be tensors, FakeTensors, SymInts or sympy
    expressions. The installed Triton decides the type strings (its mangling
    changed across 3.x releases). A backend that leaves this hook out gets
    :func:`tritonhost.analysis.specialization.specialize`, which asks Triton's
    own type mangling; implement it only to type arguments differently.

    Return a :class:`~tritonhost.analysis.specialization.Specialization` that
    specializes no runtime value (no divisibility, no equal-to-1 folding), so
    the analysis holds for every launch with the same types; or None when
    ``backend`` is not this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_analysis_target(backend: str) -> GPUTarget | None:
    """Name the target whose TTIR the analysis reads when ``backend`` is selected.

    Called once per analysis request that names no target. A GPU backend
    returns its device's target (or a default one when no device is present);
    a backend that compiles nothing (the interpreter) returns the target it is
    configured to analyse for. Return None when ``backend`` is not this plugin's.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def tritonhost_generate_ttir(
    backend: str, kernel: Any, specialization: Specialization, target: GPUTarget
) -> str | None:
    """Generate the TTIR of ``kernel`` with ``specialization`` for ``target``, without a GPU.

    Called by the kernel analysis when a result is not cached: first on the
    selected backend, then on the other installed ones, until one answers. A
    plugin answers for the targets its Triton backend compiles for (most use
    :func:`tritonhost.compat.frontend.make_ttir`) and returns None for others
    or when ``backend`` is not its own. Return the module as text, as
    ``str(module)`` prints it, before optimization passes.
    """
    raise NotImplementedError  # pragma: no cover
