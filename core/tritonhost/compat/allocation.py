"""Allocating a generated wrapper's buffers the way Inductor's generated code does.

``torch.empty_strided`` parses its arguments in Python's argument parser and goes
through the dispatcher: about 1 us on a CPU and more on a GPU host's, for every
buffer of every call. Inductor's wrappers call ``torch._C._dynamo.guards``'
``_empty_strided_<device type>`` instead, C functions that allocate on the current
device of their type. :func:`allocator_for` hands out the same function for a
wrapper's buffers. It is used while no dispatch mode is active (those skip the
dispatcher, which a mode must see), outside deterministic mode (whose filling of new
memory only the ATen operator does) and, for a GPU, while the buffer's device is the
current one; otherwise, and where this torch has no such function, ``torch.empty_strided``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

Allocate = Callable[[Sequence[int], Sequence[int], torch.dtype], torch.Tensor]

#: The device types whose fast allocation functions are used: the CPU, and the GPUs torch
#: calls "cuda" (ROCm builds' too), whose current device is checked per call. The "cuda"
#: path has run on an H100 (2026-12-07), not on an AMD GPU.
_TYPES = ("cpu", "cuda")

#: How many dispatch modes are active: the fast functions skip the dispatcher, so none may be.
_dispatch_modes = torch._C._len_torch_dispatch_stack
#: Whether torch.use_deterministic_algorithms is on: then empty_strided fills new memory.
_deterministic = torch._C._get_deterministic_algorithms


class _Allocate:
    """``allocate(size, stride, dtype)`` on one device, by the fast function while that device is the current one.

    ``current`` is None for the CPU, which is always current.
    """

    __slots__ = ("__name__", "__qualname__", "_current", "_device", "_fast", "_index")
    # What FX calls the function in generated code: `fast_empty_strided_cuda_0(...)`.
    __module__ = "fast"

    def __init__(self, fast: Allocate, device: torch.device, current: Callable[[], int] | None) -> None:
        self._fast = fast
        self._device = device
        self._index = device.index
        self._current = current
        index = "" if device.index is None else f"_{device.index}"
        self.__name__ = self.__qualname__ = f"empty_strided_{device.type}{index}"

    def __repr__(self) -> str:
        return f"<allocation of buffers on {self._device}>"

    def __call__(self, size: Sequence[int], stride: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        if (
            not _dispatch_modes()
            and not _deterministic()
            and (self._current is None or self._current() == self._index)
        ):
            return self._fast(size, stride, dtype)
        # A dispatch mode must see the allocation (a memory tracker, a fake tensor mode);
        # deterministic mode fills new memory with NaN, which only the ATen operator does;
        # or another device is current (the caller's torch.cuda.device): the dispatcher's way.
        return torch.empty_strided(size, stride, dtype=dtype, device=self._device)


@functools.cache  # one per device: a wrapper's allocations call one function
def allocator_for(device: torch.device) -> Allocate | None:
    """The fast allocation of buffers on ``device`` as ``allocate(size, stride, dtype)``, or None (use empty_strided)."""
    if device.type not in _TYPES:
        return None
    fast = getattr(getattr(getattr(torch._C, "_dynamo", None), "guards", None), f"_empty_strided_{device.type}", None)
    if fast is None:
        return None
    if device.type == "cpu":
        return _Allocate(fast, device, None)
    if device.index is None:
        return None  # the device meant depends on the caller's current one: empty_strided decides
    # CUDA is initialized by the time a wrapper runs, so torch's C getter can skip
    # torch.cuda.current_device's lazy-init frame.
    current = getattr(torch._C, "_cuda_getDevice", torch.cuda.current_device)
    return _Allocate(fast, device, current)
