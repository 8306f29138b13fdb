"""The library corpus as a kernel library writes it: autograd.Functions that launch with plain
``kernel[grid](...)``, one program through ``torch.library.wrap_triton`` and one through
``@torch.library.triton_op``. Nothing here names tritonhost: ``tritonhost.install()`` routes them."""

from __future__ import annotations

import torch
import triton
from torch.library import triton_op, wrap_triton

import library_kernels as lib
from kernels import autotuned_scale_kernel

EPS = 1e-6


class RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        rows, cols = x.shape
        y = torch.empty_like(x)
        rstd = torch.empty(rows, dtype=torch.float32, device=x.device)
        lib.rms_norm_forward[(rows,)](y, y.stride(0), x, x.stride(0), w, rstd, cols, EPS,
                                      BLOCK=triton.next_power_of_2(cols))
        ctx.save_for_backward(x, w, rstd)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w, rstd = ctx.saved_tensors
        rows, cols = x.shape
        dx = torch.empty_like(x)
        dw_rows = torch.empty(rows, cols, dtype=torch.float32, device=x.device)
        lib.rms_norm_backward[(rows,)](dy.contiguous(), x, w, rstd, dx, dw_rows, cols, cols,
                                       BLOCK=triton.next_power_of_2(cols))
        return dx, dw_rows.sum(0).to(w.dtype)


def rms_norm_reference(x, w):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(1, keepdim=True) + EPS) * w.float()).to(x.dtype)


class FusedAddRMSNorm(torch.autograd.Function):
    """Liger-Kernel's residual add + RMSNorm (``in_place=True``): returns the norm and the new
    residual ``s = x + r``; the backward writes its gradient over the incoming ``dy`` and
    returns that one buffer as the gradient of both ``x`` and ``r``. As Liger's, it takes any
    leading dimensions and works on views of them as rows."""

    @staticmethod
    def forward(ctx, x, r, w):
        shape = x.shape
        x, r = x.view(-1, shape[-1]), r.view(-1, shape[-1])
        rows, cols = x.shape
        y, s = torch.empty_like(x), torch.empty_like(x)
        rstd = torch.empty(rows, dtype=torch.float32, device=x.device)
        lib.fused_add_rms_norm_forward[(rows,)](y, s, x, r, w, rstd, x.stride(0), cols, EPS,
                                                BLOCK=triton.next_power_of_2(cols))
        ctx.save_for_backward(s, w, rstd)
        return y.view(*shape), s.view(*shape)

    @staticmethod
    def backward(ctx, dy, ds):
        s, w, rstd = ctx.saved_tensors
        shape = dy.shape
        rows, cols = s.shape
        dy, ds = dy.contiguous().view(-1, cols), ds.contiguous().view(-1, cols)
        dx = dy  # in place, to save memory
        programs = min(4, rows)
        rows_per_program = triton.cdiv(rows, programs)
        dw_partial = torch.empty(programs, cols, dtype=torch.float32, device=s.device)
        lib.fused_add_rms_norm_backward[(programs,)](dy, ds, dx, s, w, rstd, dw_partial, s.stride(0), rows, cols,
                                                     rows_per_program=rows_per_program,
                                                     BLOCK=triton.next_power_of_2(cols))
        dx = dx.view(*shape)
        return dx, dx, dw_partial.sum(0).to(w.dtype)


def fused_add_rms_norm_reference(x, r, w):
    s = x + r
    return rms_norm_reference(s.view(-1, s.shape[-1]), w).view(s.shape), s


class DyT(torch.autograd.Function):
    """Dynamic tanh with an optional beta, through ``@triton.heuristics`` kernels."""

    @staticmethod
    def forward(ctx, x, alpha, w, b):
        rows, cols = x.shape
        y = torch.empty_like(x)
        block = triton.next_power_of_2(cols)
        lib.dyt_with_optional_beta_forward[(rows,)](x, alpha, w, b, y, cols, BLOCK=block)
        ctx.save_for_backward(x, alpha, w)
        ctx.has_beta = b is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        x, alpha, w = ctx.saved_tensors
        rows, cols = x.shape
        dx = torch.empty_like(x)
        dalpha_rows = torch.empty(rows, dtype=torch.float32, device=x.device)
        dw_rows = torch.empty(rows, cols, dtype=torch.float32, device=x.device)
        db_rows = torch.empty(rows, cols, dtype=torch.float32, device=x.device) if ctx.has_beta else None
        lib.dyt_with_optional_beta_backward[(rows,)](dy.contiguous(), x, alpha, w, dx, dalpha_rows, dw_rows, db_rows,
                                                     cols, BLOCK=triton.next_power_of_2(cols))
        db = None if db_rows is None else db_rows.sum(0).to(w.dtype)
        return dx, dalpha_rows.sum().reshape(alpha.shape).to(alpha.dtype), dw_rows.sum(0).to(w.dtype), db


def dyt_reference(x, alpha, w, b=None):
    y = torch.tanh(alpha.float() * x.float()) * w.float()
    return (y if b is None else y + b.float()).to(x.dtype)


class SwiGLU(torch.autograd.Function):
    """The backward writes its gradients into the saved inputs, in place, as memory-frugal libraries do."""

    @staticmethod
    def forward(ctx, a, b):
        c = torch.empty_like(a)
        n = a.numel()
        lib.swiglu_forward[(triton.cdiv(n, 64),)](a, b, c, n, BLOCK=64)
        ctx.save_for_backward(a, b)
        return c

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved_tensors
        a, b = a.clone(), b.clone()  # the kernel overwrites them with the gradients
        n = a.numel()
        lib.swiglu_backward[(triton.cdiv(n, 64),)](dc.contiguous(), a, b, n, BLOCK=64)
        return a, b


class SwiGLUIntoInputs(torch.autograd.Function):
    """As Liger-Kernel's SwiGLU: the backward overwrites the saved inputs themselves (no copy)
    with their gradients, so after backward the caller's ``a`` and ``b`` hold ``da`` and ``db``."""

    @staticmethod
    def forward(ctx, a, b):
        c = torch.empty_like(a)
        n = a.numel()
        lib.swiglu_forward[(triton.cdiv(n, 64),)](a, b, c, n, BLOCK=64)
        ctx.save_for_backward(a, b)
        return c

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved_tensors
        n = a.numel()
        lib.swiglu_backward[(triton.cdiv(n, 64),)](dc.contiguous(), a, b, n, BLOCK=64)
        return a, b


def swiglu_reference(a, b):
    return torch.nn.functional.silu(a) * b


class Scale(torch.autograd.Function):
    """An autotuned kernel, launched with a grid function, in both directions."""

    @staticmethod
    def forward(ctx, x, factor):
        out = torch.empty_like(x)
        n = x.numel()
        autotuned_scale_kernel[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](x, out, factor, n)
        ctx.factor = factor
        return out

    @staticmethod
    def backward(ctx, grad):
        out = torch.empty_like(grad)
        n = grad.numel()
        autotuned_scale_kernel[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](grad.contiguous(), out, ctx.factor, n)
        return out, None


class GatedScan(torch.autograd.Function):
    """As flash-linear-attention writes its recurrent Functions: the kernel writes the output
    in fp32, the forward saves it for the backward and returns ``o.to(x.dtype)``.

    In fp32 that cast is a no-op which returns the saved tensor itself: on torch 2.11, Dynamo
    then gives the backward zeros for ``do`` (pytorch/pytorch#180642; compat/autograd_function.py)."""

    @staticmethod
    def forward(ctx, x, g):
        batch, time, dim = x.shape
        o = x.new_empty(batch, time, dim, dtype=torch.float32)
        block = min(triton.next_power_of_2(dim), 64)
        lib.gated_scan_forward[(batch, triton.cdiv(dim, block))](x, g, o, time, dim, BLOCK=block)
        ctx.save_for_backward(g, o)
        return o.to(x.dtype)

    @staticmethod
    def backward(ctx, do):
        g, o = ctx.saved_tensors
        batch, time, dim = o.shape
        dx, dg = torch.empty_like(o), torch.empty_like(o)
        block = min(triton.next_power_of_2(dim), 64)
        lib.gated_scan_backward[(batch, triton.cdiv(dim, block))](g, o, do.contiguous(), dx, dg, time, dim,
                                                                   BLOCK=block)
        return dx.to(g.dtype), dg.to(g.dtype)


def gated_scan_reference(x, g):
    h, out = torch.zeros_like(x[:, 0], dtype=torch.float32), []
    for t in range(x.shape[1]):
        h = g[:, t].float().exp() * h + x[:, t].float()
        out.append(h)
    return torch.stack(out, 1).to(x.dtype)


def swiglu_through_wrap_triton(a, b):
    c = torch.empty_like(a)
    n = a.numel()
    wrap_triton(lib.swiglu_forward)[(triton.cdiv(n, 64),)](a, b, c, n, BLOCK=64)
    return c


@triton_op("tritonhost_library::gelu", mutates_args={})
def gelu(x: torch.Tensor) -> torch.Tensor:
    y = torch.empty_like(x)
    n = x.numel()
    wrap_triton(lib.gelu_erf)[(triton.cdiv(n, 64),)](x, y, n, BLOCK=64)
    return y


def chunked_linear_cross_entropy(x, weight, labels, chunk=32, ignore_index=-100):
    """As Liger-Kernel's fused linear cross entropy forward: the logits made a chunk of rows at a
    time, each chunk's losses written by the kernel into a slice of one zeroed buffer."""
    rows = x.shape[0]
    loss = torch.zeros(rows, dtype=torch.float32, device=x.device)
    for start in range(0, rows, chunk):
        end = min(start + chunk, rows)
        logits = x[start:end] @ weight.t()
        loss_slice = loss[start:end]
        lib.cross_entropy_loss_only[(end - start,)](logits, logits.stride(0), labels[start:end], loss_slice,
                                                     logits.shape[1], ignore_index,
                                                     BLOCK=triton.next_power_of_2(logits.shape[1]))
        loss[start:end] = loss_slice
    return loss.sum() / (labels != ignore_index).sum()


def chunked_linear_cross_entropy_reference(x, weight, labels, ignore_index=-100):
    return torch.nn.functional.cross_entropy((x @ weight.t()).float(), labels, ignore_index=ignore_index)


def rms_norm(x, w):
    return RMSNorm.apply(x, w)


def fused_add_rms_norm(x, r, w):
    return FusedAddRMSNorm.apply(x, r, w)


def dyt(x, alpha, w, b=None):
    return DyT.apply(x, alpha, w, b)


def swiglu(a, b):
    return SwiGLU.apply(a, b)


def swiglu_into_inputs(a, b):
    return SwiGLUIntoInputs.apply(a, b)


def scale_by_three(x):
    return Scale.apply(x, 3.0)


def gated_scan(x, g):
    return GatedScan.apply(x, g)
