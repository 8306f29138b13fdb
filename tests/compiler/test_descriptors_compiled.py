"""TMA descriptors through tracing and the compiler: the graph carries the tensor, the launch makes the descriptor."""

from __future__ import annotations

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx
from triton.tools.tensor_descriptor import TensorDescriptor

import tritonhost
from kernels import descriptor_copy_kernel
from tritonhost.codegen.backend import capture_wrappers, compile_graph
from tritonhost.ir import TMADescriptor, UserDefinedTritonKernel

pytestmark = pytest.mark.usefixtures("interpreter")

copy = tritonhost.wrap(descriptor_copy_kernel)


def doubled_through_descriptors(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    copy[(2, 2)](
        tritonhost.make_tma_descriptor(x, (8, 16)), tritonhost.make_tma_descriptor(out, (8, 16)),
        BLOCK_M=8, BLOCK_N=16,
    )
    return out


def test_make_fx_records_the_tensor_and_functionalization_clones_only_the_written_one():
    graph = make_fx(torch.func.functionalize(doubled_through_descriptors), tracing_mode="fake")(torch.randn(16, 32))
    (node,) = [n for n in graph.graph.nodes if "tritonhost_kernel_functional" in str(n.target)]
    assert node.kwargs["tensors_to_clone"] == ["out_desc"]  # the analysis sees the descriptor store
    assert all(isinstance(v, torch.fx.Node) for v in node.kwargs["kwargs"].values())  # tensors, not descriptors
    x = torch.randn(16, 32)
    torch.testing.assert_close(graph(x), 2 * x)


def test_a_tensor_descriptor_made_by_hand_is_traced_too():
    def fn(x):
        out = torch.empty_like(x)
        copy[(2, 2)](TensorDescriptor.from_tensor(x, [8, 16]), TensorDescriptor.from_tensor(out, [8, 16]),
                     BLOCK_M=8, BLOCK_N=16)
        return out

    x = torch.randn(16, 32)
    graph = make_fx(torch.func.functionalize(fn), tracing_mode="fake")(x)
    torch.testing.assert_close(graph(x), 2 * x)


def test_a_descriptor_over_part_of_a_tensor_is_refused_clearly():
    def fn(x):
        out = torch.empty_like(x)
        partial = TensorDescriptor(x, [8, 32], list(x.stride()), [8, 16])  # only the first 8 rows
        copy[(1, 2)](partial, TensorDescriptor.from_tensor(out, [8, 16]), BLOCK_M=8, BLOCK_N=16)
        return out

    with pytest.raises(tritonhost.UnsupportedFeatureError, match="over part of its tensor"):
        make_fx(fn, tracing_mode="fake")(torch.randn(16, 32))


def test_compiled_program_makes_descriptors_at_launch():
    x = torch.randn(16, 32)
    with capture_wrappers() as wrappers:
        torch._dynamo.reset()
        got = torch.compile(doubled_through_descriptors, backend="tritonhost", fullgraph=True)(x)
    torch.testing.assert_close(got, 2 * x)
    (wrapper,) = wrappers
    (kernel,) = [op for op in wrapper.program.operations if isinstance(op, UserDefinedTritonKernel)]
    descriptors = kernel.tma_descriptors()
    assert [d.api for d in descriptors] == ["stable", "stable"]
    assert all(isinstance(d, TMADescriptor) and d.block_shape == (8, 16) for d in descriptors)
    assert "TMADescriptor(stable, arg0_1, block_shape=[8, 16])" in str(wrapper.program)
    code = wrapper.code
    assert "in_desc_descriptor = interpreter_make_tma_descriptor(arg0_1, 'stable', (8, 16))" in code
    assert "launch_descriptor_copy_kernel(in_desc = in_desc_descriptor, out_desc = out_desc_descriptor" in code


def test_make_fx_graph_with_descriptors_compiles():
    x = torch.randn(16, 32)
    graph = make_fx(torch.func.functionalize(doubled_through_descriptors), tracing_mode="fake")(x)
    torch.testing.assert_close(compile_graph(graph)(x)[0], 2 * x)


@pytest.mark.gpu
def test_compiled_program_with_descriptors_on_the_gpu():
    with tritonhost.use_backend("cuda"):
        x = torch.randn(16, 32, device="cuda")
        torch._dynamo.reset()
        got = torch.compile(doubled_through_descriptors, backend="tritonhost", fullgraph=True)(x)
        torch.testing.assert_close(got, 2 * x)
