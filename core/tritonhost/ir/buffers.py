"""Buffers: the tensors of a lowered program, named, with their layouts.

A buffer is referred to by name; how it comes to exist says what the wrapper
does for it: an input is passed in, a computed buffer is allocated by the
wrapper, a fallback output is returned by an ATen call, and a mutation output
is an existing buffer after a node wrote it in place (readers after that node
depend on the node, not just on the buffer).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from tritonhost.ir.layout import FixedLayout, FlexibleLayout, Layout, MutationLayout, NonOwningLayout, fixed


@attrs.define(eq=False)
class Buffer:
    """A named tensor of the program."""

    name: str
    layout: Layout

    @property
    def fixed_layout(self) -> FixedLayout:
        return fixed(self.layout)

    @property
    def owner(self) -> str:
        """The buffer whose storage this one lives in (itself unless a view or a mutation)."""
        if isinstance(self.layout, NonOwningLayout):
            return self.layout.view_of
        if isinstance(self.layout, MutationLayout):
            return self.layout.target
        return self.name

    def describe(self) -> str:
        return f"{self.name} = {type(self).__name__}({self.layout})"

    def __repr__(self) -> str:
        return self.name


def storage_owner(buffer: Buffer, by_name: Mapping[str, Buffer]) -> Buffer:
    """The buffer that owns ``buffer``'s storage, following views and in-place writes back to it."""
    while buffer.owner != buffer.name:
        buffer = by_name[buffer.owner]
    return buffer


@attrs.define(eq=False, repr=False)
class InputBuffer(Buffer):
    """A tensor passed into the program."""


@attrs.define(eq=False, repr=False)
class ComputedBuffer(Buffer):
    """A tensor the wrapper allocates (a kernel's output, or a copy a kernel writes)."""

    #: Set by memory planning: the freed buffer whose storage this one takes over.
    reuses: str | None = None

    def decide_layout(self) -> None:
        """Fix a flexible layout's strides (lowering's last step, before code is generated)."""
        if isinstance(self.layout, FlexibleLayout):
            self.layout = self.layout.freeze()

    def describe(self) -> str:
        text = super().describe()
        return text + (f"  # reuses {self.reuses}" if self.reuses else "")


@attrs.define(eq=False, repr=False)
class FallbackOutput(Buffer):
    """A tensor an ATen call returns: allocated by PyTorch, or a view (``NonOwningLayout``) of its input."""


@attrs.define(eq=False, repr=False)
class MutationOutput(Buffer):
    """A buffer after a node wrote it in place; its layout is a ``MutationLayout`` naming the target."""
