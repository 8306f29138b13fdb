"""Written tensors keep their own memory through tracing, whatever later graph passes merge.

AOTAutograd's common-subexpression elimination merges equal allocations (two
``torch.zeros(n)``, three ``g.new_empty(shape)``) after functionalization, so one
tensor object arrives at several written parameters. Each must still get its own
copy; only a tensor the program really passed twice shares one.
"""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

import tritonhost
from tritonhost.tracing.hops import tritonhost_kernel_functional
from tritonhost.tracing.side_table import LaunchConstants, side_table


@triton.jit
def accumulate_two(x_ptr, a_ptr, b_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(a_ptr + offsets, tl.load(a_ptr + offsets, mask=mask) + x * 1000, mask=mask)
    tl.store(b_ptr + offsets, tl.load(b_ptr + offsets, mask=mask) + x, mask=mask)


@triton.jit
def scale_three(g_ptr, d1_ptr, d2_ptr, d3_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    g = tl.load(g_ptr + offsets, mask=mask)
    tl.store(d1_ptr + offsets, g, mask=mask)
    tl.store(d2_ptr + offsets, g * 10, mask=mask)
    tl.store(d3_ptr + offsets, g * 100, mask=mask)


def two_accumulators(x):
    n = x.shape[0]
    a = torch.zeros(n, device=x.device)
    b = torch.zeros(n, device=x.device)
    tritonhost.wrap(accumulate_two)[(triton.cdiv(n, 16),)](x, a, b, n, BLOCK=16)
    # The output depends on x, so AOTAutograd builds a joint graph and runs its CSE pass.
    return (a * 10 + b * 100) * x


class ThreeGradients(torch.autograd.Function):
    """A library-style Function: the backward launches one kernel that writes three new buffers."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous()  # the gradient of a sum arrives expanded, with stride 0
        n = g.numel()
        d1, d2, d3 = g.new_empty(g.shape), g.new_empty(g.shape), g.new_empty(g.shape)
        tritonhost.wrap(scale_three)[(triton.cdiv(n, 16),)](g, d1, d2, d3, n, BLOCK=16)
        return d1 + d2 + d3


def through_function(x):
    return ThreeGradients.apply(x).sum()


@pytest.mark.parametrize("backend", ["aot_eager", "tritonhost"])
def test_merged_allocations_keep_separate_copies_forward(interpreter, backend):
    x = torch.arange(1.0, 6.0).requires_grad_(True)
    expected = (torch.arange(1.0, 6.0) * 1000 * 10 + torch.arange(1.0, 6.0) * 100) * torch.arange(1.0, 6.0)
    torch.testing.assert_close(two_accumulators(x).detach(), expected, rtol=0, atol=0)
    torch._dynamo.reset()
    compiled = torch.compile(two_accumulators, backend=backend, fullgraph=True)
    torch.testing.assert_close(compiled(x).detach(), expected, rtol=0, atol=0)


@pytest.mark.parametrize("backend", ["aot_eager", "tritonhost"])
def test_merged_allocations_keep_separate_copies_backward(interpreter, backend):
    # d1 + d2 + d3 = g * (1 + 10 + 100) for g = 1: 111 per element (300 if the three share memory).
    x = torch.arange(1.0, 6.0, requires_grad=True)
    through_function(x).backward()
    torch.testing.assert_close(x.grad, torch.full((5,), 111.0), rtol=0, atol=0)
    torch._dynamo.reset()
    x2 = torch.arange(1.0, 6.0, requires_grad=True)
    torch.compile(through_function, backend=backend, fullgraph=True)(x2).backward()
    torch.testing.assert_close(x2.grad, torch.full((5,), 111.0), rtol=0, atol=0)


def _functional(kwargs, written, same_tensor=None):
    constants = side_table.add_constants(LaunchConstants(params={"BLOCK": 16}, options={}))
    return tritonhost_kernel_functional(
        kernel_idx=tritonhost.wrap(accumulate_two).table_index,
        constant_args_idx=constants,
        grid=[(1, 1, 1)],
        kwargs=kwargs,
        tensors_to_clone=written,
        same_tensor=same_tensor,
    )


def test_functional_operator_writes_clones_and_leaves_inputs(interpreter):
    x, a, b = torch.arange(1.0, 5.0), torch.ones(4), torch.full((4,), 2.0)
    out = _functional({"x_ptr": x, "a_ptr": a, "b_ptr": b, "n": 4}, ["a_ptr", "b_ptr"])
    assert torch.equal(a, torch.ones(4)) and torch.equal(b, torch.full((4,), 2.0)), "inputs must not be written"
    torch.testing.assert_close(out["a_ptr"], 1 + x * 1000, rtol=0, atol=0)
    torch.testing.assert_close(out["b_ptr"], 2 + x, rtol=0, atol=0)


def test_functional_operator_gives_one_tensor_at_two_parameters_two_copies(interpreter):
    x, zeros = torch.arange(1.0, 5.0), torch.zeros(4)  # what CSE leaves of two torch.zeros(4)
    out = _functional({"x_ptr": x, "a_ptr": zeros, "b_ptr": zeros, "n": 4}, ["a_ptr", "b_ptr"])
    assert out["a_ptr"].data_ptr() != out["b_ptr"].data_ptr()
    torch.testing.assert_close(out["a_ptr"], x * 1000, rtol=0, atol=0)
    torch.testing.assert_close(out["b_ptr"], x, rtol=0, atol=0)


def test_functional_operator_shares_a_copy_where_the_program_passed_one_tensor(interpreter):
    x, acc = torch.arange(1.0, 5.0), torch.zeros(4)
    out = _functional({"x_ptr": x, "a_ptr": acc, "b_ptr": acc, "n": 4}, ["a_ptr", "b_ptr"], [["a_ptr", "b_ptr"]])
    assert out["a_ptr"] is out["b_ptr"]
    eager = torch.zeros(4)
    tritonhost.wrap(accumulate_two)[(1,)](x, eager, eager, 4, BLOCK=16)
    torch.testing.assert_close(out["a_ptr"], eager, rtol=0, atol=0)


def test_a_tensor_passed_twice_is_recorded_at_functionalization(interpreter):
    from torch.fx.experimental.proxy_tensor import make_fx

    def program(x, acc):
        tritonhost.wrap(accumulate_two)[(1,)](x, acc, acc, 4, BLOCK=16)
        return acc

    graph = make_fx(torch.func.functionalize(program))(torch.arange(1.0, 5.0), torch.zeros(4))
    (node,) = [n for n in graph.graph.nodes if n.target is tritonhost_kernel_functional]
    assert node.kwargs["same_tensor"] == [["a_ptr", "b_ptr"]]
    torch.testing.assert_close(graph(torch.arange(1.0, 5.0), torch.zeros(4)), program(torch.arange(1.0, 5.0), torch.zeros(4)))


def test_the_compiler_gives_merged_allocations_separate_buffers(interpreter):
    """AOTAutograd's own CSE pass run on a functionalized graph, then compiled by tritonhost."""
    from torch._functorch.compile_utils import fx_graph_cse
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.proxy_tensor import make_fx

    def program(x):
        a, b = torch.zeros(4), torch.zeros(4)
        tritonhost.wrap(accumulate_two)[(1,)](x, a, b, 4, BLOCK=16)
        return a, b

    x = torch.arange(1.0, 5.0)
    with FakeTensorMode() as mode:
        graph = make_fx(torch.func.functionalize(program), tracing_mode="fake")(mode.from_tensor(x))
    merged = torch.fx.GraphModule(graph, fx_graph_cse(graph.graph))
    zeros = [n for n in merged.graph.nodes if n.target is torch.ops.aten.zeros.default]
    assert len(zeros) == 1, "the CSE pass merges the two allocations"
    a, b = tritonhost.compile_graph(merged)(x)
    torch.testing.assert_close(a, x * 1000, rtol=0, atol=0)
    torch.testing.assert_close(b, x, rtol=0, atol=0)


def test_a_functional_graph_functionalized_again_keeps_its_launch(interpreter):
    """The functional operator's own functionalize rule: a graph holding it goes through functionalize."""
    from torch.fx.experimental.proxy_tensor import make_fx

    def program(x, acc):
        tritonhost.wrap(accumulate_two)[(1,)](x, acc, acc, 4, BLOCK=16)
        return acc

    once = make_fx(torch.func.functionalize(program))(torch.arange(1.0, 5.0), torch.zeros(4))
    twice = make_fx(torch.func.functionalize(once))(torch.arange(1.0, 5.0), torch.zeros(4))
    (node,) = [n for n in twice.graph.nodes if n.target is tritonhost_kernel_functional]
    assert node.kwargs["tensors_to_clone"] == ["a_ptr", "b_ptr"] and node.kwargs["same_tensor"] == [["a_ptr", "b_ptr"]]
    acc = torch.zeros(4)
    result = twice(torch.arange(1.0, 5.0), acc)
    torch.testing.assert_close(result, torch.arange(1.0, 5.0) * 1001, rtol=0, atol=0)
    torch.testing.assert_close(acc, result, rtol=0, atol=0)  # the program's mutation of acc, kept


@triton.jit
def add_ten(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n
    for _ in tl.static_range(2):  # reads src after writing dst: merged, they would add 20
        tl.store(dst_ptr + offsets, tl.load(src_ptr + offsets, mask=mask) + 10, mask=mask)


def _merged_and_compiled(program, x):
    from torch._functorch.compile_utils import fx_graph_cse
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.proxy_tensor import make_fx

    with FakeTensorMode() as mode:
        graph = make_fx(torch.func.functionalize(program), tracing_mode="fake")(mode.from_tensor(x))
    merged = torch.fx.GraphModule(graph, fx_graph_cse(graph.graph))
    assert len([n for n in merged.graph.nodes if n.target is torch.ops.aten.zeros.default]) == 1
    return tritonhost.compile_graph(merged)


def test_the_compiler_does_not_write_one_merged_argument_into_another(interpreter):
    def only_b(x):
        a, b = torch.zeros(4), torch.zeros(4)
        tritonhost.wrap(accumulate_two)[(1,)](x, a, b, 4, BLOCK=16)
        return b  # a is dead after the launch: it alone would be re-inplaced

    x = torch.arange(1.0, 5.0)
    (b,) = _merged_and_compiled(only_b, x)(x)
    torch.testing.assert_close(b, x, rtol=0, atol=0)


def test_the_compiler_does_not_write_a_merged_read_only_argument(interpreter):
    def read_then_write(x):
        src, dst = torch.zeros(4) + 1, torch.zeros(4) + 1
        tritonhost.wrap(add_ten)[(1,)](src, dst, 4, BLOCK=16)
        return dst

    x = torch.arange(1.0, 5.0)
    (dst,) = _merged_and_compiled(read_then_write, x)(x)
    torch.testing.assert_close(dst, torch.full((4,), 11.0), rtol=0, atol=0)
