"""A launch that skips ``JITFunction.run``'s per-call work, for Triton 3.6 to 3.9.

``kernel[grid](...)`` binds arguments, computes a specialization key, looks the
binary up and checks globals on every call. A compiled wrapper calls one launch
site with arguments of the same kinds every time, so :class:`DirectLaunch`
does that work once: it compiles (or finds) the binary for the first call's
arguments and then hands arguments straight to the binary's launcher, the way
Triton's own ``run`` ends. Before each launch it checks the few properties
Triton specializes on (16-byte alignment of pointers, ints equal to 1 or
divisible by 16, 32- or 64-bit ints); when they differ it declines, and the
caller goes through ``JITFunction.run``, which compiles what is needed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import torch
from triton import knobs
from triton.runtime.driver import driver
from triton.runtime.jit import JITFunction

_I32 = (-(2**31), 2**31 - 1)
_MISSING = object()


def _signature_of(value: Any) -> Any:
    """What Triton specializes a non-constexpr argument on."""
    if isinstance(value, torch.Tensor):
        return (value.dtype, value.data_ptr() % 16 == 0)
    if type(value) is int:
        return (value == 1, value % 16 == 0, _I32[0] <= value <= _I32[1])
    return type(value)


def globals_of(jit: JITFunction) -> tuple[tuple[str, Any, dict[str, Any]], ...]:
    """The globals a compiled kernel read, with their values then, and the namespace to look in.

    Triton's run refuses to launch once one has changed; a prepared launch declines
    instead, so that the caller's run() says why.
    """
    return tuple(
        (name, value, namespace) for (name, _), (value, namespace) in getattr(jit, "used_global_vals", {}).items()
    )


def checks_of(jit: JITFunction, values: Sequence[Any], varying: Collection[str] | None) -> tuple[tuple[int, Any], ...]:
    """``(index, signature)`` of the values a launch with ``values`` must match to use its binary.

    Only parameters Triton specializes on, and of those only the ones whose kind can change
    between calls (``varying``; all when None), are checked per call.
    """
    return tuple(
        (index, _signature_of(values[index]))
        for index, param in enumerate(jit.params)
        if not param.is_constexpr
        and not param.do_not_specialize
        and (varying is None or jit.arg_names[index] in varying)
    )


class DirectLaunch:
    """Launches one compiled binary of ``jit``; returns False for arguments it was not compiled for."""

    __slots__ = (
        "_checks",
        "_current_device",
        "_current_stream",
        "_device",
        "_function",
        "_globals",
        "_kernel",
        "_launch",
        "_metadata",
    )

    def __init__(
        self,
        jit: JITFunction,
        params: Mapping[str, Any],
        options: Mapping[str, Any],
        varying: Collection[str] | None = None,
    ) -> None:
        values = [params[name] for name in jit.arg_names]
        kernel = jit.run(*values, grid=(1, 1, 1), warmup=True, **options)
        if hasattr(kernel, "result"):  # Triton's asynchronous compile mode hands back a future
            kernel = kernel.result()
        kernel._init_handles()
        self._kernel = kernel
        # Bound once: each lookup through Triton's lazy driver proxy costs about 0.5 us.
        self._current_device = driver.active.get_current_device
        if self._current_device is torch.cuda.current_device:
            # Triton's GPU drivers read PyTorch's current device; CUDA is initialized by now,
            # so its C getter can skip torch.cuda.current_device's lazy-init frame.
            self._current_device = getattr(torch._C, "_cuda_getDevice", self._current_device)
        self._current_stream = driver.active.get_current_stream
        self._device = self._current_device()
        self._launch = kernel.run
        self._function = kernel.function
        self._metadata = kernel.packed_metadata
        self._globals = globals_of(jit)
        self._checks = checks_of(jit, values, varying)

    def __call__(self, grid: Sequence[int], values: Sequence[Any]) -> bool:
        """Launch on ``grid`` with ``values`` (every parameter, in signature order), if the binary fits them."""
        for index, expected in self._checks:
            if _signature_of(values[index]) != expected:
                return False
        for name, value, namespace in self._globals:
            if namespace.get(name, _MISSING) != value:
                return False
        device = self._current_device()
        if device != self._device:
            return False
        stream = self._current_stream(device)
        runtime = knobs.runtime
        enter_hook = runtime.launch_enter_hook
        exit_hook = runtime.launch_exit_hook
        # A profiler's launch hooks get what run() gives them; with none set (Triton's
        # default is an empty chain) there is no metadata to build and no hook to call.
        if enter_hook is not None and getattr(enter_hook, "calls", True) == []:
            enter_hook = None
        if exit_hook is not None and getattr(exit_hook, "calls", True) == []:
            exit_hook = None
        metadata = None if enter_hook is None else self._kernel.launch_metadata(grid, stream, *values)
        self._launch(
            grid[0], grid[1], grid[2], stream, self._function, self._metadata, metadata, enter_hook, exit_hook, *values
        )
        return True
