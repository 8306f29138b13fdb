"""tritonhost: run hand-written Triton kernels inside PyTorch programs, on any vendor's backend.

Launch a kernel with Triton's own syntax on the backend that ``TRITONHOST_BACKEND``
selects (``auto`` by default)::

    import tritonhost
    tritonhost.wrap(add_kernel)[(triton.cdiv(n, 256),)](x, y, out, n, BLOCK=256)

Backends are plugins found through the entry-point group ``tritonhost.backends``;
``tritonhost.backends()`` lists them and ``tritonhost.current_backend()`` names the
one in use.
"""

from __future__ import annotations

import logging as _logging
from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from tritonhost import analysis
from tritonhost.analysis import Analysis, analyze
from tritonhost.contract import BackendInfo, CodeObject, Launcher, ResourceUsage, TMADescriptorSpec
from tritonhost.errors import (
    AliasingError,
    AnalysisError,
    AutotuneError,
    BackendError,
    BackendHookMissingError,
    BackendUnusableError,
    CompileOptionError,
    CompileTargetError,
    DeviceMismatchError,
    GridError,
    KernelArgumentError,
    LongLaunchWarning,
    NoBackendError,
    NotAKernelError,
    OutOfBoundsError,
    PluginLoadError,
    TritonhostError,
    UnknownBackendError,
    UnsupportedFeatureError,
)
from tritonhost.host.discovery import registry as _registry
from tritonhost.host.selection import Backend, select, use_backend
from tritonhost.host.status import BackendStatus
from tritonhost.launch.install import Installation, install, installed
from tritonhost.launch.tma import make_tma_descriptor
from tritonhost.launch.wrap import WrappedKernel, wrap
from tritonhost.markers import hookimpl
from tritonhost.targets import compile_for
from tritonhost.tracing.custom_op import op
from tritonhost.tuning.autotuner import stats as _autotune_stats

if TYPE_CHECKING:
    from tritonhost.codegen.backend import CompiledWrapper, capture_wrappers, compile_graph

#: Names of the compiler's public API, imported on first use (see __getattr__).
_COMPILER = frozenset({"CompiledWrapper", "capture_wrappers", "compile_graph"})


def __getattr__(name: str) -> Any:
    """The compiler's names, imported when first asked for.

    The compiler brings sympy and PyTorch's symbolic shapes, about 1 s of a 2-core CPU's
    `import tritonhost`, which eager launches never use; torch.compile finds
    backend="tritonhost" through its entry point, which imports the compiler itself.
    """
    if name in _COMPILER:
        from tritonhost.codegen import backend

        value = getattr(backend, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tritonhost' has no attribute {name!r}")


# A library's loggers say nothing unless the application configures logging.
_logging.getLogger("tritonhost").addHandler(_logging.NullHandler())

try:
    __version__ = _metadata.version("tritonhost")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"


def backends() -> tuple[BackendStatus, ...]:
    """Every discovered backend: name, distribution and version, usable or not and why.

    Plugins that failed to load are listed too, with the error that says why.
    """
    return _registry().statuses


def autotune_stats() -> dict[str, int | float]:
    """What the autotuner did in this process: ``benchmarked`` (configs timed), ``hits`` and
    ``misses`` of the persistent tuning cache, ``decisions`` (configs chosen, one per kernel and
    tuning key) and ``seconds`` spent choosing them (pruning, the cache, timing; the launch of the
    chosen config, and its compilation, are not counted)."""
    return _autotune_stats.as_dict()


def current_backend() -> str:
    """The name of the backend kernels run on now (resolving ``auto``).

    Raises a :class:`BackendError` that says what to do when the requested
    backend is unknown, broken or unusable, or when none is installed.
    """
    return select().name


__all__ = [
    "AliasingError",
    "Analysis",
    "AnalysisError",
    "AutotuneError",
    "Backend",
    "BackendError",
    "BackendHookMissingError",
    "BackendInfo",
    "BackendStatus",
    "BackendUnusableError",
    "CodeObject",
    "CompileOptionError",
    "CompileTargetError",
    "CompiledWrapper",
    "DeviceMismatchError",
    "GridError",
    "Installation",
    "KernelArgumentError",
    "Launcher",
    "LongLaunchWarning",
    "NoBackendError",
    "NotAKernelError",
    "OutOfBoundsError",
    "PluginLoadError",
    "ResourceUsage",
    "TMADescriptorSpec",
    "TritonhostError",
    "UnknownBackendError",
    "UnsupportedFeatureError",
    "WrappedKernel",
    "__version__",
    "analysis",
    "analyze",
    "autotune_stats",
    "backends",
    "capture_wrappers",
    "compile_for",
    "compile_graph",
    "current_backend",
    "hookimpl",
    "install",
    "installed",
    "make_tma_descriptor",
    "op",
    "select",
    "use_backend",
    "wrap",
]
