"""A compiled wrapper entered on its tensors' device, as Inductor's wrapper enters its own.

Launches run on the current device (Triton's ``kernel[grid]`` does the same, and the
prepared launch checks it: ``compat/direct_launch.py``). An eager program that keeps
its tensors on a second GPU says so with ``torch.cuda.device(1)``. A compiled function
is called with its inputs wherever they are, so the wrapper makes their device current
for the call, and gives the caller's back after it.

Only on a machine with several devices of the kind: with one, it is always the current
device, and the call pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from tritonhost.ir.program import Program


class DeviceModule(Protocol):
    """What the guard uses of ``torch.get_device_module(kind)`` (``torch.cuda`` for ``"cuda"``)."""

    def device_count(self) -> int: ...
    def current_device(self) -> int: ...
    def set_device(self, device: int) -> None: ...


def device_of(program: Program, kind: str) -> int | None:
    """The index of the one device of ``kind`` that ``program``'s tensors are on, or None.

    None also where they are on several (each launch then runs on the current device, as
    an eager program's would).
    """
    devices = {buffer.fixed_layout.device for buffer in program.buffers()}
    indices = {device.index for device in devices if device.type == kind}
    if len(indices) != 1:
        return None
    (index,) = indices
    return index


def on_device(run: Callable[[list[Any]], Any], index: int, module: DeviceModule) -> Callable[[list[Any]], Any]:
    """``run`` (a boxed wrapper), called with device ``index`` current and the caller's device restored after."""

    def guarded(args: list[Any]) -> Any:
        current = module.current_device()
        if current == index:
            return run(args)
        module.set_device(index)
        try:
            return run(args)
        finally:
            module.set_device(current)

    guarded._boxed_call = True  # type: ignore[attr-defined]
    guarded.module = getattr(run, "module", None)  # type: ignore[attr-defined]
    return guarded


def guarded_for(run: Callable[[list[Any]], Any], program: Program, kind: str) -> Callable[[list[Any]], Any]:
    """``run``, entered on the device of ``program``'s tensors where the machine has several of ``kind``."""
    index = device_of(program, kind)
    if index is None:
        return run
    try:
        module: DeviceModule = torch.get_device_module(kind)
    except (RuntimeError, AttributeError, ValueError):  # a kind PyTorch has no module for: nothing to set
        return run
    if module.device_count() < 2:
        return run
    return on_device(run, index, module)
