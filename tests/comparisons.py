"""Comparing a program's values and gradients with a reference computed another way."""

from __future__ import annotations

import torch


def values_and_gradients(fn, *inputs):
    """``fn``'s output and the gradients of its inputs, under a weighting that makes every element count."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*leaves)
    weight = torch.linspace(-1, 1, out.numel(), device=out.device).reshape(out.shape).to(out.dtype)
    (out * weight).sum().backward()
    return out.detach(), [leaf.grad for leaf in leaves]


def assert_close_to_scale(got, want, rtol):
    """Within ``rtol`` of the largest value: the scale is set by the inputs, not by 1."""
    torch.testing.assert_close(got.float(), want.float(), rtol=rtol, atol=rtol * want.float().abs().max().item())
