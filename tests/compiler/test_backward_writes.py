"""compat/aot_autograd.py: AOTAutograd's replay of a backward write to a forward input traces.

The end-to-end case (a kernel library's backward storing gradients over its saved inputs,
compiled with backend="tritonhost") is in tests/launch/test_install.py; it exercises the
fix only on a torch that lacks it (2.11, checked by hand). These tests check the fix itself
on whichever torch is installed: the fix alone, and AOTAutograd tracing such a backward
under it (which fails without it on torch 2.11), and install() applying it to every
AOTAutograd backend.
"""

from __future__ import annotations

import pytest
import torch
from functorch.compile import make_boxed_func
from torch._functorch.aot_autograd import aot_function

import tritonhost
from tritonhost.compat.aot_autograd import (
    _CopyIntoLeafWithoutGrad,
    replay_backward_writes,
    torch_replays_without_grad,
)


class _WritesIntoInput(torch.autograd.Function):
    """A backward that overwrites the saved forward input with its gradient, in place."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        x.copy_(grad * 3)
        return x


def _nop(graph, inputs):
    return make_boxed_func(graph)


def test_a_copy_into_a_leaf_that_requires_grad_runs_without_grad():
    leaf = torch.zeros(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.copy_(torch.ones(4))  # what AOTAutograd's replay hits on an unfixed torch
    with _CopyIntoLeafWithoutGrad():
        leaf.copy_(torch.ones(4))
        assert torch.is_grad_enabled()  # only that copy ran without grad
        tracked = torch.zeros(4, requires_grad=True) * 1  # not a leaf: copies into it stay tracked
        tracked.copy_(leaf)
    torch.testing.assert_close(leaf.detach(), torch.ones(4))
    assert tracked.grad_fn is not None


def test_a_backward_write_to_a_forward_input_traces_and_runs():
    compiled = aot_function(_WritesIntoInput.apply, fw_compiler=_nop, bw_compiler=_nop)
    x = torch.arange(4.0, requires_grad=True)
    with replay_backward_writes():
        out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((4,), 3.0))
    torch.testing.assert_close(x.detach(), torch.full((4,), 3.0))  # the write reached the caller's tensor, as in eager


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_installed_every_aot_backend_traces_a_backward_write_to_a_forward_input(backend):
    """PyTorch's own backends fail this program on a torch without the fix; installed, they run it."""

    def run() -> torch.Tensor:
        torch._dynamo.reset()
        x = torch.arange(4.0, requires_grad=True)
        torch.compile(_WritesIntoInput.apply, backend=backend, fullgraph=True)(x).sum().backward()
        torch.testing.assert_close(x.grad, torch.full((4,), 3.0))
        return x.detach()

    if not torch_replays_without_grad():
        with pytest.raises(Exception, match="leaf Variable that requires grad"):  # PyTorch's own bug
            run()
    with tritonhost.install():
        torch.testing.assert_close(run(), torch.full((4,), 3.0))
    if not torch_replays_without_grad():  # uninstalling gives AOTAutograd back as it was
        with pytest.raises(Exception, match="leaf Variable that requires grad"):
            run()
