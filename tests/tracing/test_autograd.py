"""A module built on user kernels trains: tritonhost.op plus register_autograd."""

from __future__ import annotations

import pytest
import torch

import library_kernels as lib
import tritonhost

EPS = 1e-6


@tritonhost.op("tritonhost_tests::rms_norm")
def rms_norm(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rows, cols = x.shape
    y, rstd = torch.empty_like(x), torch.empty(rows, dtype=x.dtype, device=x.device)
    tritonhost.wrap(lib.rms_norm_forward)[(rows,)](y, y.stride(0), x, x.stride(0), w, rstd, cols, EPS, BLOCK=32)
    return y, rstd


@tritonhost.op("tritonhost_tests::rms_norm_backward")
def rms_norm_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, rstd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    rows, cols = x.shape
    dx, dw_rows = torch.empty_like(x), torch.empty_like(x)
    tritonhost.wrap(lib.rms_norm_backward)[(rows,)](dy, x, w, rstd, dx, dw_rows, cols, cols, BLOCK=32)
    return dx, dw_rows.sum(0)


def _setup_context(ctx, inputs, output):
    x, w = inputs
    ctx.save_for_backward(x, w, output[1])


def _backward(ctx, dy, _drstd):
    x, w, rstd = ctx.saved_tensors
    return rms_norm_backward(dy.contiguous(), x, w, rstd)


rms_norm.register_autograd(_backward, setup_context=_setup_context)


class DecoratedKernel(torch.nn.Module):
    def __init__(self, cols: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.linspace(0.5, 1.5, cols))
        self.proj = torch.nn.Parameter(torch.linspace(-1.0, 1.0, cols * 3).reshape(cols, 3))

    def forward(self, x):
        y, _ = rms_norm(x, self.weight)
        return y @ self.proj


class ReferenceModel(DecoratedKernel):
    def forward(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + EPS) * self.weight
        return y @ self.proj


def _train(model, inputs, targets, steps=4):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for x, target in zip(inputs[:steps], targets[:steps]):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.usefixtures("interpreter")
def test_gradients_match_pytorch():
    # Rows whose mean square is about EPS, so that the kernel's eps matters to the result.
    x = (torch.randn(4, 24) * EPS**0.5).requires_grad_()
    kernel, reference = DecoratedKernel(24), ReferenceModel(24)
    kernel(x).sum().backward()
    x_grad = x.grad.clone()
    x.grad = None
    reference(x).sum().backward()
    torch.testing.assert_close(x_grad, x.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(kernel.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(kernel.proj.grad, reference.proj.grad, rtol=1e-4, atol=1e-5)


def _train_both(compiled: str | None, device: str) -> None:
    torch.manual_seed(0)
    # One batch, seen four times (the loss must fall), with rows whose mean square is about EPS.
    inputs = [torch.randn(4, 24, device=device) * EPS**0.5] * 4
    targets = [torch.randn(4, 3, device=device)] * 4
    kernel, reference = DecoratedKernel(24).to(device), ReferenceModel(24).to(device)
    model = torch.compile(kernel, backend=compiled, fullgraph=True) if compiled else kernel
    kernel_losses = _train(model, inputs, targets)
    reference_losses = _train(reference, inputs, targets)
    assert kernel_losses == pytest.approx(reference_losses, rel=1e-4)
    assert kernel_losses[-1] < kernel_losses[0]
    torch.testing.assert_close(kernel.weight, reference.weight, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(kernel.proj, reference.proj, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("compiled", [None, "aot_eager", "tritonhost"], ids=["eager", "aot_eager", "tritonhost"])
def test_model_on_kernels_trains_like_pytorch(compiled):
    with tritonhost.use_backend("interpreter"):
        _train_both(compiled, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("compiled", [None, "aot_eager", "tritonhost"], ids=["eager", "aot_eager", "tritonhost"])
def test_model_trains_on_the_gpu(compiled):
    with tritonhost.use_backend("cuda"):
        _train_both(compiled, "cuda")
