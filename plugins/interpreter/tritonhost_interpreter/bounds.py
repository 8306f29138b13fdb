"""Bounds checks: every load, store and atomic of an interpreted kernel against its arguments' memory.

Triton's interpreter dereferences whatever address a kernel computes: an
unmasked store past a tensor's end corrupts the heap (a crash, or "double free
or corruption" later), a read past it returns garbage, and a store through
``buf[:4]`` past its end silently writes ``buf[4:8]``. A GPU would at best
fault. Here every access is checked first: each active lane's address must lie
inside the memory of a tensor argument, as the kernel was given it (the
elements a view spans, not its whole storage). The first access that does not
raises :class:`OutOfBoundsError`, naming the kernel, the program id, the access,
the nearest argument and the element it reaches. That makes the interpreter a
sanitizer for kernels in CI.

On by default; ``TRITONHOST_INTERPRETER_BOUNDS_CHECK=0`` turns it off for
speed (docs/reliability.md has the cost). The check is vectorized: one sorted
search over the accessed addresses per memory operation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs
import numpy as np
import torch

from tritonhost.plugin_api import OutOfBoundsError

#: Set to 0 to run kernels without bounds checks.
BOUNDS_CHECK_ENV = "TRITONHOST_INTERPRETER_BOUNDS_CHECK"


def enabled() -> bool:
    """Whether launches check their memory accesses (the default)."""
    return os.environ.get(BOUNDS_CHECK_ENV, "1").strip() not in ("0", "false", "no", "off")


@attrs.frozen
class Extent:
    """The bytes one tensor argument spans, as the kernel was given it."""

    name: str
    start: int  # address of the view's element 0
    low: int  # lowest byte the view spans
    high: int  # one past the highest
    element_size: int
    dtype: str
    shape: tuple[int, ...]

    @classmethod
    def of(cls, name: str, tensor: torch.Tensor) -> Extent | None:
        if tensor.numel() == 0:
            return None
        size = tensor.element_size()
        start = tensor.data_ptr()
        if tensor.is_contiguous():  # the usual argument: its elements, end to end
            below, above = 0, tensor.numel() - 1
        else:
            below = sum(min(0, (n - 1) * s) for n, s in zip(tensor.shape, tensor.stride()))
            above = sum(max(0, (n - 1) * s) for n, s in zip(tensor.shape, tensor.stride()))
        return cls(
            name=name,
            start=start,
            low=start + below * size,
            high=start + (above + 1) * size,
            element_size=size,
            dtype=str(tensor.dtype).removeprefix("torch."),
            shape=tuple(tensor.shape),
        )

    def distance(self, address: int) -> int:
        if address < self.low:
            return self.low - address
        return max(0, address - self.high + 1)


def extents_of(tensors: Iterable[tuple[str, torch.Tensor]]) -> list[Extent | None]:
    """Each tensor's :class:`Extent` (None for an empty one), in order."""
    return [Extent.of(name, tensor) for name, tensor in tensors]


def active_span(addresses: np.ndarray, mask: np.ndarray | None) -> tuple[int, int] | None:
    """The lowest and highest address of the active lanes, or None if no lane is active."""
    if mask is None:
        if addresses.size == 0:
            return None
        return int(addresses.min()), int(addresses.max())
    active = np.broadcast_to(np.asarray(mask, dtype=bool), addresses.shape)
    if active.all():  # full blocks, the usual case: plain reductions are faster than masked ones
        return (int(addresses.min()), int(addresses.max())) if addresses.size else None
    if not active.any():
        return None
    low = addresses.min(where=active, initial=np.iinfo(np.uint64).max)
    return int(low), int(addresses.max(where=active, initial=0))


class BoundsChecker:
    """The memory one launch may touch, and the check of one memory operation against it."""

    def __init__(self, kernel: str, tensors: Iterable[tuple[str, torch.Tensor]],
                 extents: list[Extent | None] | None = None) -> None:
        """``extents``, if given, are :func:`extents_of` ``tensors`` (made once for a launch's other uses)."""
        self.kernel = kernel
        self.extents = [e for e in (extents_of(tensors) if extents is None else extents) if e is not None]
        merged: list[list[int]] = []
        for low, high in sorted((e.low, e.high) for e in self.extents):
            if merged and low <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        self._lows = np.array([m[0] for m in merged], dtype=np.uint64)
        self._highs = np.array([m[1] for m in merged], dtype=np.uint64)

    def check(self, access: str, pointers: np.ndarray | Callable[[], np.ndarray], mask: np.ndarray | None,
              item_size: int, program: Any, span: tuple[int, int] | None | Literal["unknown"] = "unknown") -> None:
        """Raise :class:`OutOfBoundsError` if an active lane of ``pointers`` leaves every argument.

        ``pointers`` may be a function making them (called only if the span does not settle
        it); ``mask`` None means every lane; ``span`` is :func:`active_span` of the access
        where the caller has it already.
        """
        if span == "unknown":
            pointers = np.asarray(pointers() if callable(pointers) else pointers, dtype=np.uint64)
            span = active_span(pointers, mask)
        if span is None:
            return
        if self._lows.size:
            # Most accesses stay inside one argument: then its lowest and highest address tell.
            first = int(np.searchsorted(self._lows, np.uint64(span[0]), side="right")) - 1
            if first >= 0 and span[1] + item_size <= int(self._highs[first]):
                return
        addresses = np.asarray(pointers() if callable(pointers) else pointers, dtype=np.uint64)
        if mask is not None:
            active = np.broadcast_to(np.asarray(mask, dtype=bool), addresses.shape)
            addresses = addresses[active]
        else:
            addresses = addresses.reshape(-1)
        if addresses.size == 0:
            return
        if self._lows.size:
            slot = np.searchsorted(self._lows, addresses, side="right").astype(np.int64) - 1
            inside = (slot >= 0) & (addresses + np.uint64(item_size) <= self._highs[np.maximum(slot, 0)])
            if inside.all():
                return
            address = int(addresses[~inside][0])
        else:
            address = int(addresses[0])
        raise OutOfBoundsError(self._message(access, address, program))

    def _message(self, access: str, address: int, program: Any) -> str:
        where = f"kernel {self.kernel}: out-of-bounds {access} at program id {tuple(int(p) for p in program)}"
        fix = (
            "Mask the access (for instance mask=offsets < n) or correct the offsets; "
            f"{BOUNDS_CHECK_ENV}=0 turns this check off."
        )
        if not self.extents:
            return f"{where}: address {address:#x}, and the launch passed no tensor. {fix}"
        nearest = min(self.extents, key=lambda e: e.distance(address))
        offset, remainder = divmod(address - nearest.start, nearest.element_size)
        element = f"element {offset}" + (f" (+{remainder} bytes)" if remainder else "")
        span = (nearest.high - nearest.low) // nearest.element_size
        return (
            f"{where}: it reaches {element} of parameter {nearest.name!r}, a {nearest.dtype} tensor of shape "
            f"{list(nearest.shape)} that spans {span} elements from element "
            f"{(nearest.low - nearest.start) // nearest.element_size}. {fix}"
        )
