"""PyTorch's own user-kernel operators in a Dynamo graph, taken over as tritonhost's.

Where Triton can compile, Dynamo models a ``kernel[grid](...)``,
``wrap_triton(kernel)[grid](...)`` or ``triton_op`` launch itself and records
``torch.ops.higher_order.triton_kernel_wrapper_mutation``, with the kernel and
its constant arguments in PyTorch's side table. :func:`adopt_pytorch_kernels`
rewrites each such node, before AOTAutograd sees the graph, into a
``tritonhost_kernel_mutation`` node over tritonhost's side table: the same
kernel, grids (one per autotune config, as both record them), graph arguments,
constants and TMA descriptor metadata. From there the launch goes through
tritonhost's analysis, functionalization, lowering and backend like any other,
so an existing program compiles with ``backend="tritonhost"`` unchanged.

A ``triton_op`` reaches the graph as a custom operator that AOTAutograd itself
decomposes into PyTorch's ``triton_kernel_wrapper_functional``; that form is
taken over too, after AOTAutograd, keeping the tensors PyTorch chose to clone
(its analysis; each written argument on its own copy, as PyTorch's runs it).
"""

from __future__ import annotations

from typing import Any

import torch.fx
from torch._higher_order_ops.triton_kernel_wrap import (
    kernel_side_table,
    triton_kernel_wrapper_functional,
    triton_kernel_wrapper_mutation,
)

from tritonhost.errors import UnsupportedFeatureError
from tritonhost.tracing.hops import tritonhost_kernel_functional, tritonhost_kernel_mutation
from tritonhost.tracing.side_table import LaunchConstants, side_table


def _descriptors(kernel: str, metadata: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """PyTorch's TMA descriptor metadata as tritonhost's: ``name -> (api, block_shape)``."""
    descriptors = {}
    for name, (api, data) in metadata.items():
        if api != "stable":  # ("experimental", (dims, block_dims, element_size)): gone from Triton 3.6 on
            raise UnsupportedFeatureError(
                f"kernel {kernel}: argument {name!r} is a TMA descriptor PyTorch records as {api!r}; tritonhost "
                "takes over stable descriptors only: make it with triton.tools.tensor_descriptor.TensorDescriptor"
            )
        descriptors[name] = ("stable", tuple(int(b) for b in data[0]))  # ("stable", (block_shape,))
    return descriptors


def adopt_pytorch_kernels(graph_module: torch.fx.GraphModule) -> int:
    """Rewrite PyTorch's user-kernel operator nodes into tritonhost's, in place; return how many.

    ``triton_kernel_wrapper_mutation`` (in a Dynamo graph) becomes
    ``tritonhost_kernel_mutation``; ``triton_kernel_wrapper_functional`` (after
    AOTAutograd, from a ``triton_op``) becomes ``tritonhost_kernel_functional``.
    Nested graphs are rewritten too: Dynamo records an ``autograd.Function`` (the way
    kernel libraries give their kernels a backward) as ``autograd_function_apply``
    over a forward and a backward subgraph, and the launches sit in those; a launch
    left there in PyTorch's form would reach AOTAutograd with PyTorch's analysis
    rather than tritonhost's.
    """
    adopted = 0
    for module in graph_module.modules():
        if isinstance(module, torch.fx.GraphModule):
            adopted += _adopt_in(module)
    return adopted


def _adopt_in(graph_module: torch.fx.GraphModule) -> int:
    """:func:`adopt_pytorch_kernels` for the nodes of one graph, not those of its subgraphs."""
    adopted = 0
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.target not in (
            triton_kernel_wrapper_mutation,
            triton_kernel_wrapper_functional,
        ):
            continue
        kwargs = node.kwargs
        kernel = kernel_side_table.get_kernel(int(kwargs["kernel_idx"]))  # type: ignore[arg-type]
        wrapped = side_table.wrapped_for(kernel)
        constants = LaunchConstants(
            params=dict(kernel_side_table.get_constant_args(int(kwargs["constant_args_idx"]))),  # type: ignore[arg-type]
            options={},
            tma=_descriptors(wrapped.decorated.name, dict(kwargs.get("tma_descriptor_metadata") or {})),  # type: ignore[call-overload]
        )
        ours: dict[str, Any] = {
            "kernel_idx": wrapped.table_index,
            "constant_args_idx": side_table.add_constants(constants),
            "grid": [tuple(grid) for grid in kwargs["grid"]],  # type: ignore[union-attr]
            "kwargs": dict(kwargs["kwargs"]),  # type: ignore[call-overload]
        }
        if node.target is triton_kernel_wrapper_functional:
            node.target = tritonhost_kernel_functional
            node.kwargs = {**ours, "tensors_to_clone": list(kwargs["tensors_to_clone"]), "same_tensor": []}  # type: ignore[call-overload]
        else:
            node.target = tritonhost_kernel_mutation
            node.kwargs = ours
        adopted += 1
    if adopted:
        graph_module.graph.lint()
        graph_module.recompile()
    return adopted
