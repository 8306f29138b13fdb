"""Launching real kernels with ``tritonhost.wrap(kernel)[grid](...)`` on the interpreter backend."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

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

pytestmark = pytest.mark.usefixtures("interpreter")


def test_plain_kernel_with_tuple_grid():
    x, y = torch.randn(100), torch.randn(100)
    out = torch.full_like(x, float("nan"))
    tritonhost.wrap(add_kernel)[(triton.cdiv(100, 32),)](x, y, out, 100, BLOCK=32)
    torch.testing.assert_close(out, x + y)


def test_grid_as_function_of_meta_parameters():
    x, y = torch.randn(70), torch.randn(70)
    out = torch.full_like(x, float("nan"))
    seen = {}

    def grid(meta):
        seen.update(meta)
        return (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)

    tritonhost.wrap(add_kernel)[grid](x, y, out, n_elements=70, BLOCK=16)
    torch.testing.assert_close(out, x + y)
    assert seen["BLOCK"] == 16 and seen["n_elements"] == 70 and seen["x_ptr"] is x


def test_float_scalar_and_jit_helper():
    x, y = torch.randn(40), torch.randn(40)
    out = torch.empty_like(x)
    tritonhost.wrap(axpy_kernel)[(2,)](x, y, out, 0.5, 40, BLOCK=32)
    torch.testing.assert_close(out, 0.5 * x + y)


def test_in_place_kernel_with_default_constexpr():
    x = torch.randn(100)
    expected = x.clamp(min=0)
    tritonhost.wrap(relu_inplace_kernel)[(2,)](x, 100)
    torch.testing.assert_close(x, expected)


def test_two_dimensional_grid_and_strided_view():
    base = torch.randn(10, 16)
    x, y = base[:, :12], torch.randn(10, 16)[:, :12]
    out = torch.zeros(10, 16)[:, :12]
    tritonhost.wrap(add_2d_kernel)[(triton.cdiv(10, 8), triton.cdiv(12, 8))](
        x, y, out, 10, 12, 16, BLOCK_R=8, BLOCK_C=8
    )
    torch.testing.assert_close(out, x + y)


def test_reduction_kernel():
    x = torch.randn(6, 20)
    out = torch.empty(6)
    tritonhost.wrap(row_sum_kernel)[(6,)](x, out, 20, 20, BLOCK=32)
    torch.testing.assert_close(out, x.sum(1))


def test_autotuned_kernel_takes_no_config_values():
    x = torch.randn(50)
    out = torch.empty_like(x)
    tritonhost.wrap(autotuned_scale_kernel)[lambda m: (triton.cdiv(50, m["BLOCK"]),)](x, out, 3.0, 50)
    torch.testing.assert_close(out, 3 * x)


def test_heuristics_kernel():
    x = torch.randn(37)
    out = torch.empty_like(x)
    tritonhost.wrap(heuristic_softmax_kernel)[(1,)](x, out, 37)
    torch.testing.assert_close(out, torch.softmax(x, 0))


@pytest.mark.parametrize("with_bias", [True, False])
def test_autotune_over_heuristics_with_optional_tensor(with_bias):
    x, bias = torch.randn(40), torch.randn(40)
    out = torch.empty_like(x)
    grid = lambda m: (triton.cdiv(40, m["BLOCK"]),)
    tritonhost.wrap(autotuned_heuristic_bias_kernel)[grid](x, bias if with_bias else None, out, 40)
    torch.testing.assert_close(out, x + bias if with_bias else x)


def test_launch_options_are_accepted_and_ignored_by_the_interpreter():
    x, y = torch.randn(16), torch.randn(16)
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[(1,)](x, y, out, 16, BLOCK=16, num_warps=8, num_stages=2, waves_per_eu=2)
    torch.testing.assert_close(out, x + y)


def test_kernel_decorated_under_triton_interpret(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")

    @triton.jit
    def negate(x_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(x_ptr + offsets, -tl.load(x_ptr + offsets, mask=mask), mask=mask)

    monkeypatch.delenv("TRITON_INTERPRET")
    assert not isinstance(negate, triton.JITFunction)  # Triton gave an InterpretedFunction
    x = torch.arange(8.0)
    tritonhost.wrap(negate)[(1,)](x, 8, BLOCK=8)
    torch.testing.assert_close(x, -torch.arange(8.0))


def test_wrap_is_cached_and_run_matches_triton_syntax():
    assert tritonhost.wrap(add_kernel) is tritonhost.wrap(add_kernel)
    x, y = torch.randn(8), torch.randn(8)
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel).run(x, y, out, 8, grid=(1,), BLOCK=8)
    torch.testing.assert_close(out, x + y)


def test_empty_grid_launches_nothing():
    out = torch.full((8,), 7.0)
    tritonhost.wrap(relu_inplace_kernel)[(0,)](out, 8)
    assert (out == 7.0).all()


def test_a_one_dimensional_grid_keeps_its_launch_and_launches_each_size_right():
    wrapped = tritonhost.wrap(add_kernel)
    assert wrapped[(3,)] is wrapped[(3,)]  # kept, not made per call
    # wrapped[grid] is a Launch's bound __call__, as Triton's kernel[grid] is a function.
    assert wrapped[(3,)].__self__.grid == (3, 1, 1) and wrapped[(3,)].__self__.dims == 1
    assert wrapped[(3, 1)] is not wrapped[(3, 1)] and wrapped[(3, 1)].__self__.dims == 2  # only (n,) is kept
    for blocks in (1, 2, 4, 2):  # sizes launched again after another size read the kept launch
        x, y = torch.randn(32), torch.randn(32)
        out = torch.zeros(32)
        wrapped[(blocks,)](x, y, out, 32, BLOCK=8)
        torch.testing.assert_close(out[: blocks * 8], (x + y)[: blocks * 8])
        assert (out[blocks * 8 :] == 0).all()


def test_kept_launches_are_bounded(monkeypatch):
    from tritonhost.launch import wrap as wrap_module

    monkeypatch.setattr(wrap_module, "_LAUNCHES_KEPT", 4)
    wrapped = tritonhost.wrap(add_kernel)
    wrapped._launches.clear()  # what other tests kept, under the usual limit
    for size in range(10):
        assert wrapped[(size,)].__self__.grid == (size, 1, 1)
        assert len(wrapped._launches) <= 4
