"""Bad launches get errors that name the problem and the fix."""

from __future__ import annotations

import pytest
import torch
import triton

import tritonhost
from kernels import add_kernel, autotuned_scale_kernel, relu_inplace_kernel

pytestmark = pytest.mark.usefixtures("interpreter")


def _tensors(n=8):
    return torch.randn(n), torch.randn(n), torch.empty(n)


def test_missing_argument_names_expected_and_given():
    x, y, out = _tensors()
    with pytest.raises(tritonhost.KernelArgumentError) as info:
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, BLOCK=8)
    message = str(info.value)
    assert "add_kernel() is missing 'n_elements'" in message
    assert "expected: x_ptr, y_ptr, out_ptr, n_elements, BLOCK (constexpr)" in message
    assert "given:    x_ptr, y_ptr, out_ptr, BLOCK" in message


def test_missing_constexpr_suggests_keyword():
    x, y, out = _tensors()
    with pytest.raises(tritonhost.KernelArgumentError, match="Pass constexpr parameters by keyword"):
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, 8)


def test_too_many_arguments():
    x, y, out = _tensors()
    with pytest.raises(tritonhost.KernelArgumentError, match=r"takes 5 arguments but 6 were given"):
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, 8, 8, 8)


def test_misspelt_keyword_gets_a_suggestion():
    x, y, out = _tensors()
    with pytest.raises(tritonhost.KernelArgumentError, match="'BLOK'.*Did you mean 'BLOCK'"):
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, 8, BLOK=8)


def test_argument_given_twice():
    x, y, out = _tensors()
    with pytest.raises(tritonhost.KernelArgumentError, match="two values for 'x_ptr'"):
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, 8, x_ptr=x, BLOCK=8)


def test_autotuned_value_passed_explicitly():
    x, _, out = _tensors()
    with pytest.raises(tritonhost.KernelArgumentError, match="BLOCK, which @triton.autotune chooses"):
        tritonhost.wrap(autotuned_scale_kernel)[(1,)](x, out, 1.0, 8, BLOCK=16)


@pytest.mark.parametrize("grid", [(), (1, 1, 1, 1), (1.5,), (-1,), ("a",)])
def test_bad_grids(grid):
    with pytest.raises(tritonhost.GridError):
        tritonhost.wrap(add_kernel)[grid]


def test_bad_grid_from_a_function():
    x, y, out = _tensors()
    with pytest.raises(tritonhost.GridError, match="integers"):
        tritonhost.wrap(add_kernel)[lambda meta: (8 / meta["BLOCK"],)](x, y, out, 8, BLOCK=8)


def test_not_a_kernel():
    def plain(x):
        return x

    with pytest.raises(tritonhost.NotAKernelError, match="Decorate the function with @triton.jit"):
        tritonhost.wrap(plain)


def test_calling_without_a_grid():
    with pytest.raises(TypeError, match=r"launched on a grid"):
        tritonhost.wrap(add_kernel)(1, 2, 3)


def test_meta_tensor_is_rejected_before_triton_sees_it():
    x = torch.empty(8, device="meta")
    with pytest.raises(tritonhost.DeviceMismatchError, match="'x_ptr' is a meta tensor"):
        tritonhost.wrap(relu_inplace_kernel)[(1,)](x, 8)


def test_fake_tensor_is_rejected():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty(8)
    with pytest.raises(tritonhost.DeviceMismatchError, match="'x_ptr' is a fake tensor"):
        tritonhost.wrap(relu_inplace_kernel)[(1,)](x, 8)


def test_errors_are_tritonhost_errors():
    assert issubclass(tritonhost.KernelArgumentError, tritonhost.TritonhostError)
    assert issubclass(tritonhost.KernelArgumentError, TypeError)
    assert triton.cdiv(1, 1) == 1


@pytest.mark.parametrize("bad", [(-8,), (8.0,), ("8",)])
def test_a_bad_grid_is_refused_also_after_a_good_grid_of_the_same_size(bad):
    # (8,) is kept once launched; a grid that only compares equal to it must not find it.
    tritonhost.wrap(add_kernel)[(8,)]
    with pytest.raises(tritonhost.GridError):
        tritonhost.wrap(add_kernel)[bad]
