"""Lowering: a traced, functionalized graph in; a :class:`Program` out.

The graph comes from AOTAutograd (or ``make_fx`` with functionalization): ATen
calls, SymInt arithmetic, ``tritonhost_kernel_functional`` nodes with the
``getitem``\\ s that read their results, and ``copy_`` nodes that write mutated
inputs back. Each becomes IR: kernels, fallback calls, allocations.

Copies that eager code did not make are re-inplaced as the kernels are lowered
(:mod:`tritonhost.ir.reinplace`).
"""

from __future__ import annotations

import operator
from typing import Any

import sympy
import torch
import torch.fx
import torch.utils._pytree as pytree
from torch.multiprocessing.reductions import StorageWeakRef

from tritonhost.errors import UnsupportedFeatureError
from tritonhost.ir.buffers import Buffer, ComputedBuffer, FallbackOutput, InputBuffer, MutationOutput
from tritonhost.ir.layout import (
    Expr,
    FixedLayout,
    FlexibleLayout,
    MutationLayout,
    NonOwningLayout,
    as_expr,
)
from tritonhost.ir.nodes import Allocate, FallbackKernel, Operation, UserDefinedTritonKernel
from tritonhost.ir.program import ConstantInput, Input, Program, SymbolInput
from tritonhost.ir.reinplace import Reinplacer, storage_of, val_of
from tritonhost.ir.tma import TMADescriptor
from tritonhost.tracing.hops import (
    tritonhost_kernel_functional,
    tritonhost_kernel_mutation,
    written_tensors,
)
from tritonhost.tracing.side_table import side_table

aten = torch.ops.aten

#: Allocations with no data: the wrapper makes them itself, so it can plan their memory.
_EMPTY_OPS = {
    aten.empty.memory_format,
    aten.empty_like.default,
    aten.empty_strided.default,
    aten.new_empty.default,
    aten.new_empty_strided.default,
}


class Lowering:
    """Lowers one graph; use :func:`lower`."""

    def __init__(self, graph_module: torch.fx.GraphModule) -> None:
        self.nodes = list(graph_module.graph.nodes)
        self.env: dict[torch.fx.Node, Any] = {}
        self.operations: list[Operation] = []
        self.inputs: list[Input] = []
        self.reinplacer = Reinplacer(self.nodes)
        self._count = 0

    def new_name(self) -> str:
        name = f"buf{self._count}"
        self._count += 1
        return name

    # --- driver ----------------------------------------------------------------------------

    def run(self) -> Program:
        outputs: Any = ()
        for index, node in enumerate(self.nodes):
            if node.op == "placeholder":
                self.placeholder(node)
            elif node.op == "call_function":
                self.call_function(index, node)
            elif node.op == "output":
                outputs = pytree.tree_map(self.value, node.args[0])
            else:
                raise UnsupportedFeatureError(
                    f"tritonhost cannot lower graph node {node.format_node()}: only placeholders, calls and the "
                    "output are expected after AOTAutograd"
                )
        for op in self.operations:
            if isinstance(op, Allocate):
                op.buffer.decide_layout()
        return Program(self.inputs, self.operations, list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])

    def value(self, arg: Any) -> Any:
        return self.env[arg] if isinstance(arg, torch.fx.Node) else arg

    def placeholder(self, node: torch.fx.Node) -> None:
        val = val_of(node)
        if isinstance(val, torch.Tensor):
            buffer = InputBuffer(node.name, FixedLayout.of(val))
            self.reinplacer.input_storages.add(StorageWeakRef(val.untyped_storage()))
            self.inputs.append(buffer)
            self.env[node] = buffer
        elif isinstance(val, torch.SymInt):
            expr = as_expr(val)
            if not isinstance(expr, sympy.Symbol):
                raise UnsupportedFeatureError(f"graph input {node.name} is the expression {expr}, not a size symbol")
            self.inputs.append(SymbolInput(node.name, expr))
            self.env[node] = expr
        else:
            self.inputs.append(ConstantInput(node.name, val))
            self.env[node] = val

    def call_function(self, index: int, node: torch.fx.Node) -> None:
        target = node.target
        val = val_of(node)
        if target is tritonhost_kernel_functional:
            self.env[node] = self.kernel(index, node)
        elif target is tritonhost_kernel_mutation:
            self.mutating_kernel(node)
            self.env[node] = None
        elif target is operator.getitem and isinstance(
            self.env.get(node.args[0]), (dict, list, tuple)  # type: ignore[arg-type]
        ):
            self.env[node] = self.env[node.args[0]][node.args[1]]  # type: ignore[index]
        elif isinstance(val, torch.SymInt) or (_is_size_arithmetic(target) and not isinstance(val, torch.Tensor)):
            self.env[node] = self.symbolic(node)
        elif target in _EMPTY_OPS:
            self.env[node] = self.allocation(node)
        elif target is aten.copy_.default and node in self.reinplacer.redundant_copies:
            self.env[node] = self.env[node.args[0]]  # type: ignore[index]
        else:
            self.env[node] = self.fallback(node)

    # --- sizes -----------------------------------------------------------------------------

    def symbolic(self, node: torch.fx.Node) -> Any:
        val = val_of(node)
        if isinstance(val, torch.SymInt):
            expr = as_expr(val)
            if any(str(s).startswith("u") for s in expr.free_symbols):
                raise UnsupportedFeatureError(
                    f"node {node.name} computes {expr}, a size known only when the program runs (from a tensor's "
                    "data); tritonhost's wrapper needs sizes computable from the inputs' shapes"
                )
            return expr
        if isinstance(val, (torch.SymFloat, torch.SymBool)):
            raise UnsupportedFeatureError(
                f"node {node.name} computes a symbolic {type(val).__name__} ({val}); tritonhost's wrapper computes "
                "symbolic integers (sizes) only"
            )
        return val

    # --- allocations -----------------------------------------------------------------------

    def allocation(self, node: torch.fx.Node) -> ComputedBuffer:
        val = val_of(node)
        if node.target in (aten.empty_strided.default, aten.new_empty_strided.default):
            layout: FixedLayout | FlexibleLayout = FixedLayout.of(val)
        else:
            # Dense strides in the order ATen picks for this call (the source's, for *_like).
            order = sorted(range(val.dim()), key=lambda d: (val.stride()[d], -d)) if val.dim() else []
            default = list(reversed(range(val.dim())))
            layout = FlexibleLayout(val.device, val.dtype, val.size(), None if order == default else tuple(order))
        buffer = ComputedBuffer(self.new_name(), layout)
        self.operations.append(Allocate(buffer))
        return buffer

    # --- kernels ---------------------------------------------------------------------------

    def kernel(self, index: int, node: torch.fx.Node) -> dict[str, MutationOutput]:
        kwargs: dict[str, Any] = dict(node.kwargs["kwargs"])  # type: ignore[arg-type]
        to_clone: list[str] = list(node.kwargs["tensors_to_clone"])  # type: ignore[arg-type]
        outputs_val: dict[str, torch.Tensor] = val_of(node)
        args = {name: self.value(arg) for name, arg in kwargs.items()}
        outputs: dict[str, MutationOutput] = {}
        # Parameters share a buffer only where the program passed them one tensor (recorded at
        # functionalization); equal nodes merged by a later graph pass do not.
        same_tensor: list[list[str]] = list(node.kwargs.get("same_tensor") or [])  # type: ignore[arg-type]
        group_of = {name: group for group in same_tensor for name in group}
        for param in to_clone:
            if param in outputs:
                continue
            source = kwargs[param]
            group = group_of.get(param, [param])
            siblings = [arg for name, arg in kwargs.items() if name not in group and isinstance(arg, torch.fx.Node)]
            target = self.reinplacer.target(index, source, outputs_val[param], self.env, siblings)
            if target is None:
                target = self.copy_of(self.env[source])
            out = MutationOutput(self.new_name(), MutationLayout(target.name, target.fixed_layout))
            for name in group:
                args[name] = target
                if name in to_clone:
                    outputs[name] = out
        self.add_kernel(node, args, to_clone, outputs)
        return outputs

    def mutating_kernel(self, node: torch.fx.Node) -> None:
        """A launch that was not functionalized: it writes its arguments in place, as traced."""
        kwargs: dict[str, Any] = dict(node.kwargs["kwargs"])  # type: ignore[arg-type]
        kernel_idx = _int_kwarg(node, "kernel_idx")
        constants_idx = _int_kwarg(node, "constant_args_idx")
        written = written_tensors(kernel_idx, constants_idx, {k: val_of(v) for k, v in kwargs.items()})
        self.add_kernel(node, {name: self.value(arg) for name, arg in kwargs.items()}, written, {})

    def add_kernel(
        self, node: torch.fx.Node, args: dict[str, Any], mutated: list[str], outputs: dict[str, MutationOutput]
    ) -> None:
        """Append the kernel node, its TMA descriptor parameters turned into descriptor nodes."""
        kernel_idx = _int_kwarg(node, "kernel_idx")
        constants_idx = _int_kwarg(node, "constant_args_idx")
        for name, (api, block_shape) in side_table.constants(constants_idx).tma.items():
            args[name] = TMADescriptor(f"{name}_descriptor", args[name], api, tuple(block_shape))
        self.operations.append(
            UserDefinedTritonKernel(
                name=side_table.wrapped(kernel_idx).decorated.name,
                kernel_idx=kernel_idx,
                constants_idx=constants_idx,
                grids=self.grids(node.kwargs["grid"]),
                args=args,
                mutated=mutated,
                outputs_by_param=outputs,
            )
        )

    def grids(self, grids: Any) -> list[tuple[Expr, Expr, Expr]] | None:
        if grids is None:
            return None
        lowered = []
        for grid in grids:
            dims = [self.value(size) for size in grid]
            lowered.append((as_expr(dims[0]), as_expr(dims[1]), as_expr(dims[2])))
        return lowered

    def copy_of(self, source: Buffer) -> ComputedBuffer:
        """A buffer the kernel may write, holding ``source``'s data: the copy eager code did not need."""
        layout = source.fixed_layout
        buffer = ComputedBuffer(self.new_name(), FixedLayout(layout.device, layout.dtype, layout.size, layout.stride))
        self.operations.append(Allocate(buffer))
        self.operations.append(
            FallbackKernel(
                aten.copy_.default,
                (buffer, source),
                {},
                MutationOutput(self.new_name(), MutationLayout(buffer.name, buffer.fixed_layout)),
            )
        )
        return buffer

    # --- everything else -------------------------------------------------------------------

    def fallback(self, node: torch.fx.Node) -> Any:
        args = pytree.tree_map(self.value, node.args)
        kwargs = pytree.tree_map(self.value, dict(node.kwargs))
        inputs = [arg for arg in node.all_input_nodes if isinstance(val_of(arg), torch.Tensor)]
        mutated = _mutated_argument_positions(node.target)

        def output(val: Any) -> Any:
            if isinstance(val, torch.Tensor):
                storage = StorageWeakRef(val.untyped_storage())
                for position, arg in enumerate(node.args):
                    if position in mutated and isinstance(arg, torch.fx.Node) and storage_of(val_of(arg)) == storage:
                        target = self.env[arg]
                        return MutationOutput(self.new_name(), MutationLayout(target.name, target.fixed_layout))
                for arg in inputs:
                    if storage_of(val_of(arg)) == storage:
                        return FallbackOutput(
                            self.new_name(),
                            NonOwningLayout(self.env[arg].name, FixedLayout.of(val, self._shift(val))),
                        )
                return FallbackOutput(self.new_name(), FixedLayout.of(val))
            if isinstance(val, torch.SymInt):
                return as_expr(val)
            return val

        result = pytree.tree_map(output, val_of(node))
        self.operations.append(FallbackKernel(node.target, tuple(args), kwargs, result))  # type: ignore[arg-type]
        return result

    def _shift(self, val: torch.Tensor) -> Expr:
        return self.reinplacer.storages.absolute_offset(val) - as_expr(val.storage_offset())


def _int_kwarg(node: torch.fx.Node, name: str) -> int:
    value: Any = node.kwargs[name]
    return int(value)


def _mutated_argument_positions(target: Any) -> set[int]:
    schema = getattr(target, "_schema", None)
    if schema is None:
        return set()
    return {i for i, arg in enumerate(schema.arguments) if arg.alias_info is not None and arg.alias_info.is_write}


def _is_size_arithmetic(target: Any) -> bool:
    """Python or SymInt arithmetic on sizes (``s0 + 15``, ``x.size(0)``), as opposed to a tensor op."""
    if target in (aten.sym_size.int, aten.sym_stride.int, aten.sym_numel.default, aten.sym_storage_offset.default):
        return True
    return getattr(target, "__module__", None) in ("_operator", "operator", "math", "builtins") or (
        getattr(target, "__name__", "").startswith("sym_") and getattr(target, "__module__", "") == "torch"
    )


def lower(graph_module: torch.fx.GraphModule) -> Program:
    """The IR of a traced, functionalized graph (AOTAutograd's forward or backward graph)."""
    return Lowering(graph_module).run()
