"""The side table: kernels and non-graphable launch arguments, by integer id.

A graph node may carry only values PyTorch can put in a graph (tensors, numbers,
SymInts, containers of them). A launch's kernel (as its wrapped kernel), its
constexpr values, a grid given as a function and launch options go into this
table, and the node carries their ids.

The table also owns kernel identity: one wrapped kernel per Triton kernel
object. Tracing needs to make wrapped kernels (Dynamo meets ``wrap(kernel)``
inside a compiled region) and to launch them (a node run eagerly), while the
launch front door (:mod:`tritonhost.launch.wrap`), which defines the wrapped
kernel, hands launches to tracing. So the front door registers its class here
once, at import (:meth:`SideTable.set_kernel_factory`), and tracing reaches
wrapped kernels only through the :class:`TracedKernel` protocol: imports run
downward only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from tritonhost.errors import TritonhostError
from tritonhost.kernel.decorators import DecoratedKernel, read_decorators
from tritonhost.kernel.identity import IdentityCache


@attrs.frozen
class LaunchConstants:
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


class TracedKernel(Protocol):
    """What tracing uses of a wrapped kernel (:class:`tritonhost.WrappedKernel` is the one kind)."""

    #: The user's kernel object, as decorated.
    kernel: Any
    decorated: DecoratedKernel
    #: This kernel's id in the side table.
    table_index: int

    def __getitem__(self, grid: Any) -> Callable[..., None]:
        """The kernel on ``grid``, to call with the launch's arguments."""
        ...

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(params, options)`` of a launch's arguments, as the selected backend binds them."""
        ...


class SideTable:
    """A thread-safe registry of wrapped kernels and launch constants, by integer id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kernels: list[TracedKernel] = []
        self._by_kernel: IdentityCache[TracedKernel] = IdentityCache()
        self._constants: list[LaunchConstants] = []
        self._make: Callable[[Any, int], TracedKernel] | None = None
        #: ``lookup(kernel)``: the wrapped kernel of ``kernel`` if it has one, else None. Bound
        #: once, for ``tritonhost.wrap`` called inline on every launch.
        self.lookup: Callable[[Any], TracedKernel | None] = self._by_kernel.get

    def set_kernel_factory(self, make: Callable[[Any, int], TracedKernel]) -> None:
        """Say how to wrap a kernel: ``make(kernel, table_index)``. Called once, by the launch front door."""
        self._make = make

    def wrapped_for(self, kernel: Any) -> TracedKernel:
        """The one wrapped kernel of ``kernel``, made on first use (a clear error for what is not a kernel)."""
        wrapped = self._by_kernel.get(kernel)
        if wrapped is not None:
            return wrapped
        index = getattr(kernel, "table_index", None)
        if type(index) is int and index < len(self._kernels) and self._kernels[index] is kernel:
            return kernel  # already wrapped
        read_decorators(kernel)  # a clear error for what is not a kernel, before caching anything
        return self._by_kernel.get_or_make(kernel, self._add)

    def _add(self, kernel: Any) -> TracedKernel:
        if self._make is None:
            raise TritonhostError("tritonhost.launch was not imported; import tritonhost before wrapping kernels")
        with self._lock:
            index = len(self._kernels)
            wrapped = self._make(kernel, index)
            self._kernels.append(wrapped)
        # Also a module attribute: Dynamo reads a module's attributes as they are now,
        # where it would keep a stale copy of a list that grew during its trace.
        globals()[wrapped_attribute(index)] = wrapped
        return wrapped

    def wrapped(self, index: int) -> TracedKernel:
        """Wrapped kernel ``index``, as a graph node names it."""
        return self._kernels[index]

    def add_constants(self, constants: LaunchConstants) -> int:
        with self._lock:
            self._constants.append(constants)
            return len(self._constants) - 1

    def constants(self, index: int) -> LaunchConstants:
        return self._constants[index]


def wrapped_attribute(index: int) -> str:
    """The name under which this module holds wrapped kernel ``index``."""
    return f"wrapped_kernel_{index}"


#: The process's side table.
side_table = SideTable()
