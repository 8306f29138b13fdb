"""TMA descriptors made on the host from a tensor and its metadata."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import attrs
import torch

from tritonhost.host.selection import select
from tritonhost.tracing.entry import TracedTMADescriptor, is_tracing


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


def spec_for(tensor: torch.Tensor, api: str, block_shape: Iterable[int]) -> TMADescriptorSpec:
    """The spec of a descriptor over the whole of ``tensor`` (dims and element size read off it)."""
    if api == "experimental":
        return TMADescriptorSpec("experimental", block_shape, dims=tensor.shape, element_size=tensor.element_size())
    return TMADescriptorSpec(api, block_shape)  # type: ignore[arg-type]


def make_tma_descriptor(
    tensor: torch.Tensor, block_shape: tuple[int, ...] | list[int], *, api: Literal["stable", "experimental"] = "stable"
) -> object:
    """A TMA descriptor over ``tensor`` for the selected backend, to pass as a kernel argument.

    With the default stable API this is Triton's ``TensorDescriptor`` over the
    whole tensor; ``api="experimental"`` asks for Triton's older descriptors.
    Inside ``make_fx``, ``torch.export`` or ``torch.compile`` it returns a
    :class:`TracedTMADescriptor`, which a launch accepts in the descriptor's place.
    """
    if torch.compiler.is_compiling() or is_tracing():
        return TracedTMADescriptor(tensor, api, tuple(int(b) for b in block_shape))
    return select().make_tma_descriptor(tensor, spec_for(tensor, api, block_shape))


class TMADescriptorMaker:
    """Makes descriptors on one backend: ``maker(tensor, api, block_shape)``.

    A generated wrapper calls it just before the launch that takes the
    descriptor, so the descriptor describes the buffer as it is then. FX names
    it after the backend in generated code (``cuda_make_tma_descriptor(...)``).
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.__name__ = self.__qualname__ = "make_tma_descriptor"
        self.__module__ = backend.name

    def __call__(self, tensor: torch.Tensor, api: str, block_shape: tuple[int, ...]) -> object:
        return self.backend.make_tma_descriptor(tensor, spec_for(tensor, api, block_shape))
