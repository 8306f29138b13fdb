"""The Triton types a launch's arguments give a kernel, for TTIR generation.

The analysis asks Triton's own type mangling (``mangle_type``) for each
argument's type, so the answer follows the installed release (bools became
``u1`` in recent releases, for instance), and specializes no value: no
divisibility or equal-to-1 attributes, no runtime scalar folded into a
constant. The TTIR generated from it holds for every argument value of those
types, so a result cached under these types is sound for every launch it is
reused for.

Arguments may be real tensors, FakeTensors or meta tensors (only the dtype is
read), SymInts, SymFloats or sympy expressions (symbolic sizes, typed as the
widest integer Triton would pick).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import torch
from triton.runtime.jit import mangle_type
from triton.tools.tensor_descriptor import TensorDescriptor

from tritonhost.contract import Specialization


def is_tensor_argument(value: Any) -> bool:
    """Whether ``value`` reaches the kernel as memory: a tensor or a host TMA descriptor."""
    return isinstance(value, (torch.Tensor, TensorDescriptor))


def tensor_arguments(arg_names: tuple[str, ...], params: Mapping[str, Any]) -> list[str]:
    """The tensor arguments of a launch in parameter order, those inside tuples as ``name[i]``."""
    found: list[str] = []

    def visit(name: str, value: Any) -> None:
        if is_tensor_argument(value):
            found.append(name)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                visit(f"{name}[{index}]", item)

    for name in arg_names:
        visit(name, params.get(name))
    return found


def triton_type(value: Any) -> str:
    """The Triton type of one non-constexpr, non-tuple argument, with no value specialization."""
    if isinstance(value, torch.SymInt):
        return "i64"
    if isinstance(value, torch.SymFloat):
        return "fp32"
    # A sympy expression exists only once sympy is imported (by PyTorch's symbolic shapes, when
    # tracing): importing it here would add 0.4 s to every `import tritonhost` on a 2-core CPU.
    sympy = sys.modules.get("sympy")
    if sympy is not None and isinstance(value, sympy.Expr):
        return "fp32" if isinstance(value, sympy.Float) else "i64"
    if isinstance(value, torch.SymBool):
        return str(mangle_type(True))
    return str(mangle_type(value, False))


def specialize(arg_names: tuple[str, ...], constexpr_names: frozenset[str], params: Mapping[str, Any]) -> Specialization:
    """The :class:`Specialization` of ``params`` (every parameter bound by name).

    A tuple argument is typed element by element, as Triton types it; a None inside
    it is a constexpr at its path.
    """
    signature: list[tuple[str, Any]] = []
    constexprs: list[tuple[int | tuple[int, ...], Any]] = []

    def type_of(path: tuple[int, ...], value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(type_of((*path, index), item) for index, item in enumerate(value))
        if value is None:
            constexprs.append((path, None))
            return "constexpr"
        return triton_type(value)

    for index, name in enumerate(arg_names):
        value = params[name]
        if name in constexpr_names or value is None:
            signature.append((name, "constexpr"))
            constexprs.append((index, value))
        else:
            signature.append((name, type_of((index,), value)))
    return Specialization(signature=tuple(signature), constexprs=tuple(constexprs))


def ir_arguments(name: str, triton_type: Any) -> list[tuple[str | None, str]]:
    """The kernel function arguments one parameter becomes in TTIR, in order.

    Each is ``(tensor argument it carries or None, kind)``, kind one of "pointer",
    "descriptor" and "scalar". A constexpr becomes none; a tuple, its elements'
    in order (named ``name[i]``); a host TMA descriptor of rank n, the descriptor
    then its n sizes and n strides (Triton 3.6 to 3.9 expand it so).
    """
    if isinstance(triton_type, tuple):
        return [part for index, item in enumerate(triton_type) for part in ir_arguments(f"{name}[{index}]", item)]
    if triton_type == "constexpr":
        return []
    if triton_type.startswith("tensordesc"):
        dims = triton_type[triton_type.index("[") + 1 : triton_type.index("]")]
        rank = len([d for d in dims.split(",") if d.strip()])
        return [(name, "descriptor"), *[(None, "scalar")] * (2 * rank)]
    if triton_type.startswith("*"):
        return [(name, "pointer")]
    return [(None, "scalar")]
