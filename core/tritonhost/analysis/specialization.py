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

from collections.abc import Mapping
from typing import Any

import sympy
import torch
from triton.runtime.jit import mangle_type
from triton.tools.tensor_descriptor import TensorDescriptor

from tritonhost.contract import Specialization
from tritonhost.errors import UnsupportedFeatureError


def is_tensor_argument(value: Any) -> bool:
    """Whether ``value`` reaches the kernel as memory: a tensor or a host TMA descriptor."""
    return isinstance(value, (torch.Tensor, TensorDescriptor))


def triton_type(value: Any) -> str:
    """The Triton type of one non-constexpr argument, with no value specialization."""
    if isinstance(value, (torch.SymInt, sympy.Expr)) and not isinstance(value, sympy.Float):
        return "i64"
    if isinstance(value, (torch.SymFloat, sympy.Float)):
        return "fp32"
    if isinstance(value, torch.SymBool):
        return str(mangle_type(True))
    if isinstance(value, tuple):
        raise UnsupportedFeatureError("tuple arguments are not analysed yet")
    return str(mangle_type(value, False))


def specialize(arg_names: tuple[str, ...], constexpr_names: frozenset[str], params: Mapping[str, Any]) -> Specialization:
    """The :class:`Specialization` of ``params`` (every parameter bound by name)."""
    signature = []
    constexprs = []
    for index, name in enumerate(arg_names):
        value = params[name]
        if name in constexpr_names or value is None:
            signature.append((name, "constexpr"))
            constexprs.append((index, value))
        else:
            signature.append((name, triton_type(value)))
    return Specialization(signature=tuple(signature), constexprs=tuple(constexprs))
