"""Running a kernel under Triton's interpreter, however it was decorated.

Triton's interpreter is chosen when a kernel is *decorated* with
``TRITON_INTERPRET=1`` set: the decorator then returns an ``InterpretedFunction``.
A kernel decorated without it is a ``JITFunction``, and so are the helper
functions it calls, which refuse to run outside a compiled kernel. While a
kernel runs here, the interpreter mode is switched on and helper calls are
routed to interpreted versions of the helpers. Tensors' ``__index__`` is
mended for Triton 3.6's interpreter under NumPy 2.

Triton's interpreter patches ``triton.language`` process-wide while it runs, so
launches are serialized by one lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch
from triton import knobs
from triton.runtime import interpreter as triton_interpreter
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

from tritonhost.errors import DeviceMismatchError
from tritonhost.runtime.devices import tensors_of
from tritonhost.runtime.identity import IdentityCache

_lock = threading.RLock()
_device_functions: IdentityCache[InterpretedFunction] = IdentityCache()


def interpreted(kernel: Any) -> InterpretedFunction:
    """``kernel`` as an InterpretedFunction (itself, if it already is one)."""
    if isinstance(kernel, InterpretedFunction):
        return kernel
    return _device_functions.get_or_make(kernel, lambda jit: InterpretedFunction(jit.fn))


def _tensor_index(self: Any) -> int:
    # Triton 3.6's interpreter converts with int(array), which NumPy 2.x refuses for a
    # one-element array that is not 0-d: loops like `for k in range(0, K, BLOCK)` fail.
    return int(self.handle.data.reshape(-1)[0]) if self.handle.data.size == 1 else int(self.handle.data)


def _patch_tensor_methods(tensor: Any, scope: Any) -> None:
    _original_patch_tensor(tensor, scope)
    scope.set_attr(tensor, "__index__", _tensor_index)


_original_patch_tensor = triton_interpreter._patch_lang_tensor


def _call_helper(self: JITFunction, *args: Any, **kwargs: Any) -> Any:
    return interpreted(self)(*args, **kwargs)


@contextlib.contextmanager
def interpreting() -> Iterator[None]:
    """Interpreter mode for the current launch: knobs set, helper calls routed, others waiting."""
    with _lock, knobs.runtime.scope():
        knobs.runtime.interpret = True
        original = JITFunction.__call__
        JITFunction.__call__ = _call_helper  # type: ignore[method-assign]
        triton_interpreter._patch_lang_tensor = _patch_tensor_methods
        try:
            yield
        finally:
            JITFunction.__call__ = original  # type: ignore[method-assign]
            triton_interpreter._patch_lang_tensor = _original_patch_tensor


def check_tensors(params: dict[str, Any], backend: str) -> None:
    """Reject tensors the interpreter cannot read: meta and fake tensors, and devices it cannot copy from."""
    for name, tensor in tensors_of(params):
        device = tensor.device.type
        if device == "meta" or _is_fake(tensor):
            kind = "a meta tensor" if device == "meta" else "a fake tensor"
            raise DeviceMismatchError(
                f"argument {name!r} is {kind}: it has no data for backend {backend!r} to run on. "
                "Pass a real tensor, or trace the launch so that it runs on real inputs later."
            )
        if device not in ("cpu", "cuda"):
            raise DeviceMismatchError(
                f"argument {name!r} is a tensor on {tensor.device}; backend {backend!r} runs kernels on CPU "
                "tensors (and CUDA tensors, copied to the host and back). Move it with .cpu()."
            )


def _is_fake(tensor: torch.Tensor) -> bool:
    from torch._subclasses.fake_tensor import FakeTensor

    return isinstance(tensor, FakeTensor)
