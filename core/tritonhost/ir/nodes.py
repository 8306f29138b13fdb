"""The operations of a lowered program: user kernels, fallback ATen calls, allocations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import torch.utils._pytree as pytree

from tritonhost.ir.buffers import Buffer, ComputedBuffer, MutationOutput
from tritonhost.ir.layout import Expr
from tritonhost.ir.tma import TMADescriptor

#: A launch grid: three program counts (ints or expressions over symbolic sizes).
IRGrid = tuple[Expr, Expr, Expr]


def buffers_in(value: Any) -> list[Buffer]:
    """The buffers an argument structure refers to (through TMA descriptors too)."""
    found: list[Buffer] = []
    for leaf in pytree.tree_leaves(value):
        if isinstance(leaf, Buffer):
            found.append(leaf)
        elif isinstance(leaf, TMADescriptor):
            found.append(leaf.buffer)
    return found


@attrs.define(eq=False)
class Allocate:
    """The wrapper allocates ``buffer`` here (or, once planned, takes over a freed one's storage)."""

    buffer: ComputedBuffer

    def reads(self) -> list[Buffer]:
        return []

    def outputs(self) -> list[Buffer]:
        return [self.buffer]

    def describe(self) -> str:
        return self.buffer.describe()


@attrs.define(eq=False)
class UserDefinedTritonKernel:
    """A user kernel's launch.

    ``kernel_idx`` and ``constants_idx`` name the wrapped kernel and the launch's
    non-graph arguments (constexprs, options, a grid function) in the side
    table. ``grids`` holds one grid per autotune config (one for other kernels),
    or is None when the grid is a function kept in the side table. ``args`` binds
    the kernel's graph parameters to buffers, TMA descriptors, expressions and
    constants; ``mutated`` names the parameters the analysis found written, and
    ``outputs`` the buffers those writes produce.
    """

    name: str
    kernel_idx: int
    constants_idx: int
    grids: Sequence[IRGrid] | None
    args: Mapping[str, Any]
    mutated: Sequence[str]
    outputs_by_param: Mapping[str, MutationOutput] = attrs.Factory(dict)

    def reads(self) -> list[Buffer]:
        return buffers_in(list(self.args.values()))

    def writes(self) -> list[Buffer]:
        return buffers_in([self.args[name] for name in self.mutated])

    def outputs(self) -> list[Buffer]:
        return list(self.outputs_by_param.values())

    def tma_descriptors(self) -> list[TMADescriptor]:
        return [value for value in self.args.values() if isinstance(value, TMADescriptor)]

    def describe(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.args.items())
        grids = "grid from side table" if self.grids is None else (
            f"grid={list(self.grids[0])}" if len(self.grids) == 1 else f"grids={[list(g) for g in self.grids]}"
        )
        written = ", ".join(f"{param}: {out.name}" for param, out in self.outputs_by_param.items())
        lines = [descriptor.describe() for descriptor in self.tma_descriptors()]
        lines.append(f"{self.name}[{grids}]({args})  # kernel {self.kernel_idx}, constants {self.constants_idx}")
        if written:
            lines.append(f"    writes {written}")
        return "\n".join(lines)


@attrs.define(eq=False)
class FallbackKernel:
    """Any other operation (an ATen op, usually), called as PyTorch would call it."""

    target: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    #: What the call returns, in the structure it returns it (buffers, expressions, None).
    result: Any

    @property
    def name(self) -> str:
        return str(self.target)

    def reads(self) -> list[Buffer]:
        return buffers_in([self.args, dict(self.kwargs)])

    def outputs(self) -> list[Buffer]:
        return buffers_in(self.result)

    def describe(self) -> str:
        args = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.result!r} = {self.name}({', '.join(args)})"


Operation = Allocate | UserDefinedTritonKernel | FallbackKernel
