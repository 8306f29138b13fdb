"""A lowered program: inputs, operations in order, outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import sympy

from tritonhost.ir.buffers import Buffer, InputBuffer
from tritonhost.ir.nodes import Operation


@attrs.define(eq=False)
class SymbolInput:
    """A symbolic size passed into the program as an int (a SymInt placeholder)."""

    name: str
    symbol: sympy.Expr

    def describe(self) -> str:
        return f"{self.name} = SymbolInput({self.symbol})"


@attrs.define(eq=False)
class ConstantInput:
    """A placeholder traced with a plain Python value (an int or float the program was specialized to)."""

    name: str
    value: Any

    def describe(self) -> str:
        return f"{self.name} = ConstantInput({self.value!r})"


Input = InputBuffer | SymbolInput | ConstantInput


@attrs.define(eq=False)
class Program:
    """What lowering makes of a traced graph and the wrapper generator turns into code."""

    inputs: Sequence[Input]
    operations: list[Operation]
    #: The program's results, in order: buffers, expressions or constants.
    outputs: Sequence[Any]

    def buffers(self) -> list[Buffer]:
        found: list[Buffer] = [i for i in self.inputs if isinstance(i, InputBuffer)]
        for op in self.operations:
            found.extend(op.outputs())
        return found

    def __str__(self) -> str:
        lines = [item.describe() for item in self.inputs]
        lines += [op.describe() for op in self.operations]
        lines.append(f"return {list(self.outputs)!r}")
        return "\n".join(lines)
