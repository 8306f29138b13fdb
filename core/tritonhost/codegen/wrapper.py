"""The wrapper generator: a :class:`~tritonhost.ir.Program` in, a ``torch.fx.GraphModule`` out.

The module's ``forward`` takes the program's inputs, allocates buffers
(as Inductor does, compat/allocation.py, or a dead buffer's storage taken over), launches the
kernels through the backend chosen at generation, calls fallback ATen
operations, and returns the outputs. Sizes and grids are FX nodes computed
from the inputs' sizes. FX drops each value after its last use (``buf0 =
None``), which frees the storage once nothing else holds it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import sympy
import torch
import torch.fx

from tritonhost.codegen.expressions import ExpressionBuilder
from tritonhost.codegen.launch_site import LaunchContext, LaunchSite, TMADescriptorMaker
from tritonhost.compat.allocation import allocator_for
from tritonhost.host.selection import Backend
from tritonhost.ir.buffers import Buffer, ComputedBuffer, InputBuffer, storage_owner
from tritonhost.ir.nodes import Allocate, FallbackKernel, UserDefinedTritonKernel
from tritonhost.ir.program import Program, SymbolInput
from tritonhost.ir.tma import TMADescriptor
from tritonhost.tracing.side_table import side_table

#: Constant types that print as Python literals in generated code.
_LITERALS = (int, float, bool, str, type(None))


class WrapperGenerator:
    """Generates one wrapper; use :func:`generate_wrapper`."""

    def __init__(self, program: Program, backend: Backend) -> None:
        self.program = program
        self.backend = backend
        self.graph = torch.fx.Graph()
        self.env: dict[str, torch.fx.Node] = {}
        self.expressions = ExpressionBuilder(self.graph, {})
        #: Launch objects by kernel and hidden constants: launch sites that differ only in
        #: what the call shows share one.
        self.launches: dict[Any, LaunchSite] = {}
        self.buffers = {buffer.name: buffer for buffer in program.buffers()}
        self.tma_maker = TMADescriptorMaker(backend)
        #: Reads the launch context (device, stream) once for a run of direct launches.
        self.launch_context = LaunchContext()
        #: The node holding it for the launches from here on; None after an operation that
        #: might change it (any ATen call: a stream switch is one), read again before the next.
        self.context_node: torch.fx.Node | None = None

    def generate(self) -> torch.fx.GraphModule:
        self.inputs()
        for op in self.program.operations:
            if isinstance(op, Allocate):
                self.allocate(op.buffer)
            elif isinstance(op, UserDefinedTritonKernel):
                self.launch(op)
            else:
                self.fallback(op)
        self.graph.output(tuple(self.value(out) for out in self.program.outputs))
        self.graph.lint()
        module = torch.fx.GraphModule(torch.nn.Module(), self.graph, class_name="TritonhostWrapper")
        return module

    def value(self, value: Any) -> Any:
        """The wrapper's value for an IR argument."""
        if isinstance(value, Buffer):
            return self.env[value.name]
        if isinstance(value, TMADescriptor):
            return self.env[value.name]
        if isinstance(value, sympy.Basic):
            return self.expressions(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    def node(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> torch.fx.Node:
        return self.graph.create_node("call_function", target, args, kwargs, name=name)

    # --- inputs and sizes ------------------------------------------------------------------

    def inputs(self) -> None:
        nodes = {item.name: self.graph.placeholder(item.name) for item in self.program.inputs}
        sources: dict[sympy.Symbol, Any] = {}
        # A SymInt input gives its symbol for free; other symbols are read off input tensors.
        for item in self.program.inputs:
            if isinstance(item, SymbolInput):
                sources[item.symbol] = _given(nodes[item.name])
        for item in self.program.inputs:
            if not isinstance(item, InputBuffer):
                continue
            self.env[item.name] = nodes[item.name]
            layout = item.fixed_layout
            for dim, (size, stride) in enumerate(zip(layout.size, layout.stride)):
                for method, expr in (("size", size), ("stride", stride)):
                    if isinstance(expr, sympy.Symbol) and expr not in sources:
                        sources[expr] = self._dim_source(nodes[item.name], method, dim, expr)
        self.expressions = ExpressionBuilder(self.graph, sources)

    def _dim_source(self, tensor: torch.fx.Node, method: str, dim: int, symbol: sympy.Symbol) -> Any:
        def make() -> torch.fx.Node:
            return self.graph.create_node("call_method", method, (tensor, dim), name=str(symbol))

        return make

    # --- operations ------------------------------------------------------------------------

    def allocate(self, buffer: ComputedBuffer) -> None:
        layout = buffer.fixed_layout
        if buffer.reuses is not None:
            old = self.env[buffer.reuses]
            if self.buffers[buffer.reuses].fixed_layout.same_as(layout):
                self.env[buffer.name] = old  # same layout: the old variable is the new buffer
                return
            self.env[buffer.name] = self.node(
                torch.as_strided,
                (old, self.value(layout.size), self.value(layout.stride)),
                {},
                buffer.name,
            )
            return
        size, stride = self.value(layout.size), self.value(layout.stride)
        allocate = allocator_for(torch.device(layout.device))
        if allocate is not None:  # as Inductor's wrappers allocate: no argument parser, no dispatcher
            self.env[buffer.name] = self.node(allocate, (size, stride, layout.dtype), {}, buffer.name)
            return
        self.env[buffer.name] = self.node(
            torch.empty_strided, (size, stride), {"dtype": layout.dtype, "device": layout.device}, buffer.name
        )

    def launch(self, kernel: UserDefinedTritonKernel) -> None:
        for value in kernel.args.values():
            if isinstance(value, TMADescriptor):
                self.env[value.name] = self.node(
                    self.tma_maker, (self.env[value.buffer.name], value.api, value.block_shape), {}, value.name
                )
        constants = side_table.constants(kernel.constants_idx)
        # Constexprs a reader can read (ints, floats, strings...) are shown in the call; the
        # others (dtypes, functions...) and launch options stay in the launch object.
        shown = {name: value for name, value in constants.params.items() if type(value) in _LITERALS}
        hidden = {name: value for name, value in constants.params.items() if name not in shown}
        varying = self._varying(kernel)
        key = (
            kernel.kernel_idx,
            tuple((name, id(value)) for name, value in hidden.items()),
            tuple(constants.options.items()),
            id(constants.grid),
        )
        launch = self.launches.get(key)
        if launch is None:
            launch = self.launches[key] = LaunchSite(
                kernel.kernel_idx, self.backend, hidden, constants.options, constants.grid, varying,
                self.launch_context,
            )  # fmt: skip
        else:  # one launch object serves several sites: check what varies at any of them
            launch.varying = launch.varying | varying if launch.varying is not None else None
        kwargs = {name: self.value(value) for name, value in kernel.args.items()}
        kwargs.update(shown)
        if kernel.grids is not None:
            grids = [tuple(self.value(size) for size in grid) for grid in kernel.grids]
            kwargs["grid"] = grids[0] if len(grids) == 1 or all(g == grids[0] for g in grids) else grids
        args: tuple[Any, ...] = ()
        if launch.may_launch_prepared and kernel.grids is not None:  # the launches that may be prepared
            if self.context_node is None:
                self.context_node = self.node(self.launch_context, (), {}, "context")
            args = (self.context_node,)
        self.node(launch, args, kwargs, kernel.name)
        for output in kernel.outputs():
            self.env[output.name] = self.env[output.owner]

    def _varying(self, kernel: UserDefinedTritonKernel) -> frozenset[str]:
        """Arguments whose kind may change between calls: all but the wrapper's own buffers and fixed ints.

        A buffer the wrapper allocates is always 16-byte aligned; a tensor it is given,
        or a view an ATen call makes, may not be; a symbolic size may equal 1 or not.
        """
        varying = set()
        for name, value in kernel.args.items():
            if isinstance(value, Buffer):
                if not isinstance(storage_owner(value, self.buffers), ComputedBuffer):
                    varying.add(name)
            elif isinstance(value, sympy.Basic) and value.free_symbols:
                varying.add(name)
        return frozenset(varying)

    def fallback(self, op: FallbackKernel) -> None:
        self.context_node = None
        name = op.result.name if isinstance(op.result, Buffer) else getattr(op.target, "__name__", "fallback")
        node = self.node(op.target, self.value(op.args), self.value(dict(op.kwargs)), name.split(".")[0])
        if isinstance(op.result, Buffer):
            self.env[op.result.name] = node
            return
        if isinstance(op.result, (list, tuple)):
            for index, item in enumerate(op.result):
                if isinstance(item, Buffer):
                    self.env[item.name] = self.node(operator.getitem, (node, index), {}, item.name)


def _given(node: torch.fx.Node) -> Callable[[], torch.fx.Node]:
    return lambda: node


def generate_wrapper(program: Program, backend: Backend) -> torch.fx.GraphModule:
    """The program as a runnable ``GraphModule`` whose kernels run on ``backend``."""
    return WrapperGenerator(program, backend).generate()
