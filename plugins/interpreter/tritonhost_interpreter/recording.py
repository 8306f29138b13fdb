"""The recording of a tape: the operations of a specialization's first chunk, written down.

A :class:`Recorder` is entered around the chunk's run of the kernel's Python. It watches
the batched builder and the values the chunk makes, and writes down each operation
performed from outside the builder; the batched path's own operations that are not
builder methods say so through :func:`call` (reductions, loop indices, libdevice),
:func:`guarded` (a value Python decides on) and :func:`runs_kernel_python`. What the
recording yields, and how it is replayed, is :mod:`tritonhost_interpreter.tape`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Self

import numpy as np
import triton.language as tl
from triton.runtime.interpreter import TensorHandle

from tritonhost_interpreter.separable import SeparableHandle
from tritonhost_interpreter.tape import Result, Slot, Tape, TensorSlot, holds_values

_recording: Recorder | None = None


def call(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, recorded as one operation if a tape is being recorded.

    For operations of the batched path that are not builder methods and make values
    from Python (reductions, loop indices, libdevice): ``function`` must be a function
    kept for the process's life, and its result depend only on its arguments.
    """
    recorder = _recording
    if recorder is None or recorder.depth:
        return function(*args)
    return recorder.operation(None, function, args, {})


def runs_kernel_python() -> None:
    """Say that an operation being performed runs the kernel's Python (a reduction's combine function).

    The tape being recorded, if any, then needs Triton's language patched to replay.
    """
    recorder = _recording
    if recorder is not None:
        recorder.runs_python = True


def guarded(read: Callable[[Any], Any], tensor: Any) -> Any:
    """``read(tensor)``, a value Python decides on, recorded as a guard if a tape is being recorded."""
    recorder = _recording
    if recorder is None or recorder.depth:
        return read(tensor)
    return recorder.guard(read, tensor)


class Recorder:
    """Records the operations of one chunk run through the kernel's Python (a context manager).

    ``args`` are the kernel's converted arguments, by name. After the block, :meth:`tape`
    is the recording, or None where it was poisoned (:attr:`poisoned` says why).
    """

    def __init__(self, builder: Any, args: Mapping[str, Any]) -> None:
        self.builder = builder
        self.depth = 0
        self.poisoned: str | None = None
        #: Whether an operation ran the kernel's Python (:func:`runs_kernel_python`).
        self.runs_python = False
        self._guarding = 0
        self._steps: list[tuple[str, Any]] = []
        self._inputs: list[tuple[str, int]] = []
        self._by_id: dict[int, int] = {}
        self._kept: list[Any] = []  # every handle named, so that no id is reused while recording
        self._undo: list[Callable[[], None]] = []
        for name, value in args.items():
            if isinstance(value, tl.core.tensor) and isinstance(value.handle, TensorHandle):
                self._inputs.append((name, self._name(value.handle)))
            elif isinstance(value, (tuple, list, np.ndarray, TensorHandle)):
                self.poison(f"argument {name!r} is a {type(value).__name__}")

    def poison(self, reason: str) -> None:
        if self.poisoned is None:
            self.poisoned = reason

    def tape(self) -> Tape | None:
        if self.poisoned is not None:
            return None
        return Tape(self._inputs, self._steps, len(self._kept), standalone=not self.runs_python)

    # --- entering and leaving -----------------------------------------------------------------

    def __enter__(self) -> Self:
        global _recording
        if _recording is not None:
            raise RuntimeError("a tape is already being recorded")
        try:
            self._watch_builder()
            self._watch_handles()
        except BaseException:
            self._restore()
            raise
        _recording = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _recording
        _recording = None
        self._restore()

    def _restore(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _watch_builder(self) -> None:
        builder = self.builder
        names = {n for n in dir(type(builder)) if not n.startswith("_")} | {
            n for n in vars(builder) if not n.startswith("_")}
        for name in sorted(names):
            current = getattr(builder, name)
            # A type getter makes a type of the semantic layer's from types: nothing to replay.
            if not callable(current) or isinstance(current, type) or name.endswith("_ty"):
                continue
            had = name in vars(builder)
            setattr(builder, name, self._watched(name, current))
            if had:
                self._undo.append(functools.partial(setattr, builder, name, current))
            else:
                self._undo.append(functools.partial(delattr, builder, name))

    def _watched(self, name: str, current: Callable[..., Any]) -> Callable[..., Any]:
        def method(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return current(*args, **kwargs)
            return self.operation(name, current, args, kwargs)

        return method

    def _watch_handles(self) -> None:
        """Values' data read, written or made outside an operation or guard poison the recording."""
        recorder = self

        def outside(what: str) -> None:
            if not recorder.depth and not recorder._guarding:
                recorder.poison(f"a value {what} outside the operations a tape holds")

        def plain_get(handle: Any) -> Any:
            outside("read")
            return handle.__dict__["data"]

        def plain_set(handle: Any, value: Any) -> None:
            outside("written")
            handle.__dict__["data"] = value

        separable_data = SeparableHandle.__dict__["data"]

        def separable_get(handle: Any) -> Any:
            outside("read")
            return separable_data.fget(handle)

        def separable_set(handle: Any, value: Any) -> None:
            outside("written")
            separable_data.fset(handle, value)

        def made(original: Callable[..., None]) -> Callable[..., None]:
            def init(handle: Any, *args: Any, **kwargs: Any) -> None:
                outside("made")
                original(handle, *args, **kwargs)

            return init

        self._set_class(TensorHandle, "data", property(plain_get, plain_set))  # a dataclass field otherwise
        self._set_class(SeparableHandle, "data", property(separable_get, separable_set))
        self._set_class(TensorHandle, "__init__", made(TensorHandle.__init__))
        self._set_class(SeparableHandle, "__init__", made(SeparableHandle.__init__))

    def _set_class(self, owner: type, name: str, value: Any) -> None:
        """Set a class attribute until the recording ends (removed again if the class had none)."""
        if name in vars(owner):
            self._undo.append(functools.partial(setattr, owner, name, vars(owner)[name]))
        else:
            self._undo.append(functools.partial(delattr, owner, name))
        setattr(owner, name, value)

    # --- what is recorded ---------------------------------------------------------------------

    def _name(self, handle: TensorHandle) -> int:
        index = len(self._kept)
        self._kept.append(handle)
        self._by_id[id(handle)] = index  # a later operation's result may be the same object: it names it now
        return index

    def operation(self, name: str | None, function: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
        """Run one operation at the top level, and record it with its arguments and results."""
        arguments, keywords = self._template(args), self._template(kwargs)
        self.depth += 1
        try:
            made = function(*args, **kwargs)
        finally:
            self.depth -= 1
        plain = not holds_values(arguments) and not holds_values(keywords)
        self._steps.append(("call", (name, None if name is not None else function, arguments, keywords,
                                     self._result(made), plain)))
        return made

    def guard(self, read: Callable[[Any], Any], tensor: Any) -> Any:
        template = self._template(tensor)
        self._guarding += 1
        try:
            value = read(tensor)
        finally:
            self._guarding -= 1
        if not isinstance(template, TensorSlot):
            self.poison(f"Python decided on a {type(tensor).__name__}")
        elif not isinstance(value, (bool, int)) or isinstance(value, np.generic):
            self.poison(f"Python decided on a {type(value).__name__} read from a value")
        else:
            self._steps.append(("guard", (read, template, value)))
        return value

    def _known(self, handle: TensorHandle) -> int | None:
        index = self._by_id.get(id(handle))
        if index is None or self._kept[index] is not handle:
            self.poison("an operation took a value no recorded operation made")
            return None
        return index

    def _template(self, value: Any) -> Any:
        if isinstance(value, TensorHandle):
            index = self._known(value)
            return Slot(index if index is not None else -1)
        if isinstance(value, tl.core.tensor):
            if not isinstance(value.handle, TensorHandle):
                self.poison("a tensor without a value")
                return None
            index = self._known(value.handle)
            return TensorSlot(index if index is not None else -1, value.type)
        if isinstance(value, tuple):
            return tuple(self._template(item) for item in value)
        if isinstance(value, list):
            return [self._template(item) for item in value]
        if isinstance(value, dict):
            return {key: self._template(item) for key, item in value.items()}
        if isinstance(value, tl.core.tuple) and not any(
                isinstance(item, (tl.core.tensor, TensorHandle)) for item in value.values):
            return value  # a shape
        if isinstance(value, np.ndarray) or (isinstance(value, tl.core.base_value)
                                              and not isinstance(value, tl.core.constexpr)):
            self.poison(f"an operation took a {type(value).__name__} the tape cannot name")
        return value

    def _result(self, made: Any) -> Any:
        if isinstance(made, TensorHandle):
            return Slot(self._name(made))
        if isinstance(made, tl.core.tensor) and isinstance(made.handle, TensorHandle):
            return TensorSlot(self._name(made.handle), made.type)
        if isinstance(made, (tuple, list)):
            return type(made)(self._result(item) for item in made)
        if made is None:
            return None
        if isinstance(made, (np.ndarray, tl.core.base_value)) and not isinstance(made, tl.core.constexpr):
            self.poison(f"an operation gave a {type(made).__name__} the tape cannot name")
        return Result(made)
