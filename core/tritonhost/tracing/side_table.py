"""The side table: kernels and non-graphable launch arguments, by integer id.

A graph node may carry only values PyTorch can put in a graph (tensors, numbers,
SymInts, containers of them). A launch's kernel (as its ``WrappedKernel``), its
constexpr values, a grid given as a function and launch options go into this
table, and the node carries their ids.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class Constants:
    """What a launch passes that a graph cannot hold."""

    #: Kernel parameters that are not graph values (constexprs, None, dtypes...).
    params: Mapping[str, Any]
    #: Launch options (``num_warps``...).
    options: Mapping[str, Any]
    #: The grid, when it is a function of the meta-parameters (else it is in the graph).
    grid: Any = None
    #: TMA descriptor parameters: ``name -> (api, block_shape)``. The graph carries the
    #: tensor; the descriptor is made over it when the kernel runs.
    tma: Mapping[str, tuple[str, tuple[int, ...]]] = attrs.Factory(dict)


class SideTable:
    """A thread-safe registry of wrapped kernels and launch constants, by integer id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wrapped: list[Any] = []
        self._constants: list[Constants] = []

    def add_wrapped(self, wrapped: Any) -> int:
        """Register a ``WrappedKernel`` (made once per kernel); graph nodes name it by this id."""
        with self._lock:
            self._wrapped.append(wrapped)
            index = len(self._wrapped) - 1
        # Also a module attribute: Dynamo reads a module's attributes as they are now,
        # where it would keep a stale copy of a list that grew during its trace.
        globals()[wrapped_attribute(index)] = wrapped
        return index

    def wrapped(self, index: int) -> Any:
        return self._wrapped[index]

    def add_constants(self, constants: Constants) -> int:
        with self._lock:
            self._constants.append(constants)
            return len(self._constants) - 1

    def constants(self, index: int) -> Constants:
        return self._constants[index]


def wrapped_attribute(index: int) -> str:
    """The name under which this module holds wrapped kernel ``index``."""
    return f"wrapped_kernel_{index}"


#: The process's side table.
side_table = SideTable()
