"""The launcher every backend on a Triton GPU driver can use: Triton's own runtime, and a prepared direct launch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from triton.runtime.jit import JITFunction

from tritonhost.compat.compile_ahead import compile_at_once
from tritonhost.compat.direct_launch import DirectLaunch
from tritonhost.compat.options import split_options
from tritonhost.contract import Grid3, PreparedLaunch
from tritonhost.kernel.devices import check_devices

logger = logging.getLogger("tritonhost.launch")


class TritonRuntimeLauncher:
    """Launches through Triton's own runtime on the active GPU driver (CUDA or HIP).

    Triton compiles on first use and caches binaries by specialization, as it does
    for ``kernel[grid](...)``. A kernel decorated under ``TRITON_INTERPRET=1`` is
    re-wrapped in a JITFunction so that it compiles.

    ``accepted_options`` are the launch options the driver's compiler takes; others
    (another vendor's: AMD's ``waves_per_eu`` on NVIDIA) are dropped, as code written
    for one vendor passes them everywhere, with one DEBUG line per kernel and option.
    None accepts every option.
    """

    __slots__ = ("_accepted", "_arg_names", "_dropped", "_jit", "_run", "backend", "device_types")

    def __init__(
        self,
        kernel: Any,
        backend: str,
        device_types: tuple[str, ...],
        accepted_options: frozenset[str] | None = None,
    ) -> None:
        jit = kernel if isinstance(kernel, JITFunction) else JITFunction(kernel.fn)
        self._jit = jit
        self._run = jit.run
        self._arg_names = tuple(jit.arg_names)
        self._accepted = accepted_options
        self._dropped: set[str] = set()
        self.backend = backend
        self.device_types = device_types

    def _options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        kept, dropped = split_options(options, self._accepted)
        for name, value in dropped.items():
            if name not in self._dropped:  # said once per kernel and option: launches repeat
                self._dropped.add(name)
                logger.debug("%s on %s: dropped launch option %s=%r, which this backend's compiler does not take",
                             self._jit.fn.__name__, self.backend, name, value)
        return kept

    def prepare(
        self, params: dict[str, Any], options: dict[str, Any], varying: Collection[str] | None = None
    ) -> PreparedLaunch | None:
        """A direct launch of the binary for arguments like ``params`` (compiled now if needed).

        ``varying`` names the parameters whose values may differ in kind between calls
        (inputs' tensors, symbolic sizes); only those are checked before each launch.
        """
        return DirectLaunch.compile(self._jit, params, self._options(options), varying)

    def compile_ahead(self, calls: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Compile the binaries of several launches at once, launching none.

        The autotuner asks this before timing a kernel's configs: each ``(params, options)``
        is one config's launch. A config that fails to compile fails at its own launch.
        """
        run, names = self._run, self._arg_names

        def start(params: dict[str, Any], options: dict[str, Any]) -> Callable[[], object]:
            return lambda: run(*[params[name] for name in names], grid=(1, 1, 1), warmup=True, **options)

        compile_at_once(self._jit.fn.__name__, [start(params, self._options(options)) for params, options in calls])

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        if options and self._accepted is not None and not self._accepted.issuperset(options):
            options = self._options(options)
        try:
            # Triton binds positional arguments about 4 us faster than keywords (H100 host,
            # Triton 3.6), so pass the parameters in signature order.
            self._run(*[params[name] for name in self._arg_names], grid=grid, warmup=False, **options)
        except Exception:
            # Triton's own message for a host tensor is terse; name the argument.
            check_devices(params, self.device_types, self.backend)
            raise
