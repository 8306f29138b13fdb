"""Layouts: where a buffer's elements live.

Sizes, strides and offsets are sympy expressions: integers for static shapes,
expressions over the program's symbolic sizes (``s0``, ``s1``...) under
``dynamic=True``. A layout is fixed once lowering has decided it; a flexible
one only knows the order of its strides until then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import attrs
import sympy
import torch

#: A size, stride or offset: a sympy expression (sympy ships no type hints).
Expr: TypeAlias = Any


def as_expr(value: Any) -> Expr:
    """A size, stride or offset as a sympy expression (an int, a SymInt or already an expression)."""
    if isinstance(value, sympy.Basic):
        return value  # type: ignore[return-value]
    if isinstance(value, torch.SymInt):
        node = value.node
        # The shape environment knows what the guards established (s0 % 8 == 0...), which
        # turns (s0//8)*(s0//(s0//8)) back into s0.
        shape_env = getattr(node, "shape_env", None)
        return shape_env.simplify(node.expr) if shape_env is not None else node.expr  # type: ignore[no-any-return]
    return sympy.Integer(int(value))


def _exprs(values: Iterable[Any]) -> tuple[Expr, ...]:
    return tuple(as_expr(v) for v in values)


def same_expr(a: Expr, b: Expr) -> bool:
    """Whether two expressions are equal for every value of their symbols."""
    return a == b or sympy.expand(a - b) == 0


def same_exprs(a: Sequence[Expr], b: Sequence[Expr]) -> bool:
    return len(a) == len(b) and all(same_expr(x, y) for x, y in zip(a, b))


def _format(values: Sequence[Expr]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


@attrs.frozen
class FixedLayout:
    """A decided layout: device, dtype, sizes, strides and offset into the storage, in elements."""

    device: torch.device
    dtype: torch.dtype
    size: tuple[Expr, ...] = attrs.field(converter=_exprs)
    stride: tuple[Expr, ...] = attrs.field(converter=_exprs)
    offset: Expr = attrs.field(default=sympy.Integer(0), converter=as_expr)

    @classmethod
    def of(cls, tensor: torch.Tensor, offset_shift: Expr | int = 0) -> FixedLayout:
        """The layout of a (fake) tensor; ``offset_shift`` moves it within a larger storage."""
        return cls(
            tensor.device,
            tensor.dtype,
            tensor.size(),
            tensor.stride(),
            as_expr(tensor.storage_offset()) + as_expr(offset_shift),
        )

    def storage_elements(self) -> Expr:
        """Elements of storage the layout spans, from the storage's start."""
        if any(size == 0 for size in self.size):
            return sympy.Integer(0)
        span = sum(((size - 1) * stride for size, stride in zip(self.size, self.stride)), sympy.Integer(1))
        return sympy.expand(span + self.offset)

    def same_as(self, other: FixedLayout) -> bool:
        """The same elements at the same places: one may stand for the other."""
        return (
            self.device == other.device
            and self.dtype == other.dtype
            and same_exprs(self.size, other.size)
            and same_exprs(self.stride, other.stride)
            and same_expr(self.offset, other.offset)
        )

    def __str__(self) -> str:
        text = f"FixedLayout({self.device.type!r}, {self.dtype}, size={_format(self.size)}, stride={_format(self.stride)}"
        return text + (f", offset={self.offset})" if self.offset != 0 else ")")


def contiguous_strides(size: Sequence[Expr], order: Sequence[int] | None = None) -> tuple[Expr, ...]:
    """Dense strides for ``size``; ``order`` lists dims from the fastest-varying (stride 1) up."""
    if order is None:
        order = list(reversed(range(len(size))))
    strides: list[Expr] = [sympy.Integer(0)] * len(size)
    step: Expr = sympy.Integer(1)
    for dim in order:
        strides[dim] = step
        # As ATen: a size-0 dim does not zero the strides above it. Symbolic sizes are at
        # least 2 (Dynamo specializes 0 and 1), so they need no max().
        step = step * (size[dim] if size[dim].free_symbols else max(int(size[dim]), 1))
    return tuple(sympy.expand(s) for s in strides)


@attrs.frozen
class FlexibleLayout:
    """A layout whose strides are decided at lowering: dense, in ``order`` (fastest dim first)."""

    device: torch.device
    dtype: torch.dtype
    size: tuple[Expr, ...] = attrs.field(converter=_exprs)
    #: Dims from the one with stride 1 up; None means row-major (C contiguous).
    order: tuple[int, ...] | None = None

    def freeze(self) -> FixedLayout:
        return FixedLayout(self.device, self.dtype, self.size, contiguous_strides(self.size, self.order))

    def __str__(self) -> str:
        order = "contiguous" if self.order is None else f"order={list(self.order)}"
        return f"FlexibleLayout({self.device.type!r}, {self.dtype}, size={_format(self.size)}, {order})"


@attrs.frozen
class NonOwningLayout:
    """A view onto another buffer's storage: ``view_of`` names the buffer that owns it."""

    view_of: str
    layout: FixedLayout

    def __str__(self) -> str:
        return f"NonOwningLayout(view of {self.view_of}, {self.layout})"


@attrs.frozen
class MutationLayout:
    """Marks an in-place write: the buffer is ``target``, changed by the node that produced it."""

    target: str
    layout: FixedLayout

    def __str__(self) -> str:
        return f"MutationLayout(writes {self.target})"


Layout = FixedLayout | FlexibleLayout | NonOwningLayout | MutationLayout


def fixed(layout: Layout) -> FixedLayout:
    """The decided layout behind any layout (a flexible one is frozen)."""
    if isinstance(layout, FixedLayout):
        return layout
    if isinstance(layout, FlexibleLayout):
        return layout.freeze()
    return layout.layout
