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

Where the binary's launcher is Triton's CUDA launcher in a layout checked on a
GPU (:func:`c_launch_of`), the launch calls the launcher's C function itself:
the Python ``__call__`` in front of it only allocates scratch memory, which a
kernel that needs none never uses, and costs about 1 us per launch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import torch
import triton
from triton import knobs
from triton.knobs import HookChain
from triton.runtime.driver import driver
from triton.runtime.jit import JITFunction

_I32 = (-(2**31), 2**31 - 1)
_MISSING = object()

#: The Triton versions whose CUDA launcher's C function :func:`c_launch_of` knows how to
#: call: ``launch(gridX, gridY, gridZ, stream, function, cooperative, pdl, global scratch,
#: profile scratch, packed metadata, launch metadata, enter hook, exit hook, *values)``.
#: That is Triton 3.6's layout; only versions whose layout has run on a GPU are listed
#: (3.6: the gpu tests of tests/launch, tests/compiler and tests/backends on an H100,
#: 2026-12-07). Other versions launch through the launcher's ``__call__``, as Triton's run does.
C_LAUNCH_VERSIONS = ((3, 6),)


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


def c_launch_of(run: Any, version: str = triton.__version__) -> Callable[..., Any] | None:
    """The C function behind ``run`` (a compiled kernel's launcher) where calling it directly is the same launch.

    That holds for Triton's CUDA launcher in a version of :data:`C_LAUNCH_VERSIONS`, for a
    kernel that uses no global or profile scratch memory (the launcher's ``__call__``
    allocates it per launch). None otherwise: the caller calls ``run`` itself.
    """
    cls = type(run)
    if cls.__qualname__ != "CudaLauncher" or cls.__module__ != "triton.backends.nvidia.driver":
        return None
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:  # a local build's version string
        return None
    if major_minor not in C_LAUNCH_VERSIONS:
        return None
    if getattr(run, "global_scratch_size", None) != 0 or getattr(run, "profile_scratch_size", None) != 0:
        return None
    launch = getattr(run, "launch", None)
    return launch if callable(launch) else None


class DirectLaunch:
    """Launches one compiled binary; returns False for arguments it was not compiled for.

    Make one with :meth:`compile`; the constructor takes what compiling found.
    """

    __slots__ = (
        "_aligned",
        "_c_launch",
        "_cooperative",
        "_current_device",
        "_current_stream",
        "_device",
        "_function",
        "_globals",
        "_ints",
        "_kernel",
        "_launch",
        "_metadata",
        "_pdl",
        "_types",
        "_unaligned",
    )

    @classmethod
    def compile(
        cls,
        jit: JITFunction,
        params: Mapping[str, Any],
        options: Mapping[str, Any],
        varying: Collection[str] | None = None,
    ) -> DirectLaunch:
        """The launch of ``jit``'s binary for arguments like ``params`` (compiled now if needed)."""
        values = [params[name] for name in jit.arg_names]
        kernel = jit.run(*values, grid=(1, 1, 1), warmup=True, **options)
        if hasattr(kernel, "result"):  # Triton's asynchronous compile mode hands back a future
            kernel = kernel.result()
        kernel._init_handles()
        # Bound once: each lookup through Triton's lazy driver proxy costs about 0.5 us.
        current_device = driver.active.get_current_device
        if current_device is torch.cuda.current_device:
            # Triton's GPU drivers read PyTorch's current device; CUDA is initialized by now,
            # so its C getter can skip torch.cuda.current_device's lazy-init frame.
            current_device = getattr(torch._C, "_cuda_getDevice", current_device)
        return cls(
            checks_of(jit, values, varying),
            globals_of(jit),
            kernel,
            current_device,
            driver.active.get_current_stream,
            current_device(),
        )

    def __init__(
        self,
        checks: Sequence[tuple[int, Any]],
        globals_read: Sequence[tuple[str, Any, dict[str, Any]]],
        kernel: Any,
        current_device: Callable[[], int],
        current_stream: Callable[[int], int],
        device: int,
    ) -> None:
        """``checks`` from :func:`checks_of`, ``globals_read`` from :func:`globals_of`,
        ``kernel`` Triton's compiled kernel (handles loaded), on ``device``."""
        # The checks split by kind, so that each is a few comparisons with no call to make;
        # tensors by their alignment, so that the aligned ones' pointers take one test together.
        tensors = [(i, s[0], s[1]) for i, s in checks if isinstance(s, tuple) and len(s) == 2]
        self._aligned = tuple((i, dtype) for i, dtype, aligned in tensors if aligned)
        self._unaligned = tuple((i, dtype) for i, dtype, aligned in tensors if not aligned)
        self._ints = tuple((i, *s) for i, s in checks if isinstance(s, tuple) and len(s) == 3)
        self._types = tuple((i, s) for i, s in checks if not isinstance(s, tuple))
        self._globals = tuple(globals_read)
        self._kernel = kernel
        self._current_device = current_device
        self._current_stream = current_stream
        self._device = device
        self._launch = kernel.run
        self._function = kernel.function
        self._metadata = kernel.packed_metadata
        self._c_launch = c_launch_of(kernel.run)
        self._cooperative = getattr(kernel.run, "launch_cooperative_grid", False)
        self._pdl = getattr(kernel.run, "launch_pdl", False)

    def context(self) -> tuple[int, int]:
        """``(device, stream)``: the current device and its current stream, which a launch runs on.

        A compiled wrapper reads them once for the launches it makes in a row (see
        :class:`tritonhost.contract.PreparedLaunch`), instead of once per launch.
        """
        device = self._current_device()
        return device, self._current_stream(device)

    def __call__(self, grid: Sequence[int], values: Sequence[Any], context: tuple[int, int] | None = None) -> bool:
        """Launch on ``grid`` with ``values`` (every parameter, in signature order), if the binary fits them.

        ``context`` is what :meth:`context` returned, where the caller read it already.
        """
        # Tensors are duck-typed, as Triton's run takes them (anything with a data_ptr and a
        # dtype, a subclass such as a Parameter included); anything else, or one whose
        # data_ptr() raises, declines, and Triton's run says what is wrong with it.
        try:
            pointers = 0
            for index, dtype in self._aligned:
                value = values[index]
                if value.dtype is not dtype:  # dtypes are singletons: `is` is their equality
                    return False
                pointers |= value.data_ptr()
            if pointers & 15:
                return False
            for index, dtype in self._unaligned:
                value = values[index]
                if value.dtype is not dtype or not value.data_ptr() & 15:
                    return False
        except Exception:  # noqa: BLE001 - not a tensor: run() reports it
            return False
        for index, one, divisible, narrow in self._ints:
            value = values[index]
            if (
                type(value) is not int
                or (value == 1) is not one
                or (not value & 15) is not divisible
                or (-0x80000000 <= value <= 0x7FFFFFFF) is not narrow
            ):
                return False
        for index, kind in self._types:
            if type(values[index]) is not kind:
                return False
        for name, value, namespace in self._globals:
            if namespace.get(name, _MISSING) != value:
                return False
        if context is None:
            device = self._current_device()
            if device != self._device:
                return False
            stream = self._current_stream(device)
        else:
            device, stream = context
            if device != self._device:  # Triton's run would compile for that device
                return False
        runtime = knobs.runtime
        enter_hook = runtime.launch_enter_hook
        exit_hook = runtime.launch_exit_hook
        # A profiler's launch hooks get what run() gives them, metadata included when either
        # is set; with none set (Triton's default is an empty chain) there is no metadata to
        # build and no hook to call.
        if type(enter_hook) is HookChain and not enter_hook.calls:
            enter_hook = None
        if type(exit_hook) is HookChain and not exit_hook.calls:
            exit_hook = None
        metadata = (
            None if enter_hook is None and exit_hook is None else self._kernel.launch_metadata(grid, stream, *values)
        )
        c_launch = self._c_launch
        if c_launch is not None:
            c_launch(
                grid[0], grid[1], grid[2], stream, self._function, self._cooperative, self._pdl, None, None,
                self._metadata, metadata, enter_hook, exit_hook, *values,
            )  # fmt: skip
        else:
            self._launch(
                grid[0], grid[1], grid[2], stream, self._function, self._metadata, metadata, enter_hook, exit_hook,
                *values,
            )  # fmt: skip
        return True
