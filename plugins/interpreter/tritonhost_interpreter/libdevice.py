"""libdevice math for Triton's interpreter, computed with NumPy.

Kernels call libdevice functions through ``triton.language.extra.libdevice``
(stubs that the compiler swaps for the target's library, so they return None
when interpreted) or ``triton.language.extra.cuda.libdevice`` /
``...hip.libdevice`` (external calls the interpreter refuses). While a kernel
runs on the interpreter backend, those modules' functions, and any a kernel
imported by name, are replaced by NumPy versions; a function with no NumPy
version raises an error that names it.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import triton.language as tl
from triton.runtime.interpreter import TensorHandle

from tritonhost.plugin_api import UnsupportedFeatureError
from tritonhost_interpreter import recording


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # C's round(): halves go away from zero (NumPy's round goes to even).
    return np.copysign(np.floor(np.abs(x) + 0.5), x)


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])

#: name -> (NumPy function, whether the result is a boolean).
_FUNCTIONS: dict[str, tuple[Callable[..., Any], bool]] = {
    "abs": (np.abs, False), "fabs": (np.abs, False),
    "exp": (np.exp, False), "exp2": (np.exp2, False), "exp10": (lambda x: np.power(10.0, x), False),
    "expm1": (np.expm1, False), "fast_expf": (np.exp, False),
    "log": (np.log, False), "log2": (np.log2, False), "log10": (np.log10, False), "log1p": (np.log1p, False),
    "fast_logf": (np.log, False), "fast_log2f": (np.log2, False), "fast_log10f": (np.log10, False),
    "sqrt": (np.sqrt, False), "sqrt_rn": (np.sqrt, False), "rsqrt": (lambda x: 1.0 / np.sqrt(x), False),
    "rsqrt_rn": (lambda x: 1.0 / np.sqrt(x), False), "cbrt": (np.cbrt, False), "rcbrt": (lambda x: 1.0 / np.cbrt(x), False),
    "tanh": (np.tanh, False), "sinh": (np.sinh, False), "cosh": (np.cosh, False),
    "sin": (np.sin, False), "cos": (np.cos, False), "tan": (np.tan, False),
    "fast_sinf": (np.sin, False), "fast_cosf": (np.cos, False), "fast_tanf": (np.tan, False),
    "asin": (np.arcsin, False), "acos": (np.arccos, False), "atan": (np.arctan, False),
    "atan2": (np.arctan2, False), "asinh": (np.arcsinh, False), "acosh": (np.arccosh, False),
    "atanh": (np.arctanh, False), "erf": (_erf, False), "erfc": (_erfc, False),
    "pow": (np.power, False), "powf": (np.power, False), "fast_powf": (np.power, False), "powi": (np.power, False),
    "floor": (np.floor, False), "ceil": (np.ceil, False), "trunc": (np.trunc, False),
    "round": (_round_half_away, False), "rint": (np.rint, False), "nearbyint": (np.rint, False),
    "fmod": (np.fmod, False), "remainder": (np.remainder, False), "copysign": (np.copysign, False),
    "fmin": (np.fmin, False), "fmax": (np.fmax, False), "hypot": (np.hypot, False),
    "fma": (lambda x, y, z: x * y + z, False), "fma_rn": (lambda x, y, z: x * y + z, False),
    "div_rn": (np.divide, False), "fast_dividef": (np.divide, False), "rcp_rn": (lambda x: 1.0 / x, False),
    "isnan": (np.isnan, True), "isinf": (np.isinf, True), "isfinited": (np.isfinite, True),
    "signbit": (np.signbit, True),
}

#: Modules whose functions are replaced while a kernel is interpreted.
_MODULES = ("triton.language.extra.libdevice", "triton.language.extra.cuda.libdevice",
            "triton.language.extra.hip.libdevice")

SUPPORTED = tuple(sorted(_FUNCTIONS))


def _operand(value: Any) -> tuple[np.ndarray, Any]:
    if isinstance(value, tl.constexpr):
        value = value.value
    if isinstance(value, tl.tensor):
        return value.handle.data, value
    return np.asarray(value), None


def _interpreted(name: str, fn: Callable[..., Any], boolean: bool) -> Callable[..., Any]:
    def call(*args: Any, _semantic: Any = None, **kwargs: Any) -> tl.tensor:
        return recording.call(compute, *args)  # one operation of a batched launch's tape

    def compute(*args: Any) -> tl.tensor:
        operands = [_operand(arg) for arg in args]
        tensors = [tensor for _, tensor in operands if tensor is not None]
        if not tensors:
            raise TypeError(f"libdevice.{name} needs at least one Triton tensor argument")
        reference = next((t for t in tensors if t.dtype.is_floating()), tensors[0])
        dtype = reference.handle.data.dtype
        # Arguments take the reference's type, as libdevice's overloads do, except an
        # integer exponent (powi).
        arrays = [
            array if name in ("pow", "powi") and i == 1 and array.dtype.kind in "iu" else array.astype(dtype)
            for i, (array, _) in enumerate(operands)
        ]
        with np.errstate(all="ignore"):
            result = np.asarray(fn(*arrays))
        element = tl.int1 if boolean else reference.dtype
        result = result.astype(np.bool_ if boolean else dtype)
        # The type's shape is the operands' per-program shape: the data may have a leading
        # program dimension (batching.py).
        blocks = [list(t.type.shape) for t in tensors if t.type.is_block()]
        result_type = tl.block_type(element, list(np.broadcast_shapes(*map(tuple, blocks)))) if blocks else element
        return tl.tensor(TensorHandle(result, element), result_type)

    call.__name__ = name
    return call


def _missing(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise UnsupportedFeatureError(
            f"libdevice.{name} has no implementation in tritonhost's interpreter backend; the ones it runs are "
            f"{', '.join(SUPPORTED)}. Run this kernel on a GPU backend, or write it with triton.language math."
        )

    call.__name__ = name
    return call


def _modules() -> Iterator[ModuleType]:
    for name in _MODULES:
        try:
            yield importlib.import_module(name)
        except ImportError:  # a Triton build without that backend
            continue


def _public_functions(module: ModuleType) -> Iterator[tuple[str, Any]]:
    for name, value in vars(module).items():
        if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__:
            yield name, value


class Replacements:
    """The interpreted stand-in of every libdevice function, and the originals they replace."""

    def __init__(self) -> None:
        self.by_original: dict[int, tuple[Any, Callable[..., Any]]] = {}
        #: (module, its original functions, their stand-ins), applied with one dict update each.
        self.modules: list[tuple[ModuleType, dict[str, Any], dict[str, Any]]] = []
        for module in _modules():
            originals: dict[str, Any] = {}
            stand_ins: dict[str, Any] = {}
            for name, original in _public_functions(module):
                entry = _FUNCTIONS.get(name)
                stand_in = _interpreted(name, *entry) if entry else _missing(name)
                self.by_original[id(original)] = (original, stand_in)
                originals[name], stand_ins[name] = original, stand_in
            self.modules.append((module, originals, stand_ins))

    def stand_in(self, value: Any) -> Callable[..., Any] | None:
        entry = self.by_original.get(id(value))
        return entry[1] if entry is not None and entry[0] is value else None
