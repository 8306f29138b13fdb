"""TMA descriptors made on the host from a tensor and its metadata."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs
import torch

from tritonhost.host.selection import select


def _ints(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _optional_ints(values: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if values is None else _ints(values)


def _positive(instance: object, attribute: attrs.Attribute, value: tuple[int, ...] | None) -> None:
    if value is not None and (not value or any(int(v) <= 0 for v in value)):
        raise ValueError(f"{attribute.name} must be a non-empty tuple of positive ints, got {value!r}")


@attrs.frozen
class TMADescriptorSpec:
    """How to turn a tensor into a TMA descriptor argument.

    ``api="stable"`` makes a ``triton.tools.tensor_descriptor.TensorDescriptor``
    over the tensor's own shape and strides with ``block_shape``.
    ``api="experimental"`` uses Triton's older 1-D/2-D host descriptors, which
    also need the global ``dims`` (outermost first) and the ``element_size``;
    only Triton releases that still ship ``triton.tools.experimental_descriptor``
    have them.
    """

    api: Literal["stable", "experimental"]
    block_shape: tuple[int, ...] = attrs.field(converter=_ints, validator=_positive)
    dims: tuple[int, ...] | None = attrs.field(default=None, converter=_optional_ints, validator=_positive)
    element_size: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.api not in ("stable", "experimental"):
            raise ValueError(f"api must be 'stable' or 'experimental', got {self.api!r}")
        if self.api == "experimental":
            if self.dims is None or self.element_size is None:
                raise ValueError("an experimental TMA descriptor needs dims and element_size")
            if len(self.dims) not in (1, 2) or len(self.block_shape) != len(self.dims):
                raise ValueError("experimental TMA descriptors are 1-D or 2-D, with one block dim per dim")


def make_tma_descriptor(
    tensor: torch.Tensor, block_shape: tuple[int, ...] | list[int], *, api: Literal["stable", "experimental"] = "stable"
) -> object:
    """A TMA descriptor over ``tensor`` for the selected backend, to pass as a kernel argument.

    With the default stable API this is Triton's ``TensorDescriptor`` over the
    whole tensor; ``api="experimental"`` asks for Triton's older descriptors.
    """
    if api == "experimental":
        spec = TMADescriptorSpec(api, block_shape, dims=tensor.shape, element_size=tensor.element_size())
    else:
        spec = TMADescriptorSpec(api, block_shape)
    return select().make_tma_descriptor(tensor, spec)
