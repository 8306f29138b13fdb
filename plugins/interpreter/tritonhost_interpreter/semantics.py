"""Where Triton's interpreter departs from compiled Triton, put right for a launch.

Idioms real kernel libraries rely on (bf16 arithmetic is the third, in
:mod:`tritonhost_interpreter.bfloat16`):

- **A comparison gives int1.** Triton's interpreter makes ``a < b`` in the left
  operand's dtype: on int64 operands, int64 ones and zeros labelled int64, where
  compiled Triton has an i1. Triton 3.6 and 3.9 accept such a mask (the report this
  came from saw "mask has unsupported dtype" on combining it with ``&``), so this
  is for anything that reads the handle itself.
- **A scalar argument is typed as the compiled kernel sees it.** A Python float is an
  fp32 scalar, a bool an int1 scalar (:func:`convert_argument`).
- **A loop index is a tensor.** In a compiled kernel, the index of a ``range`` or
  ``tl.range`` loop is an i32 scalar tensor (i64 when the bounds need it), so
  ``i_t.to(tl.int64)`` works; the interpreter gives a Python int, and it fails
  with "'int' object has no attribute 'to'". The kernel's source is rewritten so
  that such loops yield tensors; ``tl.static_range`` keeps yielding ints, as it
  does when compiled.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import triton.language as tl
from triton.runtime import interpreter as triton_interpreter
from triton.runtime.interpreter import TensorHandle

COMPARISONS = (
    *(f"create_icmp{kind}" for kind in ("SLE", "SLT", "SGE", "SGT", "ULE", "ULT", "UGE", "UGT", "EQ", "NE")),
    *(f"create_fcmp{kind}" for kind in ("OLT", "OGT", "OLE", "OGE", "OEQ", "ONE", "ULT", "UGT", "ULE", "UGE",
                                        "UEQ", "UNE")),
)
_I32 = (-(2**31), 2**31 - 1)


def _as_int1(original: Callable[..., TensorHandle]) -> Callable[..., TensorHandle]:
    def compare(lhs: TensorHandle, rhs: TensorHandle) -> TensorHandle:
        result = original(lhs, rhs)
        return TensorHandle(np.asarray(result.data, dtype=np.bool_), tl.int1)

    return compare


def comparison_operations(builder: Any) -> dict[str, Callable[..., TensorHandle]]:
    """The builder's comparisons, giving int1 as compiled Triton does."""
    return {name: _as_int1(getattr(builder, name)) for name in COMPARISONS if hasattr(builder, name)}


def convert_argument(arg: Any) -> Any:
    """A kernel argument as the interpreted kernel receives it: Triton's conversion, scalars typed as when compiled.

    The compiled kernel sees a Python float as an fp32 scalar; Triton's interpreter passes
    the float itself, so ``eps.to(tl.float32)`` fails there. Bools become int1 scalars
    (Triton 3.6's interpreter stores them as int32).
    """
    if isinstance(arg, bool):
        return tl.tensor(TensorHandle(np.array([arg], dtype=np.bool_), tl.int1), tl.int1)
    if isinstance(arg, float):
        return tl.tensor(TensorHandle(np.array([arg], dtype=np.float32), tl.float32), tl.float32)
    return _triton_convert(arg)


_triton_convert = triton_interpreter._implicit_cvt


def index_type(values: Sequence[int]) -> tuple[Any, Any]:
    """The type of a loop's index over ``values`` (its Triton and NumPy dtype): i32, or i64 where the bounds need it."""
    ends = (int(values[0]), int(values[-1])) if len(values) else (0, 0)  # a range's first and last index
    wide = not (_I32[0] <= min(ends) and max(ends) <= _I32[1])
    return (tl.int64, np.int64) if wide else (tl.int32, np.int32)


def tensor_loop(indices: Iterable[int]) -> Iterator[Any]:
    """A ``range`` loop's indices as the scalar tensors a compiled kernel sees."""
    values = indices if isinstance(indices, range) else list(indices)
    dtype, np_dtype = index_type(values)
    for index in values:
        yield tl.tensor(TensorHandle(np.array([index], dtype=np_dtype), dtype), dtype)


class CompiledLoops(triton_interpreter.ASTTransformer):  # type: ignore[misc, name-defined]
    """Triton's own rewrite of a kernel for the interpreter, plus tensor loop indices.

    ``for i in range(...)`` becomes ``for i in tensor_loop(range(...))``, the helper
    reached through ``__import__`` so that nothing is added to the kernel's module.
    """

    def visit_For(self, node: ast.For) -> ast.For:
        node = self.generic_visit(node)
        call = node.iter
        if isinstance(call, ast.Call) and _is_range(call.func):
            module = ast.Call(
                func=ast.Name(id="__import__", ctx=ast.Load()),
                args=[ast.Constant(__name__)],
                keywords=[ast.keyword(arg="fromlist", value=ast.List(elts=[ast.Constant("tensor_loop")], ctx=ast.Load()))],
            )
            helper = ast.Attribute(value=module, attr="tensor_loop", ctx=ast.Load())
            node.iter = ast.copy_location(ast.Call(func=helper, args=[call], keywords=[]), call)
        return node


def _is_range(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "range"
    return isinstance(func, ast.Attribute) and func.attr == "range"  # tl.range, triton.language.range
