"""How a launch enters a graph: under a tracer it becomes a ``tritonhost_kernel_mutation`` node.

A launch is traced when PyTorch is capturing: a dispatch mode is active (make_fx,
FakeTensor mode, export's functionalization) or a functorch transform is
(``torch.func.functionalize``). The check is two C calls, so eager launches stay
on their fast path. A FakeTensor outside its mode is no trace: the
backend refuses it with an error that names the argument.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from triton.tools.tensor_descriptor import TensorDescriptor

from tritonhost.errors import UnsupportedFeatureError
from tritonhost.tracing.hops import tritonhost_kernel_mutation
from tritonhost.tracing.side_table import LaunchConstants, TracedKernel, side_table

#: What a graph node can carry as a kernel argument; anything else is a constant.
GRAPH_VALUE_TYPES = (torch.Tensor, bool, int, float, torch.SymInt, torch.SymFloat, torch.SymBool)
#: How many torch dispatch modes are active (a tracer is one); the eager front door calls it inline.
dispatch_stack_depth = torch._C._len_torch_dispatch_stack
#: The innermost functorch transform, or None; torch.func.functionalize uses no dispatch mode.
functorch_interpreter = torch._C._functorch.peek_interpreter_stack


class TracedTMADescriptor(NamedTuple):
    """What :func:`make_tma_descriptor` gives while PyTorch traces: the tensor and how to describe it.

    A traced launch passes the tensor through the graph and the rest as
    constants; the descriptor is made when the kernel runs (see tracing/).
    """

    tensor: torch.Tensor
    api: str
    block_shape: tuple[int, ...]


def is_tracing() -> bool:
    """Whether this launch happens under a PyTorch tracer rather than eagerly."""
    return bool(dispatch_stack_depth()) or functorch_interpreter() is not None


def refuse_tensor_tuples(kernel: str, params: dict[str, Any]) -> None:
    """Raise for a tuple argument holding tensors: a traced launch cannot pass it yet.

    A graph node's arguments are flat; a tuple would go into the side table with its
    tensors, outside the graph, and the launch's writes to them would be lost.
    """
    for name, value in params.items():
        if isinstance(value, TracedTMADescriptor) or not isinstance(value, tuple):
            continue
        if any(isinstance(item, (torch.Tensor, TensorDescriptor)) for item in _leaves(value)):
            raise UnsupportedFeatureError(
                f"kernel {kernel}: argument {name!r} is a tuple holding tensors, which a traced launch "
                "(make_fx, torch.export, torch.compile) cannot pass yet; pass its tensors as separate "
                "parameters, or launch outside the traced region"
            )


def _leaves(value: tuple[Any, ...]) -> list[Any]:
    return [leaf for item in value for leaf in (_leaves(item) if isinstance(item, tuple) else [item])]


def descriptor_parts(kernel: str, name: str, value: Any) -> tuple[torch.Tensor, str, tuple[int, ...]] | None:
    """``(tensor, api, block_shape)`` of a TMA descriptor argument, or None for any other argument."""
    if isinstance(value, TracedTMADescriptor):
        return value.tensor, value.api, value.block_shape
    if isinstance(value, TensorDescriptor):
        base = value.base
        if list(value.shape) != list(base.shape) or list(value.strides) != list(base.stride()):
            raise UnsupportedFeatureError(
                f"kernel {kernel}: argument {name!r} is a TensorDescriptor over part of its tensor (shape "
                f"{list(value.shape)}, tensor {list(base.shape)}); a traced launch describes whole tensors. Make it "
                "with TensorDescriptor.from_tensor or tritonhost.make_tma_descriptor over the view you mean."
            )
        if getattr(value, "padding", "zero") != "zero":
            raise UnsupportedFeatureError(
                f"kernel {kernel}: argument {name!r} uses padding={value.padding!r}; traced launches support "
                "the default zero padding"
            )
        return base, "stable", tuple(int(b) for b in value.block_shape)
    return None


def trace_launch(wrapped: TracedKernel, grid: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Record the launch as a ``tritonhost_kernel_mutation`` call (which runs it, if the tracer runs ops)."""
    params, options = wrapped.bind(args, kwargs)
    decorated = wrapped.decorated
    refuse_tensor_tuples(decorated.name, params)
    tma = {}
    for name, value in params.items():
        parts = descriptor_parts(decorated.name, name, value)
        if parts is not None:
            params[name], tma[name] = parts[0], (parts[1], parts[2])
    in_graph = {
        name: value
        for name, value in params.items()
        if name not in decorated.constexprs and isinstance(value, GRAPH_VALUE_TYPES)
    }
    constants = LaunchConstants(
        params={name: value for name, value in params.items() if name not in in_graph},
        options=options,
        grid=grid if callable(grid) else None,
        tma=tma,
    )
    if callable(grid):
        graph_grid = None
    elif isinstance(grid, list):  # one grid per autotune config, from grids_per_config
        graph_grid = [tuple(g) for g in grid]
    else:
        graph_grid = [tuple(grid)]
    tritonhost_kernel_mutation(
        kernel_idx=wrapped.table_index,
        constant_args_idx=side_table.add_constants(constants),
        grid=graph_grid,
        kwargs=in_graph,
    )
