"""The cuda backend on a real NVIDIA GPU (tests marked gpu; skipped without one)."""

from __future__ import annotations

import pytest
import torch
import triton

import tritonhost
from kernels import (
    add_2d_kernel,
    add_kernel,
    autotuned_accumulate_kernel,
    autotuned_heuristic_bias_kernel,
    autotuned_scale_kernel,
    axpy_kernel,
    descriptor_copy_kernel,
    heuristic_softmax_kernel,
    relu_inplace_kernel,
)

pytestmark = pytest.mark.gpu


@pytest.fixture
def cuda():
    with tritonhost.use_backend("cuda") as backend:
        yield backend


def test_cuda_is_usable_and_auto_prefers_it(cuda, monkeypatch):
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    assert cuda.info.usable and cuda.device == "cuda"
    assert tritonhost.select("auto").name == "cuda"  # ahead of rocm, third parties and the interpreter


def test_plain_and_helper_kernels(cuda):
    x, y = torch.randn(1000, device="cuda"), torch.randn(1000, device="cuda")
    out = torch.full_like(x, float("nan"))
    tritonhost.wrap(add_kernel)[lambda m: (triton.cdiv(1000, m["BLOCK"]),)](x, y, out, 1000, BLOCK=128)
    torch.testing.assert_close(out, x + y)
    tritonhost.wrap(axpy_kernel)[(8,)](x, y, out, 0.25, 1000, BLOCK=128, num_warps=2)
    torch.testing.assert_close(out, 0.25 * x + y)


def test_in_place_and_2d(cuda):
    x = torch.randn(300, device="cuda")
    expected = x.clamp(min=0)
    tritonhost.wrap(relu_inplace_kernel)[(5,)](x, 300)
    torch.testing.assert_close(x, expected)
    a, b = torch.randn(33, 70, device="cuda"), torch.randn(33, 70, device="cuda")
    out = torch.empty_like(a)
    tritonhost.wrap(add_2d_kernel)[(3, 3)](a, b, out, 33, 70, 70, BLOCK_R=16, BLOCK_C=32)
    torch.testing.assert_close(out, a + b)


def test_autotuned_kernels_time_every_config(cuda, monkeypatch):
    timed = []
    benchmark = cuda.benchmark
    monkeypatch.setattr(cuda, "benchmark", lambda fn: timed.append(fn) or benchmark(fn))
    x = torch.randn(5000, device="cuda")
    out = torch.empty_like(x)
    wrapped = tritonhost.wrap(autotuned_scale_kernel)
    wrapped[lambda m: (triton.cdiv(5000, m["BLOCK"]),)](x, out, 3.0, 5000)
    assert len(timed) == len(autotuned_scale_kernel.configs)
    torch.testing.assert_close(out, 3 * x)
    chosen = wrapped.runner().choosers[0].cache[(5000, "torch.float32", "torch.float32")]
    assert chosen in autotuned_scale_kernel.configs

    acc = torch.zeros(5000, device="cuda")
    tritonhost.wrap(autotuned_accumulate_kernel)[lambda m: (triton.cdiv(5000, m["BLOCK"]),)](x, acc, 5000)
    torch.testing.assert_close(acc, x)  # reset_to_zero undid the timing runs


def test_heuristics_kernels(cuda):
    x = torch.randn(300, device="cuda")
    out = torch.empty_like(x)
    tritonhost.wrap(heuristic_softmax_kernel)[(1,)](x, out, 300)
    torch.testing.assert_close(out, torch.softmax(x, 0))
    bias = torch.randn(300, device="cuda")
    tritonhost.wrap(autotuned_heuristic_bias_kernel)[lambda m: (triton.cdiv(300, m["BLOCK"]),)](x, bias, out, 300)
    torch.testing.assert_close(out, x + bias)


def test_cpu_tensor_is_named(cuda):
    x = torch.randn(16)
    with pytest.raises(tritonhost.DeviceMismatchError, match="'x_ptr' is a tensor on cpu.*backend 'cuda'"):
        tritonhost.wrap(relu_inplace_kernel)[(1,)](x, 16)


def test_stable_tensor_descriptor(cuda):
    x = torch.randn(64, 64, device="cuda")
    out = torch.zeros_like(x)
    in_desc = tritonhost.make_tma_descriptor(x, (32, 32))
    out_desc = tritonhost.make_tma_descriptor(out, (32, 32))
    tritonhost.wrap(descriptor_copy_kernel)[(2, 2)](in_desc, out_desc, BLOCK_M=32, BLOCK_N=32)
    torch.testing.assert_close(out, 2 * x)


def test_compile_for_the_device_gives_the_code_object_a_launch_loads(cuda):
    """tritonhost.compile_for on the GPU's own target: the cubin Triton's launch compiled, with its registers."""
    x, y = torch.randn(4096, device="cuda"), torch.randn(4096, device="cuda")
    out = torch.empty_like(x)
    compiled = add_kernel[(32,)](x, y, out, 4096, BLOCK=128, num_warps=4)  # Triton's own launch
    major, minor = torch.cuda.get_device_capability()
    (code,) = tritonhost.compile_for(add_kernel, x, y, out, 4096, BLOCK=128, num_warps=4,
                                     target=f"cuda:{major * 10 + minor}")
    compiled._init_handles()
    assert code.binary == compiled.asm["cubin"]
    assert code.resources.registers == compiled.n_regs
    assert code.resources.shared_bytes == compiled.metadata.shared
    assert (code.resources.scratch_bytes == 0) == (compiled.n_spills == 0)
