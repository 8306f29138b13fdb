"""TMA descriptor nodes: a buffer and its metadata, turned into a descriptor at launch.

The descriptor is made by the selected backend's ``tritonhost_make_tma_descriptor``
hook just before the kernel that takes it runs, from the buffer as it is then.
"""

from __future__ import annotations

import attrs

from tritonhost.ir.buffers import Buffer
from tritonhost.ir.layout import Expr


@attrs.define(eq=False)
class TMADescriptor:
    """A kernel argument that is a TMA descriptor over the whole of ``buffer``.

    ``api`` is ``"stable"`` (Triton's ``TensorDescriptor``) or ``"experimental"``
    (the older 1-D/2-D descriptors, which also need the global dims and the
    element size: both are read off the buffer when the descriptor is made).
    """

    name: str
    buffer: Buffer
    api: str
    block_shape: tuple[int, ...]

    @property
    def dims(self) -> tuple[Expr, ...]:
        return self.buffer.fixed_layout.size

    def describe(self) -> str:
        extra = "" if self.api == "stable" else f", dims={list(self.dims)}"
        return f"{self.name} = TMADescriptor({self.api}, {self.buffer.name}, block_shape={list(self.block_shape)}{extra})"

    def __repr__(self) -> str:
        return self.name
