"""Argument memory saved before a batched attempt first writes it, and put back if the attempt is abandoned.

A batched launch that meets divergence part-way has already stored, and the launch
then runs again program by program. An in-place kernel (``x += 1``) would apply
twice. So before the first store or atomic that reaches a tensor argument, the bytes
that argument spans are copied; abandoning the attempt copies them back. Arguments
the attempt only reads cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np
import torch

from tritonhost_interpreter.bounds import active_span
from tritonhost_interpreter.memory import Span


class WriteJournal:
    """The spans of a launch's tensor arguments, each copied once before it is first written."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self._spans = list(spans)
        self._saved: dict[int, torch.Tensor] = {}

    def before_write(self, addresses: np.ndarray | Callable[[], np.ndarray], mask: np.ndarray | None, item_size: int,
                     reached: tuple[int, int] | None | Literal["unknown"] = "unknown") -> None:
        """Save every argument that the active lanes of ``addresses`` may reach (their span, if known).

        ``addresses`` may be a function making them; ``mask`` None means every lane.
        """
        if len(self._saved) == len(self._spans):
            return
        if reached == "unknown":
            reached = active_span(np.asarray(addresses() if callable(addresses) else addresses, dtype=np.uint64), mask)
        if reached is None:
            return
        low, high = reached[0], reached[1] + item_size
        for index, (start, stop, span) in enumerate(self._spans):
            if index not in self._saved and start < high and low < stop:
                self._saved[index] = span.clone()

    def restore(self) -> None:
        """Put back every saved span (aliased arguments saved the same bytes, so order does not matter)."""
        for index, saved in self._saved.items():
            self._spans[index][2].copy_(saved)
        self._saved.clear()

    @property
    def saved(self) -> int:
        """How many arguments were saved."""
        return len(self._saved)
