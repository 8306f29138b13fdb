"""Triton's host-side TMA descriptor APIs, as the installed release has them.

The stable ``TensorDescriptor`` exists from Triton 3.4 on; the experimental
``create_{1,2}d_tma_descriptor`` functions were removed around the same
releases. Which ones exist is decided here, once, at import.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
import triton
from triton.tools.tensor_descriptor import TensorDescriptor

from tritonhost.contract import TMADescriptorSpec
from tritonhost.errors import UnsupportedFeatureError

try:
    _experimental: Any = importlib.import_module("triton.tools.experimental_descriptor")
except ImportError:
    _experimental = None

HAS_EXPERIMENTAL = _experimental is not None and hasattr(_experimental, "create_1d_tma_descriptor")


def stable_descriptor(tensor: torch.Tensor, spec: TMADescriptorSpec) -> TensorDescriptor:
    """A ``TensorDescriptor`` over the whole of ``tensor`` with ``spec.block_shape``."""
    if len(spec.block_shape) != tensor.dim():
        raise ValueError(
            f"block_shape {spec.block_shape} has {len(spec.block_shape)} dims but the tensor has {tensor.dim()}"
        )
    return TensorDescriptor.from_tensor(tensor, list(spec.block_shape))


def experimental_descriptor(tensor: torch.Tensor, spec: TMADescriptorSpec) -> object:
    """An experimental 1-D or 2-D TMA descriptor, on the Triton releases that have them."""
    if not HAS_EXPERIMENTAL:
        raise UnsupportedFeatureError(
            f"Triton {triton.__version__} has no experimental TMA descriptors "
            "(triton.tools.experimental_descriptor was removed); use the stable "
            "triton.tools.tensor_descriptor.TensorDescriptor (api='stable')."
        )
    assert spec.dims is not None and spec.element_size is not None
    if len(spec.dims) == 1:
        return _experimental.create_1d_tma_descriptor(
            tensor.data_ptr(), spec.dims[0], spec.block_shape[0], spec.element_size
        )
    return _experimental.create_2d_tma_descriptor(
        tensor.data_ptr(), spec.dims[0], spec.dims[1], spec.block_shape[0], spec.block_shape[1], spec.element_size
    )
