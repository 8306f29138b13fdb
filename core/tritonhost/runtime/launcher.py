"""Launchers: what a backend returns to run one kernel, and the one every GPU backend can use."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from triton.runtime.jit import JITFunction

from tritonhost.runtime.devices import check_devices
from tritonhost.runtime.grid import Grid3


class Launcher(Protocol):
    """Runs one kernel: ``launcher(grid, params, options)``.

    ``grid`` is three ints; ``params`` binds every kernel parameter by name
    (constexprs included); ``options`` holds launch options such as ``num_warps``.
    Made once per kernel by a backend's ``tritonhost_make_launcher`` hook and
    called on every launch, so it should do as little as it can.
    """

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None: ...


class PreparedLaunch(Protocol):
    """A launch made ready for arguments like ``params`` (see ``prepare`` below).

    ``prepared(grid, values)`` takes every parameter's value in signature order,
    launches and returns True, or returns False without launching when the
    values need another specialization (then call the launcher itself).
    """

    def __call__(self, grid: Grid3, values: list[Any]) -> bool: ...


# A launcher may also have ``prepare(params, options, varying) -> PreparedLaunch | None``: the
# generated wrapper of a compiled program calls one launch site with the same kinds of
# arguments every time, and asks for it once, on its first launch, to skip per-call work.


class TritonRuntimeLauncher:
    """Launches through Triton's own runtime on the active GPU driver (CUDA or HIP).

    Triton compiles on first use and caches binaries by specialization, as it does
    for ``kernel[grid](...)``. A kernel decorated under ``TRITON_INTERPRET=1`` is
    re-wrapped in a JITFunction so that it compiles.
    """

    __slots__ = ("_arg_names", "_jit", "_run", "backend", "device_types")

    def __init__(self, kernel: Any, backend: str, device_types: tuple[str, ...]) -> None:
        jit = kernel if isinstance(kernel, JITFunction) else JITFunction(kernel.fn)
        self._jit = jit
        self._run = jit.run
        self._arg_names = tuple(jit.arg_names)
        self.backend = backend
        self.device_types = device_types

    def prepare(
        self, params: dict[str, Any], options: dict[str, Any], varying: Collection[str] | None = None
    ) -> PreparedLaunch | None:
        """A direct launch of the binary for arguments like ``params`` (compiled now if needed).

        ``varying`` names the parameters whose values may differ in kind between calls
        (inputs' tensors, symbolic sizes); only those are checked before each launch.
        """
        from tritonhost.compat.direct_launch import DirectLaunch

        return DirectLaunch(self._jit, params, options, varying)

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        try:
            # Triton binds positional arguments about 4 us faster than keywords (H100 host,
            # Triton 3.6), so pass the parameters in signature order.
            self._run(*[params[name] for name in self._arg_names], grid=grid, warmup=False, **options)
        except Exception:
            # Triton's own message for a host tensor is terse; name the argument.
            check_devices(params, self.device_types, self.backend)
            raise
