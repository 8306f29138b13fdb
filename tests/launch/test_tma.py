"""TMA descriptors made on the host through the selected backend's hook."""

from __future__ import annotations

import pytest
import torch
from triton.tools.tensor_descriptor import TensorDescriptor

import tritonhost
from kernels import descriptor_copy_kernel
from tritonhost.compat import descriptors


def test_stable_descriptor_runs_on_the_interpreter(interpreter):
    x = torch.randn(16, 32)
    out = torch.zeros(16, 32)
    in_desc = tritonhost.make_tma_descriptor(x, (8, 16))
    out_desc = tritonhost.make_tma_descriptor(out, [8, 16])
    assert isinstance(in_desc, TensorDescriptor)
    assert tuple(in_desc.shape) == (16, 32) and tuple(in_desc.block_shape) == (8, 16)
    tritonhost.wrap(descriptor_copy_kernel)[(2, 2)](in_desc, out_desc, BLOCK_M=8, BLOCK_N=16)
    torch.testing.assert_close(out, 2 * x)


def test_experimental_descriptor_is_refused_clearly(interpreter):
    with pytest.raises(tritonhost.UnsupportedFeatureError, match="stable"):
        tritonhost.make_tma_descriptor(torch.randn(64), (16,), api="experimental")


def test_block_shape_must_match_rank(interpreter):
    with pytest.raises(ValueError, match="block_shape"):
        tritonhost.make_tma_descriptor(torch.randn(4, 4), (4,))


def test_spec_validation():
    with pytest.raises(ValueError, match="positive"):
        tritonhost.TMADescriptorSpec("stable", (0, 4))
    with pytest.raises(ValueError, match="dims and element_size"):
        tritonhost.TMADescriptorSpec("experimental", (16,))
    spec = tritonhost.TMADescriptorSpec("experimental", [16, 8], dims=[64, 32], element_size=4)
    assert spec.block_shape == (16, 8) and spec.dims == (64, 32)


@pytest.mark.skipif(descriptors.HAS_EXPERIMENTAL, reason="this Triton still has experimental descriptors")
def test_experimental_api_absence_names_the_triton_version():
    spec = tritonhost.TMADescriptorSpec("experimental", (16,), dims=(64,), element_size=4)
    with pytest.raises(tritonhost.UnsupportedFeatureError, match="has no experimental TMA descriptors"):
        descriptors.experimental_descriptor(torch.randn(64), spec)
