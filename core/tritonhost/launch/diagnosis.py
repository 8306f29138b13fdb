"""Why a launch failed, in the user's terms, when the backend's own error does not say.

A launch whose arguments a kernel cannot take fails deep inside Triton or the
backend: ``KeyError: 'complex64'``, ``Unsupported ptr type <['8'], fp32> in
tl.load``, ``invalid operands of type pointer<fp32> and float32``. Nothing here
runs on a launch that works: :func:`diagnose` is called after a launch raised,
and names the argument, what is wrong with it, and the fix, or returns None to
let the original error stand.

Whether a parameter is a pointer or a scalar is a question about the kernel's
code, which Python does not annotate. It is asked of Triton's front end: when
the kernel compiles with one argument given as the other kind, and not as
given, that argument is the wrong kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tritonhost.analysis import front_end_error
from tritonhost.errors import KernelArgumentError
from tritonhost.kernel.decorators import DecoratedKernel

_SCALARS = (bool, int, float)


def diagnose(decorated: DecoratedKernel, params: Mapping[str, Any]) -> KernelArgumentError | None:
    """The clearer error for a launch of ``decorated`` with ``params`` that failed, or None."""
    kernel = decorated.name
    for name, value in params.items():
        if not isinstance(value, torch.Tensor):
            continue
        if name in decorated.constexprs:
            return KernelArgumentError(
                f"kernel {kernel}(): argument {name!r} is a tl.constexpr, which takes a Python value (an int, "
                f"float, bool or dtype) fixed when the kernel compiles, not a tensor; pass {name}=<tensor>.item() "
                "or a constant"
            )
        if value.is_complex():
            return KernelArgumentError(
                f"kernel {kernel}(): argument {name!r} is a {str(value.dtype).removeprefix('torch.')} tensor; Triton "
                f"kernels take real dtypes: pass torch.view_as_real({name}) (real and imaginary parts interleaved)"
            )
        if value.layout != torch.strided:
            return KernelArgumentError(
                f"kernel {kernel}(): argument {name!r} is a {value.layout} tensor; kernels read dense memory: pass "
                f"{name}.to_dense(), or its values() and indices() as separate arguments"
            )
    return _wrong_kind(decorated, dict(params))


def _wrong_kind(decorated: DecoratedKernel, params: dict[str, Any]) -> KernelArgumentError | None:
    """A scalar (or None) where the kernel takes a pointer, or a 0-d tensor where it takes a scalar."""
    candidates = [
        name
        for name, value in params.items()
        if name not in decorated.constexprs
        and (value is None or isinstance(value, _SCALARS) or (isinstance(value, torch.Tensor) and value.dim() == 0))
    ]
    if not candidates or front_end_error(decorated, params) is None:
        return None  # the kernel compiles as launched: the failure lies elsewhere
    kernel = decorated.name
    for name in candidates:
        value = params[name]
        if isinstance(value, torch.Tensor):
            if front_end_error(decorated, {**params, name: 1.0}) is None:
                return KernelArgumentError(
                    f"kernel {kernel}(): argument {name!r} is a 0-d tensor, which reaches a kernel as a pointer, but "
                    f"the kernel uses it as a scalar: pass {name}.item() (or load it in the kernel with tl.load)"
                )
        elif front_end_error(decorated, {**params, name: torch.empty(1, device="meta")}) is None:
            return KernelArgumentError(
                f"kernel {kernel}(): argument {name!r} is {value!r} ({type(value).__name__}), but the kernel uses it "
                "as a pointer: pass a tensor"
            )
    return None
