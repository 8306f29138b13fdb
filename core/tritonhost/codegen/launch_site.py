"""Kernel launches, and TMA descriptors made before them, as the generated wrapper calls them.

A :class:`LaunchSite` is one launch site of a compiled program: the kernel,
its constexprs, launch options and backend are fixed when the wrapper is
generated, so a call passes only what changes (tensors, sizes, the grid). The
generated code names it after its kernel (``launch_add_kernel(...)``).

A :class:`LaunchContext` reads, for the launches that follow it in the wrapper, what a
prepared launch would read on each launch: the current device and stream
(``context = launch_context()``, passed to each ``launch_<kernel>(context, ...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import torch

from tritonhost.contract import Grid3, PreparedLaunch, spec_for
from tritonhost.host.selection import Backend
from tritonhost.kernel.grid import pick_config_grid
from tritonhost.launch.wrap import WrappedKernel
from tritonhost.tracing.side_table import side_table


class LaunchContext:
    """``context()``: the launch context of a wrapper's prepared launches, read once for several.

    The wrapper generator makes one per wrapper and calls it before a run of launches (again
    after any other operation, which might change the current stream). It returns None
    until one of the wrapper's launch sites has a prepared launch that reads a context
    (:class:`tritonhost.contract.PreparedLaunch`); then each launch reads its own.
    """

    def __init__(self) -> None:
        self._read: Callable[[], object] | None = None
        # What FX calls it in generated code: `launch_context()`.
        self.__name__ = self.__qualname__ = "context"
        self.__module__ = "launch"

    def __repr__(self) -> str:
        return "<launch context>"

    def learn(self, prepared: PreparedLaunch) -> bool:
        """Read contexts through ``prepared`` from now on, if it reads one; whether the context it takes is this one's."""
        read = getattr(prepared, "context", None)
        if read is None:
            return False
        if self._read is None:
            self._read = read
            return True
        # All of a wrapper's launch sites are on one backend, whose prepared launches read the
        # same state; one of another type might not take this context.
        return type(getattr(self._read, "__self__", None)) is type(prepared)

    def __call__(self) -> object:
        read = self._read
        return None if read is None else read()


class LaunchSite:
    """``launch(context, grid=..., **graph_args)`` runs one kernel with the constants of its launch site.

    ``context`` is what the wrapper's :class:`LaunchContext` returned, or None.
    """

    def __init__(
        self,
        kernel_idx: int,
        backend: Backend,
        constants: Mapping[str, Any],
        options: Mapping[str, Any],
        grid_function: Any = None,
        varying: Collection[str] | None = None,
        context: LaunchContext | None = None,
    ) -> None:
        wrapped = side_table.wrapped(kernel_idx)
        assert isinstance(wrapped, WrappedKernel)
        self.wrapped = wrapped
        self.backend = backend
        self.runner = wrapped.runner(backend)
        #: Constexprs and other non-graph parameters the generated call does not show.
        self.constants = dict(constants)
        self.options = dict(options)
        self.grid_function = grid_function
        # A kernel with no decorators launches straight through the backend's launcher, and
        # through a prepared launch when the launcher offers one (see the Launcher protocol in contract.py).
        self.direct = not wrapped.decorated.layers
        self.arg_names = wrapped.decorated.arg_names
        self.prepared: PreparedLaunch | None = None
        #: Parameters whose kind (alignment, size class) may change between calls.
        self.varying = None if varying is None else frozenset(varying)
        self._prepare = getattr(self.runner.launcher, "prepare", None)
        self._context = context
        #: Whether the prepared launch takes the wrapper's launch context.
        self._takes_context = False
        # What FX calls a function in generated code: `launch_<kernel>`.
        self.__name__ = self.__qualname__ = wrapped.decorated.name
        self.__module__ = "launch"

    def __repr__(self) -> str:
        return f"<launch of {self.__name__} on {self.backend.name}>"

    @property
    def may_launch_prepared(self) -> bool:
        """Whether calls with a grid may launch prepared, so that a launch context may serve them."""
        return self.direct and (self._prepare is not None or self.prepared is not None)

    def __call__(self, context: object = None, /, *, grid: Grid3 | Sequence[Grid3] | None = None, **args: Any) -> None:
        if self.direct and grid is not None:
            if self.constants:
                args.update(self.constants)  # a fresh dict each call: Python built it for **args
            values = [args[name] for name in self.arg_names]
            prepared = self.prepared
            if prepared is not None:
                if context is not None and self._takes_context:
                    if prepared(grid, values, context):  # type: ignore[arg-type, call-arg]
                        return
                elif prepared(grid, values):  # type: ignore[arg-type]
                    return
            self.runner.launcher(grid, args, self.options)  # type: ignore[arg-type]
            if prepared is None and self._prepare is not None:
                # After a launch that worked: the binary exists and the arguments are valid.
                self.prepared = prepared = self._prepare(args, self.options, self.varying)
                self._prepare = None
                if prepared is not None and self._context is not None:
                    self._takes_context = self._context.learn(prepared)
            return
        if grid is None:
            launch_grid: Any = self.grid_function
        elif isinstance(grid, list):  # one per autotune config: the chosen config's is used
            launch_grid = pick_config_grid(self.wrapped.decorated, grid)
        else:
            launch_grid = grid
        self.runner.launch(launch_grid, (), {**args, **self.constants, **self.options})


class TMADescriptorMaker:
    """Makes descriptors on one backend: ``maker(tensor, api, block_shape)``.

    A generated wrapper calls it just before the launch that takes the
    descriptor, so the descriptor describes the buffer as it is then. FX names
    it after the backend in generated code (``cuda_make_tma_descriptor(...)``).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.__name__ = self.__qualname__ = "make_tma_descriptor"
        self.__module__ = backend.name

    def __call__(self, tensor: torch.Tensor, api: str, block_shape: tuple[int, ...]) -> object:
        return self.backend.make_tma_descriptor(tensor, spec_for(tensor, api, block_shape))
