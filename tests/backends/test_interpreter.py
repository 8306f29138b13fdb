"""What the interpreter backend does beyond calling Triton's interpreter."""

from __future__ import annotations

import threading

import pytest
import torch
import triton
import triton.language as tl
from triton.runtime.errors import InterpreterError
from triton.runtime.jit import JITFunction

import tritonhost
from kernels import add_kernel, axpy_kernel

pytestmark = pytest.mark.usefixtures("interpreter")


def test_interpreter_state_is_restored_after_a_launch():
    original_call = JITFunction.__call__
    x, y = torch.randn(8), torch.randn(8)
    out = torch.empty_like(x)
    tritonhost.wrap(axpy_kernel)[(1,)](x, y, out, 2.0, 8, BLOCK=8)
    assert JITFunction.__call__ is original_call
    assert not triton.knobs.runtime.interpret
    # The compiled path still refuses a host-side call of a helper, as Triton does.
    with pytest.raises(RuntimeError, match="outside of the scope of a kernel"):
        axpy_kernel(x, y, out, 2.0, 8, 8)


def test_interpreter_state_is_restored_after_a_failing_kernel():
    original_call = JITFunction.__call__
    x = torch.randn(8)
    with pytest.raises(InterpreterError, match="object has no attribute"):
        # a string where the kernel multiplies by a number fails inside the kernel
        tritonhost.wrap(axpy_kernel)[(1,)](x, x, x, "not a number", 8, BLOCK=8)
    assert JITFunction.__call__ is original_call
    assert not triton.knobs.runtime.interpret


def test_concurrent_launches_from_threads_are_correct():
    errors: list[BaseException] = []
    results: dict[int, bool] = {}

    def work(seed: int) -> None:
        try:
            with tritonhost.use_backend("interpreter"):
                gen = torch.Generator().manual_seed(seed)
                x, y = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
                out = torch.empty_like(x)
                for _ in range(3):
                    tritonhost.wrap(add_kernel)[(4,)](x, y, out, 64, BLOCK=16)
                results[seed] = torch.equal(out, x + y)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == {0: True, 1: True, 2: True, 3: True}


def test_same_tensor_passed_twice_reads_and_writes_in_place():
    x = torch.randn(32)
    expected = x + x
    tritonhost.wrap(add_kernel)[(2,)](x, x, x, 32, BLOCK=16)
    torch.testing.assert_close(x, expected)


def test_fixture_from_the_pytest_plugin(tritonhost_backend):
    x = torch.ones(8, device=tritonhost_backend.device)
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[(1,)](x, x, out, 8, BLOCK=8)
    assert out.tolist() == [2.0] * 8


@pytest.mark.gpu
def test_cuda_tensors_are_copied_to_the_host_and_back():
    x, y = torch.randn(40, device="cuda"), torch.randn(40, device="cuda")
    out = torch.empty_like(x)
    tritonhost.wrap(axpy_kernel)[(3,)](x, y, out, 1.5, 40, BLOCK=16)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out, 1.5 * x + y)


@triton.jit
def _chunked_sum(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, n, BLOCK):  # a loop bound that is a runtime argument
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr, tl.sum(acc, axis=0))


def test_loop_over_a_runtime_bound():
    x = torch.randn(50)
    out = torch.empty(1)
    tritonhost.wrap(_chunked_sum)[(1,)](x, out, 50, BLOCK=16)
    torch.testing.assert_close(out[0], x.sum())
