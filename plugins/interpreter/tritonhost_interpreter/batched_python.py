"""Python's view of a batched value: truth, ``int()``, ``.T``, loop indices and the kernel's arguments.

Where the kernel's Python reads a value of a batch (an ``if``, a ``range`` bound, an
index), the value must be the same in every program of the chunk, or the launch runs
program by program (:class:`~tritonhost_interpreter.batched.Divergence`). Each such read
is a guard of the chunk's tape, and each value made here from Python one of its
operations (:mod:`tritonhost_interpreter.recording`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import triton.language as tl
from triton.runtime import interpreter as triton_interpreter
from triton.runtime.interpreter import TensorHandle

from tritonhost_interpreter import recording, semantics
from tritonhost_interpreter.batched import Divergence, _handle, _lead


def uniform_scalar(tensor: Any) -> Any:
    """The one value a scalar has in every program of the batch, or :class:`Divergence`."""
    data = tensor.handle.data
    flat = data.reshape(_lead(data), -1) if data.ndim else data.reshape(1, 1)
    if flat.shape[1] != 1:
        return None
    if flat.shape[0] > 1 and not (flat == flat[0]).all():
        raise Divergence(f"Python control flow on a value that differs between programs ({_sample(flat[:, 0])})")
    return flat[0, 0]


def _sample(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in np.unique(values)[:4])
    return f"values {shown}{', ...' if np.unique(values).size > 4 else ''}"


def _truth(tensor: Any) -> bool:
    value = uniform_scalar(tensor)
    return True if value is None else bool(value)  # a block is true, as in Triton's interpreter


def _integer(tensor: Any) -> int:
    value = uniform_scalar(tensor)
    if value is None:
        raise TypeError("only a scalar tensor converts to an index")
    return int(value)


def _bool(self: Any) -> bool:
    return recording.guarded(_truth, self)  # type: ignore[no-any-return]


def _index(self: Any) -> int:
    return recording.guarded(_integer, self)  # type: ignore[no-any-return]


def _transpose(self: Any) -> tl.tensor:
    return recording.call(_transposed, self)


def _transposed(self: Any) -> tl.tensor:
    data = self.handle.data
    axes = list(range(data.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    shape = list(self.type.shape)
    shape[-1], shape[-2] = shape[-2], shape[-1]
    return tl.core.tensor(_handle(np.transpose(data, axes), self.handle.dtype), tl.block_type(self.dtype, shape))


@functools.cache
def patch_tensor_methods(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Triton's patches of ``tl.tensor`` for the interpreter, with batched truth, index and ``.T``.

    One function per ``original``: the executor's plans of Triton's language patch
    (executor.py) are made per set of patch helpers, by identity.
    """

    def patch(tensor: Any, scope: Any) -> None:
        original(tensor, scope)
        scope.set_attr(tensor, "__bool__", _bool)
        scope.set_attr(tensor, "__index__", _index)
        scope.set_attr(tensor, "T", property(_transpose))

    return patch


def tensor_loop(indices: Iterable[int]) -> Iterator[Any]:
    """:func:`semantics.tensor_loop` with each index one value for the whole batch."""
    values = indices if isinstance(indices, range) else list(indices)
    dtype, np_dtype = semantics.index_type(values)
    for index in values:
        yield recording.call(_loop_index, int(index), dtype, np_dtype)


def _loop_index(index: int, dtype: Any, np_dtype: Any) -> tl.tensor:
    return tl.tensor(_handle(np.array([[index]], dtype=np_dtype), dtype), dtype)


def lift(value: Any) -> Any:
    """A converted kernel argument with the program dimension (of length 1: arguments are the same for all)."""
    if isinstance(value, tl.core.tensor) and isinstance(value.handle, TensorHandle):
        return tl.core.tensor(_handle(value.handle.data.reshape(1, *value.handle.data.shape), value.handle.dtype),
                              value.type)
    if isinstance(value, tuple):
        return triton_interpreter._tuple_create(value, [lift(v) for v in value])
    return value
