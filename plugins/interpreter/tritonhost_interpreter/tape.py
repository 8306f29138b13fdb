"""A batched launch's operations recorded once, then replayed without the kernel's Python.

A batched launch (:mod:`tritonhost_interpreter.batching`) runs the kernel's Python once
per chunk of programs: Triton's semantic layer type-checks and broadcasts every
operation, builds a ``tl.tensor`` for every value, and only then calls the builder,
which does the arithmetic. For a launch whose arrays are small next to that work (a
vector add over 4,096 programs, a norm over 64 columns) the Python is most of the
time, and it is the same every launch: what it decides depends on the kernel's
specialization, not on the data.

So the first chunk of a specialization runs under a :class:`Recorder`, which writes
down each operation the kernel performed: each call of the batched builder made from
outside the builder, with its arguments (values by the operation that made them,
everything else as given), each reduction and scan, each loop index made, each libdevice
call (:func:`call`), and each place where Python read a value to decide something: a
branch, a loop bound, an ``int()`` (:func:`guarded`). Later chunks, and later launches
with the same specialization, replay the tape: the same operations on the new
arguments' values, and at each guard the value read again and compared with the one
recorded. The builder's operations themselves run again in full (bounds checks, the
write journal, the separable fast paths decide afresh from the new values).

What keeps it exact:

- **Nothing unseen.** While recording, every read or write of a value's data, and every
  value made, outside an operation the tape holds and outside a guard marks the
  recording unusable (``poisoned``); so does an argument the tape cannot name (a value
  no recorded operation made, a NumPy array) or an operation Python called through
  anything but the builder. Such a specialization is never replayed: it runs its
  Python every time, as before.
- **Guards.** Python's decisions on values are the only way the operations performed
  can depend on them; each is checked on replay. A guard that reads differently stops
  the replay (:class:`Mismatch`): the launch's writes are put back and it runs again
  with its Python (:func:`tritonhost_interpreter.batching.run`).
- **The key.** A tape is kept per specialization key, the types of the converted
  arguments (an integer past 32 bits converts to int64, and the semantic layer then
  decides otherwise), and the values of the globals the kernel reads.

Replay is on unless ``TRITONHOST_INTERPRETER_REPLAY=0``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, Self

import numpy as np
import triton.language as tl
from triton.runtime.interpreter import TensorHandle

from tritonhost_interpreter.separable import SeparableHandle

#: Set to 0 to run the kernel's Python for every chunk of every batched launch.
REPLAY_ENV = "TRITONHOST_INTERPRETER_REPLAY"


def enabled() -> bool:
    """Whether batched launches replay recorded operations (the default)."""
    return os.environ.get(REPLAY_ENV, "1").strip() not in ("0", "false", "no", "off")


class Mismatch(Exception):
    """A replay met what the recording did not: a guard read another value, an operation gave another kind of result."""


class ViewConflict(Mismatch):
    """A write of a replay reached memory that a load of the same chunk returned as a view, not a copy.

    The tape then loads copies for good (:attr:`Tape.views`); the launch runs again.
    """


# --- what a tape holds -------------------------------------------------------------------------


class _Slot:
    """A value by the index of the operation (or argument) that made it: its handle."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Tensor:
    """A ``tl.tensor`` around a slot's handle, with the type it had when recorded."""

    __slots__ = ("index", "type")

    def __init__(self, index: int, type: Any) -> None:
        self.index = index
        self.type = type


class _Result:
    """A result that is no value (a type, a Python constant): replay checks it is the same."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Tape:
    """One specialization's recorded operations, replayed chunk by chunk.

    ``standalone`` says whether the operations run none of the kernel's Python (a
    reduction's own combine function does): then a replay needs neither Triton's
    language patched nor the kernel's globals routed (:func:`tritonhost_interpreter.batching.replay`).
    """

    def __init__(self, inputs: list[tuple[str, int]], steps: list[tuple[str, Any]], slots: int,
                 standalone: bool = False) -> None:
        self._inputs = inputs
        self._slots = slots
        self.standalone = standalone
        #: Whether replay lets loads return read-only views of argument memory, sparing a copy
        #: of every full block loaded. Cleared for good when a write meets such a view (an
        #: in-place kernel): :class:`ViewConflict`.
        self.views = True
        # Each value is dropped after the last step that uses it, as the kernel's Python drops
        # it when it goes out of scope: a launch's large arrays are not all held to its end.
        last: dict[int, int] = {}
        for number, (_, step) in enumerate(steps):
            for index in _used(step):
                last[index] = number
        dying: list[list[int]] = [[] for _ in steps]
        for index, number in last.items():
            dying[number].append(index)
        self._steps = [(*_compiled(kind, step), tuple(dead)) for (kind, step), dead in zip(steps, dying)]

    def replay(self, builder: Any, args: Mapping[str, Any]) -> None:
        """Perform the recorded operations on ``args`` (the kernel's converted arguments); may raise :class:`Mismatch`."""
        slots: list[Any] = [None] * self._slots
        running: list[tuple[int, ...]] = [()]  # the slots that die after the step running

        def still_read(low: int, high: int) -> bool:
            dying = running[0]
            return any(value is not None and index not in dying and _within(value, low, high)
                       for index, value in enumerate(slots))

        builder.view_loads, builder.still_read = self.views, still_read
        try:
            self._run(builder, args, slots, running)
        except ViewConflict:
            self.views = False
            raise
        finally:
            builder.view_loads, builder.still_read = False, None

    def _run(self, builder: Any, args: Mapping[str, Any], slots: list[Any], running: list[tuple[int, ...]]) -> None:
        for name, index in self._inputs:
            slots[index] = args[name].handle
        for kind, step, dead in self._steps:
            running[0] = dead
            if kind == "flat":
                name, function, arguments, keywords, result, fills = step
                filled = list(arguments)
                for position, template in fills:
                    filled[position] = (slots[template.index] if type(template) is _Slot
                                        else tl.core.tensor(slots[template.index], template.type))
                made = (getattr(builder, name) if name is not None else function)(*filled, **keywords)
                if type(result) is _Slot and isinstance(made, TensorHandle):
                    slots[result.index] = made
                else:
                    _bind(result, made, slots)
            elif kind == "call":
                name, function, arguments, keywords, result, plain = step
                target = getattr(builder, name) if name is not None else function
                if plain:
                    made = target(*arguments, **keywords)
                else:
                    made = target(*_fill(arguments, slots), **_fill(keywords, slots))
                _bind(result, made, slots)
            else:
                read, tensor, value = step
                now = read(tl.core.tensor(slots[tensor.index], tensor.type))
                if type(now) is not type(value) or now != value:
                    raise Mismatch(f"a value Python decides on read {value!r} when recorded and {now!r} now")
            for index in dead:
                slots[index] = None


def _within(handle: TensorHandle, low: int, high: int) -> bool:
    """Whether any array of ``handle`` may lie in the byte range [low, high) (other values: yes)."""
    if isinstance(handle, SeparableHandle):
        arrays = [handle.program, handle.lane, handle._dense]
    elif isinstance(handle, TensorHandle):
        arrays = [handle.data]
    else:
        return True
    for array in arrays:
        if isinstance(array, np.ndarray) and array.size:
            start = array.__array_interface__["data"][0]
            first = start + sum((n - 1) * s for n, s in zip(array.shape, array.strides) if s < 0)
            last = start + sum((n - 1) * s for n, s in zip(array.shape, array.strides) if s > 0) + array.itemsize
            if first < high and low < last:
                return True
        elif array is not None and not isinstance(array, np.ndarray):
            return True
    return False


def _compiled(kind: str, step: Any) -> tuple[str, Any]:
    """A step as replay runs it: a call whose values are all top-level positional arguments is ``"flat"``.

    Replay fills such a call's arguments by position, without walking the templates
    (:func:`_fill`): its last field, ``plain`` otherwise, becomes the positions to fill
    and their templates.
    """
    if kind != "call":
        return kind, step
    name, function, arguments, keywords, result, plain = step
    if plain or _holds_values(keywords) or not isinstance(arguments, tuple):
        return kind, step
    if any(isinstance(item, (tuple, list, dict)) and _holds_values(item) for item in arguments):
        return kind, step
    fills = tuple((position, item) for position, item in enumerate(arguments) if isinstance(item, (_Slot, _Tensor)))
    return "flat", (name, function, arguments, keywords, result, fills)


def _used(step: Any) -> list[int]:
    """The slots a step reads or makes (a call's arguments and results, a guard's value)."""
    found: list[int] = []

    def walk(template: Any) -> None:
        if isinstance(template, (_Slot, _Tensor)):
            found.append(template.index)
        elif isinstance(template, (tuple, list)):
            for item in template:
                walk(item)
        elif isinstance(template, dict):
            for item in template.values():
                walk(item)

    walk(step[2:5] if len(step) == 6 else step[1])
    return found


def _fill(template: Any, slots: list[Any]) -> Any:
    if isinstance(template, _Slot):
        return slots[template.index]
    if isinstance(template, _Tensor):
        return tl.core.tensor(slots[template.index], template.type)
    if isinstance(template, tuple):
        return tuple(_fill(item, slots) for item in template)
    if isinstance(template, list):
        return [_fill(item, slots) for item in template]
    if isinstance(template, dict):
        return {key: _fill(value, slots) for key, value in template.items()}
    return template


def _bind(template: Any, made: Any, slots: list[Any]) -> None:
    if isinstance(template, _Slot):
        if not isinstance(made, TensorHandle):
            raise Mismatch(f"an operation gave {type(made).__name__} where it gave a value when recorded")
        slots[template.index] = made
    elif isinstance(template, _Tensor):
        if not isinstance(made, tl.core.tensor) or not isinstance(made.handle, TensorHandle):
            raise Mismatch(f"an operation gave {type(made).__name__} where it gave a tensor when recorded")
        slots[template.index] = made.handle
    elif isinstance(template, (tuple, list)):
        if not isinstance(made, (tuple, list)) or len(made) != len(template):
            raise Mismatch("an operation gave another number of results than when recorded")
        for item, value in zip(template, made):
            _bind(item, value, slots)
    elif isinstance(template, _Result) and (type(made) is not type(template.value) or made != template.value):
        raise Mismatch(f"an operation gave {made!r} where it gave {template.value!r} when recorded")


class _Record:
    def __repr__(self) -> str:
        return "RECORD"


#: What :meth:`Tapes.find` gives where the next chunk should record a tape.
RECORD = _Record()


class Tapes:
    """One kernel's tapes by key, and how often each stopped at a guard (a key that keeps stopping is left to run its Python)."""

    #: Replays of one key that may stop at a guard; after that the key runs its Python.
    STOPS_ALLOWED = 2
    #: Keys kept; past that all are forgotten (a kernel launched with ever new globals).
    KEPT = 64

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], Tape | None] = {}
        self._stops: dict[tuple[Any, ...], int] = {}

    def find(self, key: tuple[Any, ...]) -> Tape | _Record | None:
        """The tape to replay, :data:`RECORD`, or None: run the kernel's Python."""
        return self._kept.get(key, RECORD)

    def keep(self, key: tuple[Any, ...], made: Tape | None) -> Tape | None:
        """Keep a recording (None: poisoned); returns what is kept."""
        if len(self._kept) >= self.KEPT:
            self._kept.clear()
        if self._stops.get(key, 0) >= self.STOPS_ALLOWED:
            made = None
        self._kept[key] = made
        return made

    def stopped(self, key: tuple[Any, ...]) -> None:
        """A replay of ``key``'s tape stopped at a guard: the next launch records again, a few times at most."""
        self._stops[key] = self._stops.get(key, 0) + 1
        self._kept.pop(key, None)


# --- recording ----------------------------------------------------------------------------------

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
        plain = not _holds_values(arguments) and not _holds_values(keywords)
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
        if not isinstance(template, _Tensor):
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
            return _Slot(index if index is not None else -1)
        if isinstance(value, tl.core.tensor):
            if not isinstance(value.handle, TensorHandle):
                self.poison("a tensor without a value")
                return None
            index = self._known(value.handle)
            return _Tensor(index if index is not None else -1, value.type)
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
            return _Slot(self._name(made))
        if isinstance(made, tl.core.tensor) and isinstance(made.handle, TensorHandle):
            return _Tensor(self._name(made.handle), made.type)
        if isinstance(made, (tuple, list)):
            return type(made)(self._result(item) for item in made)
        if made is None:
            return None
        if isinstance(made, (np.ndarray, tl.core.base_value)) and not isinstance(made, tl.core.constexpr):
            self.poison(f"an operation gave a {type(made).__name__} the tape cannot name")
        return _Result(made)


def _holds_values(template: Any) -> bool:
    if isinstance(template, (_Slot, _Tensor)):
        return True
    if isinstance(template, (tuple, list)):
        return any(_holds_values(item) for item in template)
    if isinstance(template, dict):
        return any(_holds_values(item) for item in template.values())
    return False
