"""Programs that launch kernels through tritonhost, with their pure-PyTorch equivalents."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import torch
import triton

import library_kernels as lib
import tritonhost
from kernels import (
    add_2d_kernel,
    add_kernel,
    autotuned_heuristic_bias_kernel,
    autotuned_scale_kernel,
    axpy_kernel,
    heuristic_softmax_kernel,
    relu_inplace_kernel,
    row_sum_kernel,
)

# Wrapped once, at import: the recommended pattern, and the one Dynamo accepts on every
# PyTorch version (see docs/tracing.md for wrap() inside a compiled region).
add = tritonhost.wrap(add_kernel)
relu_inplace = tritonhost.wrap(relu_inplace_kernel)
axpy = tritonhost.wrap(axpy_kernel)
autotuned_scale = tritonhost.wrap(autotuned_scale_kernel)
heuristic_softmax = tritonhost.wrap(heuristic_softmax_kernel)
autotuned_heuristic_bias = tritonhost.wrap(autotuned_heuristic_bias_kernel)
add_2d = tritonhost.wrap(add_2d_kernel)
row_sum = tritonhost.wrap(row_sum_kernel)
rms_norm_forward = tritonhost.wrap(lib.rms_norm_forward)
swiglu_backward = tritonhost.wrap(lib.swiglu_backward)
rope = tritonhost.wrap(lib.rope_in_place)
cross_entropy = tritonhost.wrap(lib.cross_entropy_forward_backward)


def _blocks(n: int, block: int) -> tuple[int]:
    return (triton.cdiv(n, block),)


def chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a = torch.empty_like(x)
    add[_blocks(x.numel(), 16)](x, y, a, x.numel(), BLOCK=16)
    b = torch.empty_like(x)
    add[_blocks(x.numel(), 16)](a, a, b, x.numel(), BLOCK=16)
    return b


def chain_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 2 * (x + y)


def in_place(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z = x - y  # a fresh tensor, written in place below
    relu_inplace[_blocks(z.numel(), 64)](z, z.numel())
    return z + 1


def in_place_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.relu(x - y) + 1


def input_mutation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    relu_inplace[_blocks(x.numel(), 64)](x, x.numel())  # writes the input
    return x * y


def input_mutation_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x.relu_()
    return x * y


def grid_lambda(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    n = x.numel()
    axpy[lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)](
        x, y, out, 0.5, n, BLOCK=16
    )
    return out


def grid_lambda_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * x + y


def autotuned(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    grid = lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)
    autotuned_scale[grid](x + y, out, 3.0, x.numel())
    return out


def autotuned_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 3 * (x + y)


def heuristics_and_aten(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    heuristic_softmax[(1,)](x * 2, out, x.numel())
    return out.log() + y


def heuristics_and_aten_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(x * 2, 0) + y


def optional_tensor(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with_bias, without = torch.empty_like(x), torch.empty_like(x)
    grid = lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)
    autotuned_heuristic_bias[grid](x, y, with_bias, x.numel())
    autotuned_heuristic_bias[grid](x, None, without, x.numel())
    return with_bias * without


def optional_tensor_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x + y) * x


def views(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m = x.reshape(4, -1)
    out = torch.zeros_like(m)
    add_2d[(1, 1)](m, y.reshape(4, -1), out, 4, m.shape[1], m.stride(0), BLOCK_R=4, BLOCK_C=16)
    return out.t().contiguous()


def views_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x.reshape(4, -1) + y.reshape(4, -1)).t().contiguous()


def reduction(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m = (x * y).reshape(4, -1)
    out = torch.empty(4, dtype=x.dtype, device=x.device)
    row_sum[(4,)](m, out, m.shape[1], m.stride(0), BLOCK=16)
    return out


def reduction_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * y).reshape(4, -1).sum(1)


def output_allocated_then_aliased(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    view = out[: x.numel() // 2]
    add[_blocks(x.numel(), 32)](x, y, out, x.numel(), BLOCK=32)
    return view * 1  # a view taken before the kernel wrote its base


def output_allocated_then_aliased_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x + y)[: x.numel() // 2]


def kernel_then_kernel_in_place(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    grid = _blocks(x.numel(), 32)
    add[grid](x, y, out, x.numel(), BLOCK=32)
    relu_inplace[grid](out, out.numel(), BLOCK=32)
    add[grid](out, y, out, x.numel(), BLOCK=32)  # reads and writes the same tensor
    return out


def kernel_then_kernel_in_place_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.relu(x + y) + y


def rms_norm(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m = x.reshape(4, -1)
    w = y.reshape(4, -1)[0].contiguous()
    out, rstd = torch.empty_like(m), torch.empty(4, dtype=x.dtype, device=x.device)
    rms_norm_forward[(4,)](out, out.stride(0), m, m.stride(0), w, rstd, m.shape[1], 1e-6, BLOCK=16)
    return out * rstd[:, None]


def rms_norm_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m = x.reshape(4, -1)
    rstd = torch.rsqrt(m.pow(2).mean(1, keepdim=True) + 1e-6)
    return m * rstd * y.reshape(4, -1)[0] * rstd


def swiglu_backward_in_place(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a, b = x * 1, y * 1  # intermediates the kernel overwrites with their gradients
    swiglu_backward[_blocks(x.numel(), 16)](torch.ones_like(x), a, b, x.numel(), BLOCK=16)
    return a + b


def swiglu_backward_in_place_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    sig = torch.sigmoid(x)
    return y * (x * sig * (1 - sig) + sig) + x * sig


def rope_on_inputs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    q, k = x.view(1, -1, 1, 8), y.view(1, -1, 1, 8)  # views of the inputs, rotated in place
    seq = q.shape[1]
    angles = torch.arange(seq, dtype=x.dtype, device=x.device)[:, None] * 0.1 * torch.arange(
        1, 5, dtype=x.dtype, device=x.device
    )
    rope[(seq,)](q, k, angles.cos(), angles.sin(), seq, 1, 1, HEAD_DIM=8, BACKWARD=False)
    return x + y


def rope_on_inputs_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    seq = x.numel() // 8
    angles = torch.arange(seq, dtype=x.dtype, device=x.device)[:, None] * 0.1 * torch.arange(
        1, 5, dtype=x.dtype, device=x.device
    )
    cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]

    def rotate(t: torch.Tensor) -> torch.Tensor:
        t = t.view(seq, 1, 8)
        t1, t2 = t[..., :4], t[..., 4:]
        return torch.cat([t1 * cos - t2 * sin, t2 * cos + t1 * sin], -1).reshape(-1)

    x.copy_(rotate(x))
    y.copy_(rotate(y))
    return x + y


def cross_entropy_gradient(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = (x * y).reshape(4, -1)
    labels = torch.zeros(4, dtype=torch.int64, device=x.device)
    loss = torch.empty(4, dtype=x.dtype, device=x.device)
    cross_entropy[(4,)](
        logits, logits.stride(0), labels, loss, logits.shape[1], -100, 0.0, 0.25, BLOCK=16
    )
    return loss.sum() + logits  # logits now hold the gradient


def cross_entropy_gradient_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = (x * y).reshape(4, -1).requires_grad_()
    labels = torch.zeros(4, dtype=torch.int64, device=x.device)
    loss = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    (loss / 4).backward()
    return loss.detach() + logits.grad


@attrs.frozen
class Program:
    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


PROGRAMS = [
    Program(fn.__name__, fn, ref)
    for fn, ref in [
        (chain, chain_reference),
        (in_place, in_place_reference),
        (input_mutation, input_mutation_reference),
        (grid_lambda, grid_lambda_reference),
        (autotuned, autotuned_reference),
        (heuristics_and_aten, heuristics_and_aten_reference),
        (optional_tensor, optional_tensor_reference),
        (views, views_reference),
        (reduction, reduction_reference),
        (output_allocated_then_aliased, output_allocated_then_aliased_reference),
        (kernel_then_kernel_in_place, kernel_then_kernel_in_place_reference),
        (rms_norm, rms_norm_reference),
        (swiglu_backward_in_place, swiglu_backward_in_place_reference),
        (rope_on_inputs, rope_on_inputs_reference),
        (cross_entropy_gradient, cross_entropy_gradient_reference),
    ]
]
