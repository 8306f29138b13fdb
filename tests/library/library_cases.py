"""Each library kernel with inputs, a PyTorch reference, and its expected written and read sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch
import torch.nn.functional as F

import library_kernels as k

ROWS, COLS, BLOCK = 4, 24, 32  # COLS < BLOCK exercises the masks
EPS = 1e-6


@attrs.frozen
class Setup:
    """One launch: its grid and arguments, the tensors to check afterwards, and their expected values."""

    grid: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: Callable[[], list[torch.Tensor]]
    expected: list[torch.Tensor]


@attrs.frozen
class Case:
    name: str
    kernel: Any
    setup: Callable[[str], Setup]
    written: tuple[str, ...]
    read: tuple[str, ...]


def _randn(*shape: int, device: str) -> torch.Tensor:
    return torch.randn(*shape, device=device, dtype=torch.float32)


def _near_eps(*shape: int, device: str) -> torch.Tensor:
    """Inputs of a norm whose mean square (or variance) is about EPS: the eps a kernel adds then
    moves its result by a third, so that a kernel with a wrong eps fails the comparison."""
    return _randn(*shape, device=device) * EPS**0.5


def _rms_norm_forward(device: str) -> Setup:
    x, w = _near_eps(ROWS, COLS, device=device), _randn(COLS, device=device)
    y, rstd = torch.empty_like(x), torch.empty(ROWS, device=device)
    ref_rstd = torch.rsqrt(x.pow(2).mean(1) + EPS)
    return Setup((ROWS,), (y, y.stride(0), x, x.stride(0), w, rstd, COLS, EPS), {"BLOCK": BLOCK},
                 lambda: [y, rstd], [x * ref_rstd[:, None] * w, ref_rstd])


def _rms_norm_backward(device: str) -> Setup:
    x, w, dy = _near_eps(ROWS, COLS, device=device), _randn(COLS, device=device), _randn(ROWS, COLS, device=device)
    rstd = torch.rsqrt(x.pow(2).mean(1) + EPS)
    xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()
    (xr * torch.rsqrt(xr.pow(2).mean(1, keepdim=True) + EPS) * wr).backward(dy)
    dx, dw_rows = torch.empty_like(x), torch.empty_like(x)
    return Setup((ROWS,), (dy, x, w, rstd, dx, dw_rows, COLS, COLS), {"BLOCK": BLOCK},
                 lambda: [dx, dw_rows.sum(0)], [xr.grad, wr.grad])


def _fused_add_rms_norm(device: str) -> Setup:
    x, r, w = _near_eps(ROWS, COLS, device=device), _near_eps(ROWS, COLS, device=device), _randn(COLS, device=device)
    s = x + r
    expected = [s, s * torch.rsqrt(s.pow(2).mean(1, keepdim=True) + EPS) * w]
    y = torch.empty_like(x)
    return Setup((ROWS,), (x, r, w, y, COLS, COLS, EPS), {"BLOCK": BLOCK}, lambda: [r, y], expected)


def _layer_norm_forward(device: str) -> Setup:
    x, w, b = _near_eps(ROWS, COLS, device=device), _randn(COLS, device=device), _randn(COLS, device=device)
    y, mean, rstd = torch.empty_like(x), torch.empty(ROWS, device=device), torch.empty(ROWS, device=device)
    expected = [F.layer_norm(x, (COLS,), w, b, EPS), x.mean(1), torch.rsqrt(x.var(1, unbiased=False) + EPS)]
    return Setup((ROWS,), (x, w, b, y, mean, rstd, COLS, COLS, EPS), {"BLOCK": BLOCK},
                 lambda: [y, mean, rstd], expected)


def _layer_norm_backward(device: str) -> Setup:
    x, w, b, dy = (_near_eps(ROWS, COLS, device=device), _randn(COLS, device=device), _randn(COLS, device=device),
                   _randn(ROWS, COLS, device=device))
    xr, wr, br = (t.clone().requires_grad_() for t in (x, w, b))
    F.layer_norm(xr, (COLS,), wr, br, EPS).backward(dy)
    mean, rstd = x.mean(1), torch.rsqrt(x.var(1, unbiased=False) + EPS)
    dx, dw_rows, db_rows = (torch.empty_like(x) for _ in range(3))
    return Setup((ROWS,), (dy, x, w, mean, rstd, dx, dw_rows, db_rows, COLS, COLS), {"BLOCK": BLOCK},
                 lambda: [dx, dw_rows.sum(0), db_rows.sum(0)], [xr.grad, wr.grad, br.grad])


def _group_norm_forward(device: str) -> Setup:
    batch, channels, groups, spatial = 2, 4, 2, 6
    x = _near_eps(batch, channels, spatial, device=device)
    w, b = _randn(channels, device=device), _randn(channels, device=device)
    y = torch.empty_like(x)
    mean, rstd = torch.empty(batch * groups, device=device), torch.empty(batch * groups, device=device)
    grouped = x.reshape(batch, groups, -1)
    expected = [F.group_norm(x, groups, w, b, EPS), grouped.mean(-1).reshape(-1),
                torch.rsqrt(grouped.var(-1, unbiased=False) + EPS).reshape(-1)]
    return Setup((batch, groups), (x, w, b, y, mean, rstd, channels // groups, spatial, groups, EPS), {"BLOCK": 16},
                 lambda: [y, mean, rstd], expected)


def _swiglu_forward(device: str) -> Setup:
    a, b = _randn(40, device=device), _randn(40, device=device)
    c = torch.empty_like(a)
    return Setup((3,), (a, b, c, 40), {"BLOCK": 16}, lambda: [c], [F.silu(a) * b])


def _swiglu_backward(device: str) -> Setup:
    a, b, dc = _randn(40, device=device), _randn(40, device=device), _randn(40, device=device)
    ar, br = a.clone().requires_grad_(), b.clone().requires_grad_()
    (F.silu(ar) * br).backward(dc)
    return Setup((3,), (dc, a, b, 40), {"BLOCK": 16}, lambda: [a, b], [ar.grad, br.grad])


def _geglu_forward(device: str) -> Setup:
    a, b = _randn(40, device=device), _randn(40, device=device)
    c = torch.empty_like(a)
    return Setup((3,), (a, b, c, 40), {"BLOCK": 16}, lambda: [c], [F.gelu(a, approximate="tanh") * b])


def _geglu_backward(device: str) -> Setup:
    a, b, dc = _randn(40, device=device), _randn(40, device=device), _randn(40, device=device)
    ar, br = a.clone().requires_grad_(), b.clone().requires_grad_()
    (F.gelu(ar, approximate="tanh") * br).backward(dc)
    return Setup((3,), (dc, a, b, 40), {"BLOCK": 16}, lambda: [a, b], [ar.grad, br.grad])


def _gelu_erf(device: str) -> Setup:
    x = _randn(40, device=device)
    y = torch.empty_like(x)
    return Setup((3,), (x, y, 40), {"BLOCK": 16}, lambda: [y], [F.gelu(x)])


def _dyt_forward(device: str) -> Setup:
    x, alpha = _randn(ROWS, COLS, device=device), torch.tensor([0.7], device=device)
    w, b = _randn(COLS, device=device), _randn(COLS, device=device)
    y = torch.empty_like(x)
    return Setup((ROWS,), (x, alpha, w, b, y, COLS), {"BLOCK": BLOCK}, lambda: [y], [torch.tanh(alpha * x) * w + b])


def _cross_entropy(device: str) -> Setup:
    logits = _randn(ROWS, COLS, device=device)
    labels = torch.tensor([3, -100, 0, COLS - 1], device=device)
    smoothing = 0.1
    ref = logits.clone().requires_grad_()
    loss = F.cross_entropy(ref, labels, ignore_index=-100, label_smoothing=smoothing, reduction="none")
    # The kernel's gradient is that of the mean over all rows (ignored ones included).
    (loss.sum() / ROWS).backward()
    out_loss = torch.empty(ROWS, device=device)
    return Setup((ROWS,), (logits, COLS, labels, out_loss, COLS, -100, smoothing, 1.0 / ROWS), {"BLOCK": BLOCK},
                 lambda: [out_loss, logits], [loss.detach(), ref.grad])


def _kl_div(log_target: bool) -> Callable[[str], Setup]:
    def setup(device: str) -> Setup:
        y_pred = torch.log_softmax(_randn(40, device=device), 0)
        y = torch.log_softmax(_randn(40, device=device), 0) if log_target else torch.softmax(_randn(40, device=device), 0)
        loss = torch.empty_like(y_pred)
        expected = F.kl_div(y_pred, y, reduction="none", log_target=log_target)
        return Setup((3,), (y_pred, y, loss, 40), {"LOG_TARGET": log_target, "BLOCK": 16}, lambda: [loss], [expected])

    return setup


def _kl_div_backward(device: str) -> Setup:
    y_pred = torch.log_softmax(_randn(40, device=device), 0).requires_grad_()
    y = torch.softmax(_randn(40, device=device), 0)
    F.kl_div(y_pred, y, reduction="sum").backward()
    grad = torch.empty_like(y)
    return Setup((3,), (y, grad, 40), {"LOG_TARGET": False, "BLOCK": 16}, lambda: [grad], [y_pred.grad])


def _jsd(device: str) -> Setup:
    x = torch.log_softmax(_randn(ROWS, COLS, device=device), 1).requires_grad_()
    y = torch.log_softmax(_randn(ROWS, COLS, device=device), 1)
    beta = 0.3
    p, q = y.exp(), x.exp()
    m = beta * p + (1 - beta) * q
    ref_loss = beta * p * (y - m.log()) + (1 - beta) * q * (x - m.log())
    ref_loss.sum().backward()
    loss, dx = torch.empty(ROWS, COLS, device=device), torch.empty(ROWS, COLS, device=device)
    return Setup((ROWS,), (x.detach(), y, loss, dx, COLS, COLS, beta), {"BLOCK": BLOCK},
                 lambda: [loss, dx], [ref_loss.detach(), x.grad])


def _softmax_forward(device: str) -> Setup:
    x = _randn(ROWS, COLS, device=device)
    y = torch.empty_like(x)
    return Setup((ROWS,), (x, y, COLS, COLS), {"BLOCK": BLOCK}, lambda: [y], [torch.softmax(x, 1)])


def _softmax_backward(device: str) -> Setup:
    x, dy = _randn(ROWS, COLS, device=device).requires_grad_(), _randn(ROWS, COLS, device=device)
    y = torch.softmax(x, 1)
    y.backward(dy)
    dx = torch.empty_like(dy)
    return Setup((ROWS,), (dy, y.detach(), dx, COLS, COLS), {"BLOCK": BLOCK}, lambda: [dx], [x.grad])


def _log_softmax_autotuned(device: str) -> Setup:
    x = _randn(ROWS, COLS, device=device)
    y = torch.empty_like(x)
    return Setup((ROWS,), (x, y, COLS, COLS), {}, lambda: [y], [torch.log_softmax(x, 1)])


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def _rope(backward: bool) -> Callable[[str], Setup]:
    def setup(device: str) -> Setup:
        batch, seq, q_heads, k_heads, dim = 2, 3, 2, 1, 8
        q, kk = _randn(batch, seq, q_heads, dim, device=device), _randn(batch, seq, k_heads, dim, device=device)
        angles = torch.arange(seq, device=device)[:, None] * torch.rand(dim // 2, device=device)[None, :]
        cos, sin = angles.cos(), angles.sin()
        sign = -1.0 if backward else 1.0
        expected = [_rotate(q, cos, sign * sin), _rotate(kk, cos, sign * sin)]
        return Setup((batch * seq,), (q, kk, cos, sin, seq, q_heads, k_heads),
                     {"HEAD_DIM": dim, "BACKWARD": backward}, lambda: [q, kk], expected)

    return setup


def _gated_scan_inputs(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    # Two sequences of 7 steps over 40 features: one block of 32 and a masked one.
    x = _randn(2, 7, 40, device=device)
    g = F.logsigmoid(_randn(2, 7, 40, device=device)) / 4
    return x, g


def _gated_scan_reference(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    h, out = torch.zeros_like(x[:, 0]), []
    for t in range(x.shape[1]):
        h = g[:, t].exp() * h + x[:, t]
        out.append(h)
    return torch.stack(out, 1)


def _gated_scan_forward(device: str) -> Setup:
    x, g = _gated_scan_inputs(device)
    o = torch.empty_like(x)
    return Setup((2, 2), (x, g, o, 7, 40), {"BLOCK": BLOCK}, lambda: [o], [_gated_scan_reference(x, g)])


def _gated_scan_backward(device: str) -> Setup:
    x, g = _gated_scan_inputs(device)
    do = _randn(2, 7, 40, device=device)
    xr, gr = x.clone().requires_grad_(), g.clone().requires_grad_()
    o = _gated_scan_reference(xr, gr)
    o.backward(do)
    dx, dg = torch.empty_like(x), torch.empty_like(x)
    return Setup((2, 2), (g, o.detach(), do, dx, dg, 7, 40), {"BLOCK": BLOCK}, lambda: [dx, dg], [xr.grad, gr.grad])


CASES = [
    Case("rms_norm_forward", k.rms_norm_forward, _rms_norm_forward, ("Y", "RSTD"), ("X", "W")),
    Case("rms_norm_backward", k.rms_norm_backward, _rms_norm_backward, ("dX", "dW_rows"), ("dY", "X", "W", "RSTD")),
    Case("fused_add_rms_norm", k.fused_add_rms_norm, _fused_add_rms_norm, ("R", "Y"), ("X", "R", "W")),
    Case("layer_norm_forward", k.layer_norm_forward, _layer_norm_forward, ("Y", "MEAN", "RSTD"), ("X", "W", "B")),
    Case("layer_norm_backward", k.layer_norm_backward, _layer_norm_backward, ("dX", "dW_rows", "dB_rows"),
         ("dY", "X", "W", "MEAN", "RSTD")),
    Case("group_norm_forward", k.group_norm_forward, _group_norm_forward, ("Y", "MEAN", "RSTD"), ("X", "W", "B")),
    Case("swiglu_forward", k.swiglu_forward, _swiglu_forward, ("C",), ("A", "B")),
    Case("swiglu_backward_in_place", k.swiglu_backward, _swiglu_backward, ("A", "B"), ("dC", "A", "B")),
    Case("geglu_forward", k.geglu_forward, _geglu_forward, ("C",), ("A", "B")),
    Case("geglu_backward_in_place", k.geglu_backward, _geglu_backward, ("A", "B"), ("dC", "A", "B")),
    Case("gelu_erf", k.gelu_erf, _gelu_erf, ("Y",), ("X",)),
    Case("dyt_forward", k.dyt_forward, _dyt_forward, ("Y",), ("X", "ALPHA", "W", "B")),
    Case("cross_entropy_in_place_gradient", k.cross_entropy_forward_backward, _cross_entropy, ("LOGITS", "LOSS"),
         ("LOGITS", "LABELS")),
    Case("kl_div_forward", k.kl_div_forward, _kl_div(False), ("LOSS",), ("INPUT", "TARGET")),
    Case("kl_div_forward_log_target", k.kl_div_forward, _kl_div(True), ("LOSS",), ("INPUT", "TARGET")),
    Case("kl_div_backward", k.kl_div_backward, _kl_div_backward, ("GRAD",), ("TARGET",)),
    Case("jsd_forward", k.jsd_forward, _jsd, ("LOSS", "dX"), ("X", "Y")),
    Case("softmax_forward", k.softmax_forward, _softmax_forward, ("Y",), ("X",)),
    Case("softmax_backward", k.softmax_backward, _softmax_backward, ("dX",), ("dY", "Y")),
    Case("log_softmax_autotuned", k.log_softmax_autotuned, _log_softmax_autotuned, ("Y",), ("X",)),
    Case("rope_forward_in_place", k.rope_in_place, _rope(False), ("Q", "K"), ("Q", "K", "COS", "SIN")),
    Case("rope_backward_in_place", k.rope_in_place, _rope(True), ("Q", "K"), ("Q", "K", "COS", "SIN")),
    Case("gated_scan_forward", k.gated_scan_forward, _gated_scan_forward, ("O",), ("X", "G")),
    Case("gated_scan_backward", k.gated_scan_backward, _gated_scan_backward, ("dX", "dG"), ("G", "O", "dO")),
]
