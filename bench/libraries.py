"""Two real Triton kernel libraries, unchanged, under tritonhost (issue 13).

Runs the ops of Liger-Kernel (``liger-kernel``, an LLM-training library: norms,
activations, rotary embeddings, losses) and of flash-linear-attention
(``flash-linear-attention``, package ``fla``: chunked and recurrent linear-attention
kernels) exactly as their users call them, forward and backward, in fp32 and bf16, and
compares values and gradients with PyTorch references computed in fp32 from the same
inputs: for fla its own naive functions (``fla.ops.*.naive``), for Liger the formulas its
tests take from Hugging Face modules, written out here in PyTorch so that no
``transformers`` is needed.

Modes, per op and dtype (each in its own try, under a per-run timeout):

======================  =========  ===========================================================
mode                    install()  how it runs
======================  =========  ===========================================================
eager                   yes        the op called eagerly
aot_eager               yes        torch.compile(backend="aot_eager")
tritonhost              yes        torch.compile(backend="tritonhost")
inductor                yes        torch.compile(backend="inductor"): on a CPU, tritonhost's
                                   operator as Inductor's extern call; on a GPU, Dynamo keeps
                                   PyTorch's operator (Inductor's own Triton path)
tritonhost-uninstalled  no         torch.compile(backend="tritonhost"): GPU only
tritonhost-modelled     yes        CPU only: as tritonhost, with Dynamo made to model Triton
                                   kernels as on a GPU machine (the GPU's compile path)
anchor:triton           no         PyTorch and Triton alone, eager: GPU only
anchor:inductor         no         torch.compile(backend="inductor"): GPU only
anchor:aot_eager        no         torch.compile(backend="aot_eager"): GPU only
======================  =========  ===========================================================

On a CPU, PyTorch's own Triton paths cannot run (Triton has no CPU driver), so the anchors
are listed as not runnable rather than counted; so is tritonhost-uninstalled, whose
launches outside the compiled graph (before and after a graph break) are Triton's own.
On a GPU machine Dynamo always models kernels, so "tritonhost-modelled" is plain
"tritonhost" there and is not repeated. There is no "aot_eager-modelled": with kernels
modelled, aot_eager runs PyTorch's own analysis of each kernel, which needs a Triton driver
(on a CPU it gives up and takes every argument as written), so a CPU cannot stand in for the
GPU there.

A run passes when every output and every input gradient is finite and within the dtype's
tolerance of the reference: ``rms(got - want) / rms(want)`` (fla's own test measure) at
most ``TOLERANCE[dtype]``. Compiled modes run with graph breaks allowed, as users run
them; the table shows the graph breaks Dynamo reported ("br") and, for backend="tritonhost",
how many kernel launches its generated wrappers hold ("in graph", forward and backward), so
that a pass that ran eagerly reads as such: fla wraps most of its ops in
``torch.compiler.disable``, so under torch.compile they run eagerly by the library's choice.

    TRITONHOST_BACKEND=interpreter python bench/libraries.py --out /tmp/libraries.json
    python bench/libraries.py --device cuda --out $OUT/libraries.json       # on a GPU
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from tritonhost.ir.nodes import UserDefinedTritonKernel

#: Largest ``rms(got - want) / rms(want)`` that passes, per dtype. fp32 leaves room for
#: TF32 matrix products on a GPU (fla's chunked kernels use tl.dot); bf16 for one bf16
#: rounding of each output and of the gradients a backward kernel accumulates in bf16.
TOLERANCE = {torch.float32: 5e-3, torch.bfloat16: 3e-2}

Tensors = tuple[torch.Tensor, ...]


@dataclass
class Case:
    """One library op: inputs made from a seed, the op as users call it, and a reference."""

    library: str
    name: str
    #: (dtype, device, shapes) -> inputs; floating inputs that require grad get gradients.
    make: Callable[[torch.dtype, str, str], Tensors]
    op: Callable[..., Any]
    reference: Callable[..., Any]
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16)
    #: False where the library has no backward: then values alone are compared.
    backward: bool = True


@dataclass
class Mode:
    """How one run launches the op's kernels."""

    name: str
    install: bool
    backend: str | None  # None: eager
    models: bool = False  # Dynamo made to model Triton kernels (CPU only)
    anchor: bool = False  # PyTorch's own path, without tritonhost
    cpu: bool = True  # runnable on a CPU
    gpu: bool = True  # listed on a GPU


MODES = [
    Mode("eager", True, None),
    Mode("aot_eager", True, "aot_eager"),
    Mode("tritonhost", True, "tritonhost"),
    Mode("inductor", True, "inductor"),
    Mode("tritonhost-uninstalled", False, "tritonhost", cpu=False),
    Mode("tritonhost-modelled", True, "tritonhost", models=True, gpu=False),
    Mode("anchor:triton", False, None, anchor=True, cpu=False),
    Mode("anchor:inductor", False, "inductor", anchor=True, cpu=False),
    Mode("anchor:aot_eager", False, "aot_eager", anchor=True, cpu=False),
]


@dataclass
class Result:
    library: str
    op: str
    dtype: str
    mode: str
    status: str  # pass, fail (wrong values), error, timeout, n/a, skipped
    error: str = ""
    value_error: float | None = None
    grad_error: float | None = None
    graph_breaks: int = 0
    #: Kernel launches in the wrappers backend="tritonhost" generated (forward and
    #: backward); None for other modes. 0 means every launch ran eagerly (a graph break,
    #: or a library that keeps its op out of torch.compile).
    compiled_launches: int | None = None
    seconds: float = 0.0
    worst: str = ""
    details: dict[str, float] = field(default_factory=dict)


# --- inputs --------------------------------------------------------------------------------


def _leaf(t: torch.Tensor, dtype: torch.dtype, grad: bool = True) -> torch.Tensor:
    return t.to(dtype).detach().requires_grad_(grad)


def _randn(*shape: int, device: str) -> torch.Tensor:
    return torch.randn(*shape, device=device, dtype=torch.float32)


def _small(shapes: str) -> bool:
    return shapes == "small"


# --- Liger-Kernel --------------------------------------------------------------------------


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def _sparsemax(x: torch.Tensor) -> torch.Tensor:
    """Sparsemax along the last dimension (Martins and Astudillo), by sorting."""
    z, _ = torch.sort(x, dim=-1, descending=True)
    k = torch.arange(1, x.shape[-1] + 1, device=x.device, dtype=x.dtype)
    cumulative = z.cumsum(-1)
    support = 1 + k * z > cumulative
    size = support.sum(-1, keepdim=True)
    tau = (cumulative.gather(-1, size - 1) - 1) / size.to(x.dtype)
    return torch.clamp(x - tau, min=0)


def _jsd(student_log: torch.Tensor, teacher_log: torch.Tensor, beta: float) -> torch.Tensor:
    """Liger's generalised JSD, batch-mean: beta*KL(P||M) + (1-beta)*KL(Q||M), M = beta*P + (1-beta)*Q."""
    p, q = teacher_log.exp(), student_log.exp()
    log_m = torch.log(beta * p + (1 - beta) * q)
    loss = beta * p * (teacher_log - log_m) + (1 - beta) * q * (student_log - log_m)
    return loss.sum() / student_log.shape[0]


def _liger_cases() -> list[Case]:
    import liger_kernel.transformers.functional as lf

    eps = 1e-6

    def rows(shapes: str) -> tuple[int, int]:
        return (12, 72) if _small(shapes) else (2 * 128, 1024)

    def vocab(shapes: str) -> tuple[int, int, int]:
        return (8, 24, 100) if _small(shapes) else (1024, 512, 32000)  # rows, hidden, vocab

    def xw(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return _leaf(_randn(n, h, device=device), dtype), _leaf(_randn(h, device=device), dtype)

    def xwb(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(_randn(h, device=device), dtype),
            _leaf(_randn(h, device=device), dtype),
        )

    def ab(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return _leaf(_randn(n, h, device=device), dtype), _leaf(_randn(n, h, device=device), dtype)

    def one(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return (_leaf(_randn(n, h, device=device), dtype),)

    def rope_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        b, hq, hk, t, d = (1, 4, 2, 6, 16) if _small(shapes) else (2, 32, 8, 128, 128)
        angles = _randn(1, t, d // 2, device=device)
        cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
        return (
            _leaf(_randn(b, hq, t, d, device=device), dtype),
            _leaf(_randn(b, hk, t, d, device=device), dtype),
            _leaf(cos, dtype, False),
            _leaf(sin, dtype, False),
        )

    def rope_ref(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> Tensors:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin

    def mrope_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        b, hq, hk, t, d = (1, 4, 2, 6, 16) if _small(shapes) else (2, 28, 4, 128, 128)
        angles = _randn(3, b, t, d // 2, device=device)
        cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
        return (
            _leaf(_randn(b, hq, t, d, device=device), dtype),
            _leaf(_randn(b, hk, t, d, device=device), dtype),
            _leaf(cos, dtype, False),
            _leaf(sin, dtype, False),
        )

    def mrope_section(head_dim: int) -> list[int]:
        # Qwen2-VL's split of the rotary half: temporal, height, width ([16, 24, 24] at 128).
        return [head_dim // 8, head_dim * 3 // 16, head_dim * 3 // 16]

    def mrope_op(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> Any:
        return lf.liger_qwen2vl_mrope(q, k, cos, sin, mrope_section(q.shape[-1]))

    def mrope_ref(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> Tensors:
        # Hugging Face's apply_multimodal_rotary_pos_emb (Qwen2-VL).
        section = mrope_section(q.shape[-1]) * 2
        cos = torch.cat([m[i % 3] for i, m in enumerate(cos.split(section, dim=-1))], dim=-1).unsqueeze(1)
        sin = torch.cat([m[i % 3] for i, m in enumerate(sin.split(section, dim=-1))], dim=-1).unsqueeze(1)
        return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin

    def targets(n: int, v: int, device: str) -> torch.Tensor:
        target = torch.randint(0, v, (n,), device=device)
        target[::5] = -100  # ignore_index: a row that must contribute nothing
        return target

    def ce_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, _, v = vocab(shapes)
        return _leaf(_randn(n, v, device=device), dtype), targets(n, v, device)

    def flce_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h, v = vocab(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(_randn(v, h, device=device) / math.sqrt(h), dtype),
            targets(n, v, device),
        )

    def log_probs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, _, v = vocab(shapes)
        return (
            _leaf(_randn(n, v, device=device).log_softmax(-1), dtype),
            _leaf(_randn(n, v, device=device).log_softmax(-1), dtype, False),
        )

    def kl_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, _, v = vocab(shapes)
        return (
            _leaf(_randn(n, v, device=device).log_softmax(-1), dtype),
            _leaf(_randn(n, v, device=device).softmax(-1), dtype, False),
        )

    def tvd_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, _, v = vocab(shapes)
        return (
            _leaf(_randn(n, v, device=device).softmax(-1), dtype),
            _leaf(_randn(n, v, device=device).softmax(-1), dtype, False),
        )

    def fljsd_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h, v = vocab(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(_randn(v, h, device=device) / math.sqrt(h), dtype),
            _leaf(_randn(n, h, device=device), dtype, False),
            _leaf(_randn(v, h, device=device) / math.sqrt(h), dtype, False),
        )

    def group_norm_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        b, c, length = (2, 8, 20) if _small(shapes) else (16, 64, 1024)
        return (
            _leaf(_randn(b, c, length, device=device), dtype),
            _leaf(_randn(c, device=device), dtype),
            _leaf(_randn(c, device=device), dtype),
        )

    def dyt_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(torch.full((1,), 0.7, device=device), dtype),
            _leaf(_randn(h, device=device), dtype),
            _leaf(_randn(h, device=device), dtype),
        )

    def poly_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(torch.tensor([0.3, 0.5, 0.9], device=device), dtype),
            _leaf(torch.tensor(0.1, device=device), dtype),
        )

    def add_rms_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h = rows(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(_randn(h, device=device), dtype),
        )

    def poly_ref(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return w[0] * _rms(x**3, eps) + w[1] * _rms(x**2, eps) + w[2] * _rms(x, eps) + b

    def flkl_inputs(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
        n, h, v = vocab(shapes)
        return (
            _leaf(_randn(n, h, device=device), dtype),
            _leaf(_randn(v, h, device=device) / math.sqrt(h), dtype),
            _leaf(_randn(n, v, device=device).softmax(-1), dtype, False),
        )

    def flkl_ref(x: torch.Tensor, w: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.kl_div((x @ w.T).log_softmax(-1), target, reduction="batchmean")

    import liger_kernel.utils

    if not torch.cuda.is_available():
        # Liger's infer_device() asks transformers whether an Ascend NPU is present, in a
        # try block; without transformers, Dynamo breaks the graph at the failed import,
        # inside every op. A GPU machine never asks (torch.cuda.is_available() answers
        # first), so on a CPU Dynamo is told to take the answer as a constant (an attribute
        # on the function, nothing in the library replaced): the graphs are the GPU's.
        torch._dynamo.assume_constant_result(liger_kernel.utils.is_npu_available)

    liger = "Liger-Kernel"
    return [
        Case(liger, "rms_norm", xw, lambda x, w: lf.liger_rms_norm(x, w, eps), lambda x, w: _rms(x, eps) * w),
        Case(
            liger,
            "layer_norm",
            xwb,
            lambda x, w, b: lf.liger_layer_norm(x, w, b, eps),
            lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, eps),
        ),
        Case(
            liger,
            "fused_add_rms_norm",
            add_rms_inputs,
            lambda x, r, w: lf.liger_fused_add_rms_norm(x, r, w, eps),
            lambda x, r, w: (_rms(x + r, eps) * w, x + r),
        ),
        Case(liger, "poly_norm", poly_inputs, lambda x, w, b: lf.liger_poly_norm(x, w, b, eps), poly_ref),
        Case(
            liger,
            "dyt",
            dyt_inputs,
            lf.liger_dyt,
            lambda x, alpha, gamma, beta: gamma * torch.tanh(alpha * x) + beta,
        ),
        Case(
            liger,
            "group_norm",
            group_norm_inputs,
            lambda x, w, b: lf.liger_group_norm(x, w, b, x.shape[1], 4, eps),
            lambda x, w, b: F.group_norm(x, 4, w, b, eps),
        ),
        Case(liger, "swiglu", ab, lf.liger_swiglu, lambda a, b: F.silu(a) * b),
        Case(liger, "geglu", ab, lf.liger_geglu, lambda a, b: F.gelu(a, approximate="tanh") * b),
        Case(liger, "relu_squared", one, lf.liger_relu_squared, lambda x: F.relu(x) ** 2),
        Case(liger, "softmax", one, lf.liger_softmax, lambda x: x.softmax(-1)),
        Case(liger, "sparsemax", one, lf.liger_sparsemax, _sparsemax),
        Case(liger, "rope", rope_inputs, lf.liger_rope, rope_ref),
        Case(liger, "qwen2vl_mrope", mrope_inputs, mrope_op, mrope_ref),
        Case(
            liger,
            "cross_entropy",
            ce_inputs,
            lf.liger_cross_entropy,
            lambda x, t: F.cross_entropy(x, t, ignore_index=-100),
        ),
        Case(
            liger,
            "fused_linear_cross_entropy",
            flce_inputs,
            lf.liger_fused_linear_cross_entropy,
            lambda x, w, t: F.cross_entropy(x @ w.T, t, ignore_index=-100),
        ),
        Case(
            liger,
            "kl_div",
            kl_inputs,
            lambda x, t: lf.liger_kl_div(x, t, reduction="batchmean"),
            lambda x, t: F.kl_div(x, t, reduction="batchmean"),
        ),
        Case(
            liger, "jsd", log_probs, lambda x, t: lf.liger_jsd(x, t, beta=0.3), lambda x, t: _jsd(x, t, 0.3)
        ),
        Case(
            liger,
            "tvd",
            tvd_inputs,
            lambda p, q: lf.liger_tvd(p, q, reduction="batchmean"),
            lambda p, q: 0.5 * (p - q).abs().sum() / p.shape[0],
        ),
        Case(
            liger,
            "fused_linear_jsd",
            fljsd_inputs,
            lambda x, w, tx, tw: lf.liger_fused_linear_jsd(x, w, tx, tw, jsd_beta=0.3, temperature=2.0),
            lambda x, w, tx, tw: _jsd(
                (x @ w.T / 2.0).log_softmax(-1), (tx @ tw.T / 2.0).log_softmax(-1), 0.3
            ),
        ),
        Case(liger, "fused_linear_kl_div", flkl_inputs, lf.liger_fused_linear_kl_div, flkl_ref),
    ]


# --- flash-linear-attention ----------------------------------------------------------------


def _fla_cases() -> list[Case]:
    with warnings.catch_warnings():  # "Triton is not supported on current platform" on a CPU
        warnings.simplefilter("ignore")
        import fla.ops as fo
        from fla.ops.based.naive import naive_parallel_based
        from fla.ops.delta_rule.naive import delta_rule_recurrence
        from fla.ops.gated_delta_rule.naive import naive_recurrent_gated_delta_rule
        from fla.ops.gla.naive import naive_recurrent_gla
        from fla.ops.hgrn import chunk_hgrn, fused_recurrent_hgrn
        from fla.ops.hgrn.naive import naive_recurrent_hgrn
        from fla.ops.linear_attn.naive import naive_recurrent_linear_attn
        from fla.ops.retention.naive import naive_retention
        from fla.ops.simple_gla.naive import naive_recurrent_simple_gla

    def dims(shapes: str) -> tuple[int, int, int, int, int]:
        # B, T, H, K, V. T is not a multiple of the chunk (64): the last chunk is partial.
        return (1, 80, 2, 32, 32) if _small(shapes) else (2, 500, 4, 64, 64)

    def qkv(dtype: torch.dtype, device: str, shapes: str, k_dim: int | None = None) -> list[torch.Tensor]:
        b, t, h, k, v = dims(shapes)
        k = k_dim or k
        return [
            _randn(b, t, h, k, device=device),
            _randn(b, t, h, k, device=device),
            _randn(b, t, h, v, device=device),
        ]

    def gate(*shape: int, device: str) -> torch.Tensor:
        # Log decays in (-inf, 0), mild enough that a long sequence keeps its memory.
        return F.logsigmoid(_randn(*shape, device=device)) / 16

    def state(shapes: str, device: str) -> torch.Tensor:
        b, _, h, k, v = dims(shapes)
        return _randn(b, h, k, v, device=device)

    def leaves(dtype: torch.dtype, tensors: Sequence[torch.Tensor], state_: torch.Tensor | None) -> Tensors:
        made = [_leaf(t, dtype) for t in tensors]
        if state_ is not None:
            made.append(_leaf(state_, torch.float32))  # fla keeps recurrent states in fp32
        return tuple(made)

    def with_gate(per_key: bool) -> Callable[[torch.dtype, str, str], Tensors]:
        def make(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
            b, t, h, k, _ = dims(shapes)
            g = gate(b, t, h, k, device=device) if per_key else gate(b, t, h, device=device)
            return leaves(dtype, [*qkv(dtype, device, shapes), g], state(shapes, device))

        return make

    def plain(with_state: bool, k_dim: int | None = None) -> Callable[[torch.dtype, str, str], Tensors]:
        def make(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
            return leaves(
                dtype, qkv(dtype, device, shapes, k_dim), state(shapes, device) if with_state else None
            )

        return make

    def delta(gated: bool) -> Callable[[torch.dtype, str, str], Tensors]:
        def make(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
            b, t, h, _, _ = dims(shapes)
            q, k, v = qkv(dtype, device, shapes)
            k = F.normalize(k, p=2, dim=-1)  # the delta rule needs unit keys to stay stable
            beta = torch.sigmoid(_randn(b, t, h, device=device))
            extra = [gate(b, t, h, device=device)] if gated else []
            return leaves(dtype, [q, k, v, beta, *extra], state(shapes, device))

        return make

    def hgrn(state_grad: bool) -> Callable[[torch.dtype, str, str], Tensors]:
        def make(dtype: torch.dtype, device: str, shapes: str) -> Tensors:
            b, t, h, k, _ = dims(shapes)
            d = h * k
            x = _randn(b, t, d, device=device)
            g = F.logsigmoid(_randn(b, t, d, device=device))
            return (
                *leaves(dtype, [x, g], None),
                _leaf(_randn(b, d, device=device), torch.float32, state_grad),
            )

        return make

    def heads_first(*tensors: torch.Tensor) -> list[torch.Tensor]:
        return [t.transpose(1, 2) for t in tensors]

    def retention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return naive_retention(*heads_first(q, k, v)).transpose(1, 2)

    def based_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return naive_parallel_based(*heads_first(q, k, v), use_norm=True).transpose(1, 2)

    def delta_ref(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, h0: torch.Tensor
    ) -> Any:
        o, ht = delta_rule_recurrence(*heads_first(q, k, v, beta), initial_state=h0, output_final_state=True)
        return o.transpose(1, 2), ht

    def first(fn: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args: fn(*args)[0]

    def case(*args: Any, **kwargs: Any) -> Case:
        # bf16 first: the dtype fla's users train in, run first under --budget.
        return Case(*args, **{"dtypes": (torch.bfloat16, torch.float32), **kwargs})

    fla = "flash-linear-attention"
    final = {"output_final_state": True}
    return [
        case(
            fla,
            "chunk_simple_gla",
            with_gate(False),
            lambda q, k, v, g, h0: fo.chunk_simple_gla(q, k, v, g, initial_state=h0, **final),
            lambda q, k, v, g, h0: naive_recurrent_simple_gla(q, k, v, g, initial_state=h0),
        ),
        case(
            fla,
            "fused_recurrent_simple_gla",
            with_gate(False),
            lambda q, k, v, g, h0: fo.fused_recurrent_simple_gla(q, k, v, g, initial_state=h0, **final),
            lambda q, k, v, g, h0: naive_recurrent_simple_gla(q, k, v, g, initial_state=h0),
        ),
        case(
            fla,
            "chunk_gla",
            with_gate(True),
            lambda q, k, v, g, h0: fo.chunk_gla(q, k, v, g, initial_state=h0, **final),
            lambda q, k, v, g, h0: naive_recurrent_gla(q, k, v, g, initial_state=h0, **final),
        ),
        case(
            fla,
            "fused_recurrent_gla",
            with_gate(True),
            lambda q, k, v, g, h0: fo.fused_recurrent_gla(q, k, v, g, initial_state=h0, **final),
            lambda q, k, v, g, h0: naive_recurrent_gla(q, k, v, g, initial_state=h0, **final),
        ),
        case(fla, "chunk_retention", plain(False), first(fo.chunk_retention), retention_ref),
        case(
            fla, "fused_recurrent_retention", plain(False), first(fo.fused_recurrent_retention), retention_ref
        ),
        case(
            fla,
            "chunk_delta_rule",
            delta(False),
            lambda q, k, v, beta, h0: fo.chunk_delta_rule(q, k, v, beta, initial_state=h0, **final),
            delta_ref,
            dtypes=(torch.bfloat16,),  # "ChunkDeltaRuleFunction does not support float32"
        ),
        case(
            fla,
            "fused_recurrent_delta_rule",
            delta(False),
            lambda q, k, v, beta, h0: fo.fused_recurrent_delta_rule(q, k, v, beta, initial_state=h0, **final),
            delta_ref,
        ),
        case(
            fla,
            "chunk_gated_delta_rule",
            delta(True),
            lambda q, k, v, beta, g, h0: fo.chunk_gated_delta_rule(
                q, k, v, g, beta, initial_state=h0, **final
            ),
            lambda q, k, v, beta, g, h0: naive_recurrent_gated_delta_rule(
                q, k, v, beta, g, initial_state=h0, **final
            ),
        ),
        case(
            fla,
            "fused_recurrent_gated_delta_rule",
            delta(True),
            lambda q, k, v, beta, g, h0: fo.fused_recurrent_gated_delta_rule(
                q, k, v, g, beta=beta, initial_state=h0, **final
            ),
            lambda q, k, v, beta, g, h0: naive_recurrent_gated_delta_rule(
                q, k, v, beta, g, initial_state=h0, **final
            ),
            backward=False,  # "Backward pass is not implemented yet" (fla 0.6.0)
        ),
        case(
            fla,
            "chunk_linear_attn",
            plain(True),
            lambda q, k, v, h0: fo.chunk_linear_attn(q, k, v, initial_state=h0, normalize=False, **final),
            lambda q, k, v, h0: naive_recurrent_linear_attn(q, k, v, initial_state=h0, **final),
        ),
        case(
            fla,
            "fused_recurrent_linear_attn",
            plain(True),
            lambda q, k, v, h0: fo.fused_recurrent_linear_attn(
                q, k, v, initial_state=h0, normalize=False, **final
            ),
            lambda q, k, v, h0: naive_recurrent_linear_attn(q, k, v, initial_state=h0, **final),
        ),
        case(
            fla,
            "chunk_hgrn",
            # chunk_hgrn's backward ignores the final state's gradient and gives none for
            # the initial state (fla 0.6.0): the final state is not asked for.
            hgrn(False),
            lambda x, g, h0: chunk_hgrn(x, g, initial_state=h0),
            lambda x, g, h0: naive_recurrent_hgrn(x, g, initial_state=h0),
        ),
        case(
            fla,
            "fused_recurrent_hgrn",
            hgrn(True),
            lambda x, g, h0: fused_recurrent_hgrn(x, g, initial_state=h0, **final),
            lambda x, g, h0: naive_recurrent_hgrn(x, g, initial_state=h0, **final),
        ),
        # Based's Taylor feature map takes a feature dimension of 16 at most.
        case(fla, "fused_chunk_based", plain(False, 16), fo.fused_chunk_based, based_ref),
        case(fla, "parallel_based", plain(False, 16), fo.parallel_based, based_ref),
    ]


# --- running -------------------------------------------------------------------------------


class RunTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the run after ``seconds`` (SIGALRM: main thread, POSIX)."""

    def expire(signum: int, frame: Any) -> None:
        raise RunTimeout(f"over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def dynamo_models_kernels(on: bool) -> Iterator[None]:
    """Make Dynamo model Triton kernels as where Triton can compile (tests/compiler/test_pytorch_kernels.py)."""
    import torch.utils._triton as triton_utils

    if not on:
        yield
        return
    original = triton_utils.has_triton
    triton_utils.has_triton = lambda: True  # type: ignore[assignment]
    try:
        yield
    finally:
        triton_utils.has_triton = original


def _outputs(value: Any) -> list[torch.Tensor]:
    """The floating tensors an op returns, in order (None and non-floating items left out)."""
    if isinstance(value, torch.Tensor):
        return [value]
    found: list[torch.Tensor] = []
    if isinstance(value, (list, tuple)):
        for item in value:
            found.extend(_outputs(item))
    return [t for t in found if t.is_floating_point()]


def _cotangents(outputs: Sequence[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """Fixed weights per output element, so that every element counts in the backward pass."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(o.shape, generator=generator).to(o.device) for o in outputs]


def _values_and_grads(
    fn: Callable[..., Any], inputs: Tensors, seed: int
) -> tuple[list[torch.Tensor], list[Any]]:
    outputs = _outputs(fn(*inputs))
    differentiable = [o for o in outputs if o.requires_grad]
    if differentiable:
        weights = _cotangents(outputs, seed)
        loss = sum((o.float() * w).sum() for o, w in zip(outputs, weights) if o.requires_grad)
        loss.backward()  # type: ignore[union-attr]
    grads = [t.grad for t in inputs if t.requires_grad]
    return [o.detach() for o in outputs], grads


def _ratio(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.detach().double(), want.detach().double()
    if got.shape != want.shape:
        raise AssertionError(f"shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    if not torch.isfinite(got).all():
        return math.inf
    scale = want.pow(2).mean().sqrt().item()
    diff = (got - want).pow(2).mean().sqrt().item()
    return diff / scale if scale > 0 else diff


def compare(
    got: tuple[list[torch.Tensor], list[Any]], want: tuple[list[torch.Tensor], list[Any]]
) -> tuple[float, float, str]:
    """Worst value ratio, worst gradient ratio, and what was worst."""
    (got_out, got_grads), (want_out, want_grads) = got, want
    if len(got_out) != len(want_out):
        raise AssertionError(f"{len(got_out)} outputs, the reference has {len(want_out)}")
    ratios: list[tuple[float, str]] = [(0.0, "")]
    value_error = grad_error = 0.0
    for index, (g, w) in enumerate(zip(got_out, want_out)):
        ratio = _ratio(g, w)
        value_error = max(value_error, ratio)
        ratios.append((ratio, f"output {index}"))
    for index, (g, w) in enumerate(zip(got_grads, want_grads)):
        if g is None or w is None:
            if (g is None) != (w is None):
                raise AssertionError(f"gradient of input {index}: {'missing' if g is None else 'unexpected'}")
            continue
        ratio = _ratio(g, w)
        grad_error = max(grad_error, ratio)
        ratios.append((ratio, f"gradient of input {index}"))
    worst = max(ratios)[1]
    return value_error, grad_error, worst


def _graph_breaks() -> int:
    from torch._dynamo.utils import counters

    return sum(counters["graph_break"].values())


def make_inputs(case: Case, dtype: torch.dtype, args: argparse.Namespace, seed: int) -> Tensors:
    """The case's inputs, the same for every mode (made from ``seed``)."""
    torch.manual_seed(seed)
    inputs = case.make(dtype, args.device, args.shapes)
    return inputs if case.backward else tuple(t.detach() for t in inputs)


def reference(case: Case, dtype: torch.dtype, args: argparse.Namespace, seed: int) -> Any:
    """The reference's values and gradients, in fp32, from fp32 copies of the same inputs."""
    inputs = make_inputs(case, dtype, args, seed)
    copies = tuple(
        _leaf(t.float(), torch.float32, t.requires_grad) if t.is_floating_point() else t for t in inputs
    )
    return _values_and_grads(case.reference, copies, seed)


def run_one(
    case: Case, dtype: torch.dtype, mode: Mode, args: argparse.Namespace, seed: int, want: Any
) -> Result:
    import tritonhost

    result = Result(case.library, case.name, str(dtype).removeprefix("torch."), mode.name, "error")
    start = time.perf_counter()
    # Fresh inputs for every run: some ops (Liger's losses) overwrite their inputs with
    # gradients in the forward pass.
    inputs = make_inputs(case, dtype, args, seed)
    try:
        torch._dynamo.reset()
        from torch._dynamo.utils import counters

        counters.clear()
        fn = case.op if mode.backend is None else torch.compile(case.op, backend=mode.backend)
        installation = tritonhost.install() if mode.install else contextlib.nullcontext()
        with (
            time_limit(args.timeout),
            dynamo_models_kernels(mode.models),
            installation,
            tritonhost.capture_wrappers() as wrappers,
        ):
            got = _values_and_grads(fn, inputs, seed)
        if mode.backend == "tritonhost":
            result.compiled_launches = sum(
                isinstance(op, UserDefinedTritonKernel)
                for wrapper in wrappers
                for op in wrapper.program.operations
            )
        result.graph_breaks = _graph_breaks()
        result.value_error, result.grad_error, result.worst = compare(got, want)
        tolerance = TOLERANCE[dtype]
        passed = result.value_error <= tolerance and result.grad_error <= tolerance
        result.status = "pass" if passed else "fail"
        if not passed:
            result.error = f"{result.worst}: rms error ratio {max(result.value_error, result.grad_error):.3g} > {tolerance:g}"
    except RunTimeout as error:
        result.status, result.error = "timeout", str(error)
    except Exception as error:  # noqa: BLE001 - one op's failure never stops the run
        result.status = "error"
        result.error = _first_line(error)
        if args.verbose:
            traceback.print_exc()
    finally:
        torch._dynamo.reset()
    result.seconds = time.perf_counter() - start
    return result


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if text.endswith(":") and len(lines) > 1:  # "backend='tritonhost' raised:", then the error
        text = f"{text} {lines[1]}"
    # Dynamo wraps the cause; its first line is often the wrapper's. Name the innermost too.
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if cause is not error:
        inner = [line for line in str(cause).splitlines() if line.strip()]
        text = f"{text} <- {type(cause).__name__}: {inner[0] if inner else ''}"
    return f"{type(error).__name__}: {text}"[:300]


# --- report --------------------------------------------------------------------------------


def _cell(result: Result | None) -> str:
    if result is None:
        return "-"
    notes = []
    if result.compiled_launches is not None:
        notes.append(f"{result.compiled_launches} in graph")
    if result.graph_breaks:
        notes.append(f"{result.graph_breaks} br")
    if result.status == "pass" and notes:
        return f"pass ({', '.join(notes)})"
    return result.status


def print_table(results: list[Result], modes: list[Mode], out: Any = sys.stdout) -> None:
    keys = sorted(
        {(r.library, r.op, r.dtype) for r in results}, key=lambda k: (k[0], _order.get(k[:2], 0), k[2])
    )
    table = {(r.library, r.op, r.dtype, r.mode): r for r in results}
    width = max((len(f"{op} {dtype}") for _, op, dtype in keys), default=10) + 2
    column = 24
    print(f"{'op':<{width}}" + "".join(f"{m.name[: column - 1]:<{column}}" for m in modes), file=out)
    library = None
    for key in keys:
        if key[0] != library:
            library = key[0]
            print(f"-- {library}", file=out)
        name = f"{key[1]} {key[2]}"
        print(
            f"{name:<{width}}" + "".join(f"{_cell(table.get((*key, m.name))):<{column}}" for m in modes),
            file=out,
        )
    print(file=out)
    for lib in sorted({k[0] for k in keys}):
        print(f"totals, {lib} (op and dtype passed / run):", file=out)
        for mode in modes:
            mine = [r for r in results if r.library == lib and r.mode == mode.name]
            counted = [r for r in mine if r.status not in ("n/a", "skipped")]
            if not counted:
                skipped = sum(r.status == "skipped" for r in mine)
                reason = next(
                    (r.error for r in mine if r.status == "n/a"),
                    f"{skipped} not started, over --budget" if skipped else "not run",
                )
                print(f"  {mode.name:<28} not counted: {reason}", file=out)
                continue
            passed = sum(r.status == "pass" for r in counted)
            ops = {r.op for r in counted}
            ops_passed = {op for op in ops if all(r.status == "pass" for r in counted if r.op == op)}
            skipped = sum(r.status == "skipped" for r in mine)
            print(
                f"  {mode.name:<28} {passed}/{len(counted)}   (ops with every dtype passing: "
                f"{len(ops_passed)}/{len(ops)})"
                + (f"; {skipped} not started, over --budget" if skipped else ""),
                file=out,
            )
    print(file=out)
    failures = [r for r in results if r.status in ("fail", "error", "timeout")]
    if failures:
        print("failures (first line of each error):", file=out)
        for r in failures:
            print(f"  {r.library} {r.op} {r.dtype} [{r.mode}]: {r.status}: {r.error}", file=out)


_order: dict[tuple[str, str], int] = {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--shapes",
        choices=["small", "test"],
        help="small on a CPU (default there), else the libraries' test shapes",
    )
    parser.add_argument("--libraries", default="liger,fla", help="comma-separated: liger, fla")
    parser.add_argument("--ops", default="", help="comma-separated op names (default: all)")
    parser.add_argument(
        "--modes", default="", help="comma-separated mode names (default: all for the device)"
    )
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per op, dtype and mode")
    parser.add_argument(
        "--budget", type=float, default=0.0, help="stop starting runs after this many seconds (0: none)"
    )
    parser.add_argument("--out", help="write the results as JSON here (rewritten after every run)")
    parser.add_argument("--verbose", action="store_true", help="print each error's traceback")
    args = parser.parse_args(argv)
    args.shapes = args.shapes or ("small" if args.device == "cpu" else "test")
    warnings.filterwarnings("ignore")

    import triton

    import tritonhost

    on_gpu = args.device == "cuda"
    modes = [m for m in MODES if (m.gpu if on_gpu else True)]
    if args.modes:
        wanted = {name.strip() for name in args.modes.split(",")}
        modes = [m for m in modes if m.name in wanted]
    dtypes = [getattr(torch, name.strip()) for name in args.dtypes.split(",")]
    cases: list[Case] = []
    libraries = {name.strip() for name in args.libraries.split(",")}
    errors: list[Result] = []
    for key, loader in (("liger", _liger_cases), ("fla", _fla_cases)):
        if key not in libraries:
            continue
        try:
            cases.extend(loader())
        except Exception as error:  # noqa: BLE001 - a library that does not import is a row, not a crash
            errors.append(Result(key, "(import)", "-", "-", "error", _first_line(error)))
    if args.ops:
        wanted_ops = {name.strip() for name in args.ops.split(",")}
        cases = [c for c in cases if c.name in wanted_ops]
    for index, case in enumerate(cases):
        _order[(case.library, case.name)] = index

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "tritonhost": getattr(tritonhost, "__version__", "?"),
        "backend": str(tritonhost.current_backend()),
        "machine": torch.cuda.get_device_name()
        if on_gpu
        else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)",
    }
    for dist in ("liger-kernel", "fla-core", "flash-linear-attention", "einops"):
        with contextlib.suppress(Exception):
            from importlib import metadata

            versions[dist] = metadata.version(dist)
    print(" ".join(f"{k}={v}" for k, v in versions.items()))
    print(
        f"device={args.device} shapes={args.shapes} tolerances="
        + ", ".join(f"{str(d).removeprefix('torch.')} {t:g}" for d, t in TOLERANCE.items())
    )

    results: list[Result] = list(errors)
    began = time.perf_counter()

    def save() -> None:
        if args.out:
            with open(args.out, "w") as file:
                json.dump(
                    {"versions": versions, "args": vars(args), "results": [r.__dict__ for r in results]},
                    file,
                    indent=1,
                )

    # Every op's first dtype (its library's usual one), then the second: under --budget,
    # every op gets a turn before any gets two.
    chosen = {case.name: [d for d in case.dtypes if d in dtypes] for case in cases}
    rounds = [
        [(case, chosen[case.name][i]) for case in cases if i < len(chosen[case.name])]
        for i in range(len(dtypes))
    ]
    for case, dtype in (item for round_ in rounds for item in round_):
        dtype_name = str(dtype).removeprefix("torch.")
        want: Any = None
        for mode in modes:
            if not on_gpu and not mode.cpu:
                reason = "Triton's own launch (here, or at a graph break) cannot run on a CPU: Triton has no CPU driver"
                results.append(Result(case.library, case.name, dtype_name, mode.name, "n/a", reason))
                continue
            if args.budget and time.perf_counter() - began > args.budget:
                results.append(
                    Result(case.library, case.name, dtype_name, mode.name, "skipped", "over --budget")
                )
                continue
            if want is None:
                try:
                    want = reference(case, dtype, args, seed=1234)
                except Exception as error:  # noqa: BLE001 - reported as the op's result in every mode
                    want = error
            if isinstance(want, Exception):
                result = Result(
                    case.library, case.name, dtype_name, mode.name, "error", f"reference: {_first_line(want)}"
                )
            else:
                result = run_one(case, dtype, mode, args, seed=1234, want=want)
            results.append(result)
            print(
                f"{case.library:>22} {case.name:<34} {dtype_name:<9} {mode.name:<24} {result.status:<8}"
                f" {result.seconds:6.1f}s  {result.error}",
                flush=True,
            )
            save()
    save()
    print()
    print_table(results, modes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
