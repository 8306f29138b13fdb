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

import attrs
import sympy
import torch
from triton.runtime.jit import mangle_type
from triton.tools.tensor_descriptor import TensorDescriptor

from tritonhost.errors import UnsupportedFeatureError


@attrs.frozen
class Specialization:
    """A kernel's parameter types and constexpr values for one analysis."""

    #: ``(parameter, Triton type)`` for every parameter, in order; constexprs typed "constexpr".
    signature: tuple[tuple[str, str], ...]
    #: ``(parameter index, value)`` of every constexpr parameter.
    constexprs: tuple[tuple[int, Any], ...]

    def signature_dict(self) -> dict[str, str]:
        return dict(self.signature)

    def constexpr_dict(self) -> dict[tuple[int, ...], Any]:
        return {(index,): value for index, value in self.constexprs}

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable key: the types and the constexpr values."""
        return (self.signature, tuple((i, _hashable(v)) for i, v in self.constexprs))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


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
