"""Kernels written the way widely used Triton kernel libraries write them.

Normalizations, gated activations, losses that write their gradient in place, rotary
embeddings applied in place: with Python-float ``eps`` used through tensor methods,
libdevice math imported by module or by name, an autotuned kernel, and in-place outputs.
"""

from __future__ import annotations

import triton
import triton.language as tl
from triton.language.extra import libdevice
from triton.language.extra.libdevice import tanh as libdevice_tanh

# --- normalizations ---------------------------------------------------------------------------


@triton.jit
def rms_norm_forward(Y, Y_stride, X, X_stride, W, RSTD, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * X_stride + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(W + cols, mask=mask, other=0.0)
    mean_square = tl.sum(x * x, axis=0) / n_cols
    rstd = libdevice.rsqrt(mean_square + eps.to(tl.float32))
    tl.store(RSTD + row, rstd)
    tl.store(Y + row * Y_stride + cols, x * rstd * w, mask=mask)


@triton.jit
def rms_norm_backward(dY, X, W, RSTD, dX, dW_rows, stride, n_cols, BLOCK: tl.constexpr):
    """dX for each row, and each row's contribution to dW (summed by the caller)."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    dy = tl.load(dY + row * stride + cols, mask=mask, other=0.0)
    x = tl.load(X + row * stride + cols, mask=mask, other=0.0)
    w = tl.load(W + cols, mask=mask, other=0.0)
    rstd = tl.load(RSTD + row)
    m = dy * w
    dx = rstd * m - rstd * rstd * rstd * x * tl.sum(m * x, axis=0) / n_cols
    tl.store(dX + row * stride + cols, dx, mask=mask)
    tl.store(dW_rows + row * stride + cols, dy * x * rstd, mask=mask)


@triton.jit
def fused_add_rms_norm(X, R, W, Y, stride, n_cols, eps, BLOCK: tl.constexpr):
    """Adds the residual into R in place, then normalizes it into Y."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    r = tl.load(R + row * stride + cols, mask=mask, other=0.0) + tl.load(X + row * stride + cols, mask=mask, other=0.0)
    tl.store(R + row * stride + cols, r, mask=mask)
    rstd = 1.0 / tl.sqrt(tl.sum(r * r, axis=0) / n_cols + eps)
    tl.store(Y + row * stride + cols, r * rstd * tl.load(W + cols, mask=mask), mask=mask)


@triton.jit
def fused_add_rms_norm_forward(Y, S, X, R, W, RSTD, stride, n_cols, eps, BLOCK: tl.constexpr):
    """As Liger-Kernel's: ``s = x + r`` in the inputs' dtype, stored, then RMS-normalized in fp32."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    s = tl.load(X + row * stride + cols, mask=mask, other=0.0) + tl.load(R + row * stride + cols, mask=mask,
                                                                          other=0.0)
    tl.store(S + row * stride + cols, s, mask=mask)
    s = s.to(tl.float32)
    rstd = libdevice.rsqrt(tl.sum(s * s, axis=0) / n_cols + eps)
    tl.store(RSTD + row, rstd)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(Y + row * stride + cols, s * rstd * w, mask=mask)


@triton.jit
def fused_add_rms_norm_backward(dY, dS, dX, S, W, RSTD, dW_partial, stride, n_rows, n_cols,
                                rows_per_program: tl.constexpr, BLOCK: tl.constexpr):
    """As Liger-Kernel's: each program walks ``rows_per_program`` rows, adds the residual's
    gradient ``dS`` to the norm's, stores ``dX`` (over ``dY`` itself when the caller passes
    the same buffer) and keeps its rows' share of ``dW`` in one row of ``dW_partial``."""
    program = tl.program_id(0).to(tl.int64)
    row_start = program * rows_per_program
    row_end = min((program + 1) * rows_per_program, n_rows)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros((BLOCK,), dtype=tl.float32)
    for row in range(row_start, row_end):
        dy = tl.load(dY + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
        s = tl.load(S + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = tl.load(RSTD + row)
        m = dy * w
        dx = rstd * m - rstd * rstd * rstd * s * (tl.sum(m * s, axis=0) / n_cols)
        dx += tl.load(dS + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(dX + row * stride + cols, dx, mask=mask)
        dw += dy * s * rstd
    tl.store(dW_partial + program * n_cols + cols, dw, mask=mask)


@triton.jit
def layer_norm_forward(X, W, B, Y, MEAN, RSTD, stride, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * stride + cols, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / n_cols
    centered = tl.where(mask, x - mean, 0.0)
    var = tl.sum(centered * centered, axis=0) / n_cols
    rstd = libdevice.rsqrt(var + eps.to(tl.float32))
    tl.store(MEAN + row, mean)
    tl.store(RSTD + row, rstd)
    y = centered * rstd * tl.load(W + cols, mask=mask) + tl.load(B + cols, mask=mask)
    tl.store(Y + row * stride + cols, y, mask=mask)


@triton.jit
def layer_norm_backward(dY, X, W, MEAN, RSTD, dX, dW_rows, dB_rows, stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    dy = tl.load(dY + row * stride + cols, mask=mask, other=0.0)
    x = tl.load(X + row * stride + cols, mask=mask, other=0.0)
    w = tl.load(W + cols, mask=mask, other=0.0)
    mean = tl.load(MEAN + row)
    rstd = tl.load(RSTD + row)
    x_hat = tl.where(mask, (x - mean) * rstd, 0.0)
    wdy = w * dy
    c1 = tl.sum(x_hat * wdy, axis=0) / n_cols
    c2 = tl.sum(wdy, axis=0) / n_cols
    tl.store(dX + row * stride + cols, (wdy - (x_hat * c1 + c2)) * rstd, mask=mask)
    tl.store(dW_rows + row * stride + cols, dy * x_hat, mask=mask)
    tl.store(dB_rows + row * stride + cols, dy, mask=mask)


@triton.jit
def group_norm_forward(X, W, B, Y, MEAN, RSTD, channels_per_group, spatial, num_groups, eps,
                       BLOCK: tl.constexpr):
    """One program per (batch, group); X is (batch, channels, spatial), contiguous."""
    batch = tl.program_id(0)
    group = tl.program_id(1)
    n = channels_per_group * spatial
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    base = (batch * num_groups + group) * n
    x = tl.load(X + base + offs, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / n
    centered = tl.where(mask, x - mean, 0.0)
    rstd = libdevice.rsqrt(tl.sum(centered * centered, axis=0) / n + eps)
    channel = group * channels_per_group + offs // spatial
    y = centered * rstd * tl.load(W + channel, mask=mask) + tl.load(B + channel, mask=mask)
    tl.store(Y + base + offs, y, mask=mask)
    tl.store(MEAN + batch * num_groups + group, mean)
    tl.store(RSTD + batch * num_groups + group, rstd)


# --- gated activations ------------------------------------------------------------------------


@triton.jit
def swiglu_forward(A, B, C, n_elements, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    a = tl.load(A + offs, mask=mask).to(tl.float32)
    b = tl.load(B + offs, mask=mask)
    tl.store(C + offs, a * tl.sigmoid(a) * b, mask=mask)


@triton.jit
def swiglu_backward(dC, A, B, n_elements, BLOCK: tl.constexpr):
    """Writes dA into A and dB into B, in place, as memory-frugal libraries do."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    dc = tl.load(dC + offs, mask=mask)
    a = tl.load(A + offs, mask=mask)
    b = tl.load(B + offs, mask=mask)
    sig = tl.sigmoid(a)
    silu = a * sig
    tl.store(A + offs, dc * b * (silu * (1 - sig) + sig), mask=mask)
    tl.store(B + offs, dc * silu, mask=mask)


@triton.jit
def geglu_forward(A, B, C, n_elements, BLOCK: tl.constexpr):
    """GELU with the tanh approximation, libdevice.tanh imported by name."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    a = tl.load(A + offs, mask=mask)
    b = tl.load(B + offs, mask=mask)
    inner = 0.7978845608028654 * (a + 0.044715 * a * a * a)
    tl.store(C + offs, 0.5 * a * (1 + libdevice_tanh(inner)) * b, mask=mask)


@triton.jit
def geglu_backward(dC, A, B, n_elements, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    dc = tl.load(dC + offs, mask=mask)
    a = tl.load(A + offs, mask=mask)
    b = tl.load(B + offs, mask=mask)
    k = 0.7978845608028654
    t = libdevice_tanh(k * (a + 0.044715 * a * a * a))
    gelu = 0.5 * a * (1 + t)
    dgelu = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * 0.044715 * a * a)
    tl.store(A + offs, dc * b * dgelu, mask=mask)
    tl.store(B + offs, dc * gelu, mask=mask)


@triton.jit
def gelu_erf(X, Y, n_elements, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    x = tl.load(X + offs, mask=mask)
    tl.store(Y + offs, 0.5 * x * (1 + libdevice.erf(x * 0.7071067811865476)), mask=mask)


@triton.jit
def dyt_forward(X, ALPHA, W, B, Y, n_cols, BLOCK: tl.constexpr):
    """Dynamic tanh: tanh(alpha * x) * w + b, alpha read from a one-element tensor."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * n_cols + cols, mask=mask)
    y = libdevice.tanh(tl.load(ALPHA) * x) * tl.load(W + cols, mask=mask) + tl.load(B + cols, mask=mask)
    tl.store(Y + row * n_cols + cols, y, mask=mask)


@triton.heuristics({"HAVE_BETA": lambda args: args["B"] is not None})
@triton.jit
def dyt_with_optional_beta_forward(X, ALPHA, W, B, Y, n_cols, BLOCK: tl.constexpr, HAVE_BETA: tl.constexpr):
    """Liger-Kernel's DyT, ``tanh(alpha * x) * w (+ b)``: whether there is a ``b`` decided by a heuristic."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    y = libdevice_tanh(tl.load(ALPHA).to(tl.float32) * x) * tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    if HAVE_BETA:
        y += tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(Y + row * n_cols + cols, y, mask=mask)


@triton.heuristics({"HAVE_BETA": lambda args: args["dB_rows"] is not None})
@triton.jit
def dyt_with_optional_beta_backward(dY, X, ALPHA, W, dX, dALPHA_rows, dW_rows, dB_rows, n_cols, BLOCK: tl.constexpr,
                                    HAVE_BETA: tl.constexpr):
    """Each row's dX, and its share of dALPHA, dW and (with a beta) dB, summed by the caller."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    dy = tl.load(dY + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    x = tl.load(X + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    alpha = tl.load(ALPHA).to(tl.float32)
    t = libdevice_tanh(alpha * x)
    d_tanh = dy * tl.load(W + cols, mask=mask, other=0.0).to(tl.float32) * (1.0 - t * t)
    tl.store(dX + row * n_cols + cols, d_tanh * alpha, mask=mask)
    tl.store(dALPHA_rows + row, tl.sum(tl.where(mask, d_tanh * x, 0.0), axis=0))
    tl.store(dW_rows + row * n_cols + cols, dy * t, mask=mask)
    if HAVE_BETA:
        tl.store(dB_rows + row * n_cols + cols, dy, mask=mask)


# --- losses -----------------------------------------------------------------------------------


@triton.jit
def cross_entropy_forward_backward(LOGITS, stride, LABELS, LOSS, n_cols, ignore_index, label_smoothing,
                                   inv_n_rows, BLOCK: tl.constexpr):
    """Loss per row; the gradient overwrites the logits in place (the memory-saving idiom)."""
    row = tl.program_id(0)
    label = tl.load(LABELS + row)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    ptrs = LOGITS + row * stride + cols
    if label == ignore_index:
        tl.store(ptrs, tl.zeros((BLOCK,), dtype=tl.float32), mask=mask)
        tl.store(LOSS + row, 0.0)
        return
    x = tl.load(ptrs, mask=mask, other=-float("inf")).to(tl.float32)
    m = tl.max(x, axis=0)
    e = tl.exp(x - m)
    d = tl.sum(e, axis=0)
    lse = m + tl.log(d)
    eps = label_smoothing / n_cols
    x_label = tl.sum(tl.where(cols == label, x, 0.0), axis=0)
    smooth = tl.sum(tl.where(mask, x, 0.0), axis=0)
    loss = (lse - x_label) * (1 - label_smoothing) + (lse * n_cols - smooth) * eps
    tl.store(LOSS + row, loss)
    grad = (e / d - eps - (1 - label_smoothing) * (cols == label)) * inv_n_rows
    tl.store(ptrs, grad, mask=mask)


@triton.jit
def cross_entropy_loss_only(LOGITS, stride, LABELS, LOSS, n_cols, ignore_index, BLOCK: tl.constexpr):
    """As Liger-Kernel's cross entropy: a row labelled ``ignore_index`` returns before storing its
    loss, which the caller zeroed."""
    row = tl.program_id(0)
    label = tl.load(LABELS + row)
    if label == ignore_index:
        return
    cols = tl.arange(0, BLOCK)
    x = tl.load(LOGITS + row * stride + cols, mask=cols < n_cols, other=-float("inf")).to(tl.float32)
    m = tl.max(x, axis=0)
    lse = m + tl.log(tl.sum(tl.exp(x - m), axis=0))
    tl.store(LOSS + row, lse - tl.sum(tl.where(cols == label, x, 0.0), axis=0))


@triton.jit
def kl_div_forward(INPUT, TARGET, LOSS, n_elements, LOG_TARGET: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    y_pred = tl.load(INPUT + offs, mask=mask, other=0.0)
    y = tl.load(TARGET + offs, mask=mask, other=1.0)
    if LOG_TARGET:
        loss = libdevice.exp(y) * (y - y_pred)
    else:
        loss = tl.where(y > 0, y * (libdevice.log(y) - y_pred), 0.0)
    tl.store(LOSS + offs, loss, mask=mask)


@triton.jit
def kl_div_backward(TARGET, GRAD, n_elements, LOG_TARGET: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    y = tl.load(TARGET + offs, mask=mask)
    grad = -libdevice.exp(y) if LOG_TARGET else -y
    tl.store(GRAD + offs, grad, mask=mask)


@triton.jit
def jsd_forward(X, Y, LOSS, dX, stride, n_cols, beta, BLOCK: tl.constexpr):
    """Generalized Jensen-Shannon divergence of log-probabilities, with its gradient in dX."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * stride + cols, mask=mask, other=float("-inf"))
    y = tl.load(Y + row * stride + cols, mask=mask, other=float("-inf"))
    q = libdevice.exp(x)
    p = libdevice.exp(y)
    m = beta * p + (1 - beta) * q
    log_m = libdevice.log(m)
    loss = tl.where(mask, beta * p * (y - log_m) + (1 - beta) * q * (x - log_m), 0.0)
    tl.store(LOSS + row * stride + cols, loss, mask=mask)
    tl.store(dX + row * stride + cols, (1 - beta) * q * (x - log_m), mask=mask)


# --- softmax, rotary ---------------------------------------------------------------------------


@triton.jit
def softmax_forward(X, Y, stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * stride + cols, mask=mask, other=-float("inf"))
    e = libdevice.exp(x - tl.max(x, axis=0))
    tl.store(Y + row * stride + cols, e / tl.sum(e, axis=0), mask=mask)


@triton.jit
def softmax_backward(dY, Y, dX, stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    dy = tl.load(dY + row * stride + cols, mask=mask, other=0.0)
    y = tl.load(Y + row * stride + cols, mask=mask, other=0.0)
    tl.store(dX + row * stride + cols, y * (dy - tl.sum(dy * y, axis=0)), mask=mask)


@triton.autotune(
    configs=[triton.Config({"BLOCK": 32}, num_warps=2), triton.Config({"BLOCK": 64}, num_warps=4)],
    key=["n_cols"],
)
@triton.jit
def log_softmax_autotuned(X, Y, stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * stride + cols, mask=mask, other=-float("inf"))
    shifted = x - tl.max(x, axis=0)
    tl.store(Y + row * stride + cols, shifted - libdevice.log(tl.sum(tl.exp(shifted), axis=0)), mask=mask)


@triton.jit
def rope_in_place(Q, K, COS, SIN, seq_len, n_q_heads, n_k_heads, HEAD_DIM: tl.constexpr,
                  BACKWARD: tl.constexpr):
    """Rotary embedding applied to q and k in place; BACKWARD rotates the other way.

    Q is (batch, seq, n_q_heads, HEAD_DIM), K likewise; COS and SIN are (seq, HEAD_DIM // 2).
    """
    pid = tl.program_id(0)  # one program per (batch, position)
    pos = pid % seq_len
    half = tl.arange(0, HEAD_DIM // 2)
    cos = tl.load(COS + pos * (HEAD_DIM // 2) + half)
    sin = tl.load(SIN + pos * (HEAD_DIM // 2) + half)
    if BACKWARD:
        sin = -sin
    for h in range(n_q_heads):
        base = Q + (pid * n_q_heads + h) * HEAD_DIM
        x1 = tl.load(base + half)
        x2 = tl.load(base + HEAD_DIM // 2 + half)
        tl.store(base + half, x1 * cos - x2 * sin)
        tl.store(base + HEAD_DIM // 2 + half, x2 * cos + x1 * sin)
    for h in range(n_k_heads):
        base = K + (pid * n_k_heads + h) * HEAD_DIM
        x1 = tl.load(base + half)
        x2 = tl.load(base + HEAD_DIM // 2 + half)
        tl.store(base + half, x1 * cos - x2 * sin)
        tl.store(base + HEAD_DIM // 2 + half, x2 * cos + x1 * sin)


# --- a recurrence, as linear-attention libraries write it --------------------------------------


@triton.jit
def gated_scan_forward(X, G, O, T, D, BLOCK: tl.constexpr):
    """``o[t] = exp(g[t]) * o[t - 1] + x[t]`` along T, one program per (sequence, block of D), as
    flash-linear-attention's HGRN: the state stays in fp32 registers, the loop runs over time."""
    i_b, i_d = tl.program_id(0), tl.program_id(1)
    cols = i_d * BLOCK + tl.arange(0, BLOCK)
    mask = cols < D
    h = tl.zeros([BLOCK], dtype=tl.float32)
    for t in range(T):
        at = (i_b * T + t).to(tl.int64) * D + cols
        x = tl.load(X + at, mask=mask, other=0).to(tl.float32)
        g = tl.load(G + at, mask=mask, other=0).to(tl.float32)
        h = tl.exp(g) * h + x
        tl.store(O + at, h.to(O.dtype.element_ty), mask=mask)


@triton.jit
def gated_scan_backward(G, O, dO, dX, dG, T, D, BLOCK: tl.constexpr):
    """The same recurrence backwards in time: ``dx[t] = do[t] + exp(g[t + 1]) * dx[t + 1]`` and
    ``dg[t] = dx[t] * exp(g[t]) * o[t - 1]``, reading the forward's saved output."""
    i_b, i_d = tl.program_id(0), tl.program_id(1)
    cols = i_d * BLOCK + tl.arange(0, BLOCK)
    mask = cols < D
    dh = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(T):
        t = T - 1 - i
        at = (i_b * T + t).to(tl.int64) * D + cols
        dh += tl.load(dO + at, mask=mask, other=0).to(tl.float32)
        g = tl.exp(tl.load(G + at, mask=mask, other=0).to(tl.float32))
        before = tl.load(O + at - D, mask=mask & (t > 0), other=0).to(tl.float32)
        tl.store(dX + at, dh.to(dX.dtype.element_ty), mask=mask)
        tl.store(dG + at, (dh * g * before).to(dG.dtype.element_ty), mask=mask)
        dh *= g
