"""TMA descriptor nodes: a buffer and its metadata, turned into a descriptor at launch.

The descriptor is made by the selected backend's ``tritonhost_make_tma_descriptor``
hook just before the kernel that takes it runs, from the buffer as it is then.
"""

from __future__ import annotations

import attrs

from tritonhost.ir.buffers import Buffer
from tritonhost.runtime.tma import TMADescriptorSpec


@attrs.define(eq=False)
class TMADescriptor:
    """A kernel argument that is a TMA descriptor over ``buffer``."""

    name: str
    buffer: Buffer
    spec: TMADescriptorSpec

    @property
    def api(self) -> str:
        """``"stable"`` (Triton's ``TensorDescriptor``) or ``"experimental"`` (the older 1-D/2-D ones)."""
        return self.spec.api

    def describe(self) -> str:
        extra = "" if self.spec.api == "stable" else f", dims={list(self.spec.dims or ())}"
        return (
            f"{self.name} = TMADescriptor({self.spec.api}, {self.buffer.name}, "
            f"block_shape={list(self.spec.block_shape)}{extra})"
        )

    def __repr__(self) -> str:
        return self.name
