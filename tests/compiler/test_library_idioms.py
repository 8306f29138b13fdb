"""backend="tritonhost" on kernel-library code the way Dynamo sees it on a GPU machine.

Each test is a pattern found running Liger-Kernel and flash-linear-attention unchanged
(bench/libraries.py), reduced to a small kernel written the way the library writes it. As
in test_pytorch_kernels.py, Dynamo is made to model Triton kernels as it does where
Triton can compile, so that the graphs hold PyTorch's operators.
"""

from __future__ import annotations

import pytest
import torch
import torch.utils._triton
import triton
import triton.language as tl
from torch._higher_order_ops.triton_kernel_wrap import triton_kernel_wrapper_mutation

import tritonhost
from comparisons import assert_close_to_scale, values_and_gradients
from tritonhost.tracing.hops import tritonhost_kernel_mutation
from tritonhost.tracing.pytorch_kernels import adopt_pytorch_kernels


@pytest.fixture
def modelled(monkeypatch, interpreter):
    """Dynamo models Triton kernels, as where Triton can compile."""
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    torch._dynamo.reset()
    yield interpreter
    torch._dynamo.reset()


# --- Liger-Kernel's softmax: the output is a view of the kernel's buffer, saved for backward ----


@triton.jit
def softmax_forward(Y, y_stride, X, x_stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * x_stride + cols, mask=mask, other=float("-inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + row * y_stride + cols, e / tl.sum(e, axis=0), mask=mask)


@triton.jit
def softmax_backward(dY, dy_stride, Y, y_stride, dX, dx_stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    dy = tl.load(dY + row * dy_stride + cols, mask=mask, other=0.0)
    y = tl.load(Y + row * y_stride + cols, mask=mask, other=0.0)
    tl.store(dX + row * dx_stride + cols, y * (dy - tl.sum(dy * y, axis=0)), mask=mask)


class Softmax(torch.autograd.Function):
    """As liger_kernel/ops/softmax.py: rows flattened by a view, the result viewed back and saved."""

    @staticmethod
    def forward(ctx, x):
        *batch, n_cols = x.shape
        x2d = x.contiguous().view(-1, n_cols)
        y2d = torch.empty_like(x2d)
        block = triton.next_power_of_2(n_cols)
        softmax_forward[(x2d.shape[0],)](y2d, y2d.stride(0), x2d, x2d.stride(0), n_cols, BLOCK=block)
        y = y2d.view(*batch, n_cols)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        *batch, n_cols = dy.shape
        dy2d = dy.contiguous().view(-1, n_cols)
        y2d = y.contiguous().view(-1, n_cols)
        dx2d = torch.empty_like(dy2d)
        block = triton.next_power_of_2(n_cols)
        softmax_backward[(dy2d.shape[0],)](
            dy2d, dy2d.stride(0), y2d, y2d.stride(0), dx2d, dx2d.stride(0), n_cols, BLOCK=block
        )
        return dx2d.view(*batch, n_cols)


def test_launches_inside_an_autograd_function_are_taken_over(modelled):
    """Dynamo puts an autograd.Function's launches in a forward and a backward subgraph."""
    seen = []

    def inspect_backend(graph_module, example_inputs):
        seen.append(adopt_pytorch_kernels(graph_module))
        targets = [
            n.target
            for m in graph_module.modules()
            if isinstance(m, torch.fx.GraphModule)
            for n in m.graph.nodes
            if n.op == "call_function"
        ]
        seen.append(targets)
        return graph_module.forward

    x = torch.randn(3, 5, 10, requires_grad=True)
    torch.compile(Softmax.apply, backend=inspect_backend, fullgraph=True)(x)
    adopted, targets = seen
    assert adopted == 2  # the forward launch and the backward launch
    assert targets.count(tritonhost_kernel_mutation) == 2
    assert triton_kernel_wrapper_mutation not in targets


def test_softmax_output_viewed_and_saved_for_backward(modelled):
    """Once failed in AOTAutograd: 'Node view_N was invalid, but is output' (PyTorch's analysis, not ours)."""
    x = torch.randn(3, 5, 10) * 3
    got, got_grads = values_and_gradients(torch.compile(Softmax.apply, backend="tritonhost"), x)
    want, want_grads = values_and_gradients(lambda t: t.softmax(-1), x)
    assert_close_to_scale(got, want, 1e-6)
    # dx = y * (g - sum(g * y)) cancels: its rounding error scales with the output gradient g
    # (|g| <= 1 here), not with dx, which is far smaller. Ten-term fp32 sums summed in another
    # order than PyTorch's differ by a few ulps of |g|; once 1.7e-7 where dx's scale was 0.015.
    torch.testing.assert_close(got_grads[0], want_grads[0], rtol=1e-5, atol=1e-6)


def test_softmax_wrapper_launches_through_tritonhost(modelled):
    x = torch.randn(4, 10)
    with tritonhost.capture_wrappers() as wrappers:
        torch.compile(Softmax.apply, backend="tritonhost")(x.requires_grad_()).sum().backward()
    codes = [w.code for w in wrappers]
    assert any("launch_softmax_forward(" in code for code in codes)
    assert any("launch_softmax_backward(" in code for code in codes)
