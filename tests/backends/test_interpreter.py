"""What the interpreter backend does beyond calling Triton's interpreter."""

from __future__ import annotations

import threading

import pytest
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice as _ld
from triton.language.extra.cuda import libdevice as _cuda_ld
from triton.language.extra.libdevice import exp2 as _exp2
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


@pytest.mark.parametrize("grid", [(0,), (4, 0), (2, 3, 0)])
def test_a_grid_without_programs_returns_before_interpreting(monkeypatch, grid):
    from tritonhost_interpreter import plugin

    def refuse(*args, **kwargs):
        raise AssertionError("an empty grid entered the interpreter")

    # Both ways a launch runs (the batched replay, and the interpreter's patched language).
    monkeypatch.setattr(plugin, "interpreting", refuse)
    monkeypatch.setattr(plugin, "replaying", refuse)
    x = torch.randn(0)
    out = torch.empty_like(x)
    tritonhost.wrap(axpy_kernel)[grid](x, x, out, 2.0, 0, BLOCK=8)
    assert out.numel() == 0


@pytest.mark.parametrize("grid", [(0,), (1,)])
def test_a_grid_without_programs_still_refuses_bad_arguments(grid):
    # As on a GPU, where Triton converts and specializes the arguments of an empty launch too.
    x = torch.randn(0)
    with pytest.raises(OverflowError, match="too large"):
        tritonhost.wrap(add_kernel)[grid](x, x, x, 2**64, BLOCK=8)
    with pytest.raises(tritonhost.KernelArgumentError, match="complex64"):
        tritonhost.wrap(add_kernel)[grid](x.to(torch.complex64), x, x, 0, BLOCK=8)


def test_a_grid_without_programs_runs_the_kernels_pre_run_hooks():
    from tritonhost_interpreter.executor import interpreted

    seen = []
    interpreted_fn = interpreted(axpy_kernel)
    def hook(*args, **kwargs):
        seen.append(len(args) + len(kwargs))

    interpreted_fn.add_pre_run_hook(hook)
    try:
        x = torch.randn(0)
        tritonhost.wrap(axpy_kernel)[(0,)](x, x, torch.empty_like(x), 2.0, 0, BLOCK=8)
    finally:
        interpreted_fn.pre_run_hooks.remove(hook)
    assert seen == [6]  # called once, with every argument


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


def test_compiling_after_interpreting_a_kernel_with_helpers():
    # tl.sum is a @triton.jit helper: interpreting it must leave triton.language unpatched,
    # or the next TTIR generation in this process fails.
    from kernels import row_sum_kernel

    x, out = torch.randn(2, 8), torch.empty(2)
    tritonhost.wrap(row_sum_kernel)[(2,)](x, out, 8, 8, BLOCK=8)
    result = tritonhost.analyze(row_sum_kernel, x, out, 8, 8, BLOCK=8)
    assert result.exact, result.reason
    assert result.written == ("out_ptr",)


def test_triton_language_is_left_as_it_was():
    from kernels import row_sum_kernel

    def snapshot():
        return {**vars(tl.core), **{f"tensor.{k}": v for k, v in vars(tl.core.tensor).items()}}

    before = snapshot()
    tritonhost.wrap(row_sum_kernel)[(2,)](torch.randn(2, 8), torch.empty(2), 8, 8, BLOCK=8)
    after = snapshot()
    assert [name for name in before if after.get(name) is not before[name]] == []


@pytest.mark.parametrize("order", [("1", "0", "1", "0"), ("0", "1", "0", "1")], ids=["batched first", "per program first"])
def test_the_language_is_patched_from_a_plan_per_interpreter_state(monkeypatch, order):
    """Triton's language patch, recorded once per state (batched, per program) and set from it later."""
    from kernels import row_sum_kernel
    from tritonhost_interpreter import executor

    executor._lang_plans.clear()
    # Replayed launches patch no language at all (batching.replay): run the Python each time.
    monkeypatch.setenv("TRITONHOST_INTERPRETER_REPLAY", "0")
    x, out = torch.randn(64, 8), torch.empty(64)
    for batch in order:
        monkeypatch.setenv("TRITONHOST_INTERPRETER_BATCH", batch)
        out.zero_()
        tritonhost.wrap(row_sum_kernel)[(64,)](x, out, 8, 8, BLOCK=8)
        torch.testing.assert_close(out, x.sum(1))
    assert len(executor._lang_plans) == 2  # the per-program launches and the batched attempts
    assert executor._lang_depth == 0  # every patch was restored


@triton.jit
def _float_scalar_methods(x_ptr, out_ptr, eps, flag, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    scale = eps.to(tl.float32) * 2 if flag else eps.to(tl.float32)
    tl.store(out_ptr + offs, x + scale)


def test_python_float_arrives_as_an_fp32_scalar():
    # 0.1 is inexact in every float type, and differently: as bf16 it is 0.10009765625, as
    # fp16 0.0999755859375, as fp32 0.100000001490116. Only the fp32 scalar gives these bits.
    x, out = torch.zeros(8), torch.empty(8)
    tritonhost.wrap(_float_scalar_methods)[(1,)](x, out, 0.1, True, BLOCK=8)
    torch.testing.assert_close(out, torch.full((8,), 0.1, dtype=torch.float32) * 2, rtol=0, atol=0)
    tritonhost.wrap(_float_scalar_methods)[(1,)](x, out, 0.1, False, BLOCK=8)
    torch.testing.assert_close(out, torch.full((8,), 0.1, dtype=torch.float32), rtol=0, atol=0)


@triton.jit
def _libdevice_three_ways(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(out_ptr + offs, _ld.rsqrt(x) + _cuda_ld.tanh(x) + _exp2(x) + _ld.round(x) + _ld.fmod(x, 0.75))


@triton.jit
def _libdevice_unsupported(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, _ld.j0(tl.load(x_ptr + offs)))


def test_libdevice_by_module_by_backend_module_and_by_name():
    x = torch.tensor([0.5, 1.5, 2.5, 3.0, 0.25, 4.0, 1.0, 2.0])
    out = torch.empty(8)
    tritonhost.wrap(_libdevice_three_ways)[(1,)](x, out, BLOCK=8)
    rounded = torch.sign(x) * torch.floor(x.abs() + 0.5)  # C's round: halves away from zero
    expected = torch.rsqrt(x) + torch.tanh(x) + torch.exp2(x) + rounded + torch.fmod(x, 0.75)
    torch.testing.assert_close(out, expected)


def test_libdevice_function_without_an_implementation_is_named():
    with pytest.raises(InterpreterError, match=r"libdevice\.j0 has no implementation"):
        tritonhost.wrap(_libdevice_unsupported)[(1,)](torch.ones(8), BLOCK=8)
