"""A batched launch's operations recorded once, then replayed without the kernel's Python.

A batched launch (:mod:`tritonhost_interpreter.batching`) runs the kernel's Python once
per chunk of programs: Triton's semantic layer type-checks and broadcasts every
operation, builds a ``tl.tensor`` for every value, and only then calls the builder,
which does the arithmetic. For a launch whose arrays are small next to that work (a
vector add over 4,096 programs, a norm over 64 columns) the Python is most of the
time, and it is the same every launch: what it decides depends on the kernel's
specialization, not on the data.

So the first chunk of a specialization runs under a
:class:`~tritonhost_interpreter.recording.Recorder`, which writes
down each operation the kernel performed: each call of the batched builder made from
outside the builder, with its arguments (values by the operation that made them,
everything else as given), each reduction and scan, each loop index made, each libdevice
call (:func:`~tritonhost_interpreter.recording.call`), and each place where Python read a value to decide something: a
branch, a loop bound, an ``int()`` (:func:`~tritonhost_interpreter.recording.guarded`). Later chunks, and later launches
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
- **Views.** A replay lets full-block loads return read-only views of argument memory
  rather than copies; a write that reaches one while a value of the chunk still shows
  it stops the replay (:class:`ViewConflict`), and the tape copies from then on.
- **The key.** A tape is kept per specialization key, the types of the converted
  arguments (an integer past 32 bits converts to int64, and the semantic layer then
  decides otherwise), and the values of the globals the kernel reads.

Replay is on unless ``TRITONHOST_INTERPRETER_REPLAY=0``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

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


class Slot:
    """A value by the index of the operation (or argument) that made it: its handle."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class TensorSlot:
    """A ``tl.tensor`` around a slot's handle, with the type it had when recorded."""

    __slots__ = ("index", "type")

    def __init__(self, index: int, type: Any) -> None:
        self.index = index
        self.type = type


class Result:
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
                    filled[position] = (slots[template.index] if type(template) is Slot
                                        else tl.core.tensor(slots[template.index], template.type))
                made = (getattr(builder, name) if name is not None else function)(*filled, **keywords)
                if type(result) is Slot and isinstance(made, TensorHandle):
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
        arrays = handle.arrays()
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
    if plain or holds_values(keywords) or not isinstance(arguments, tuple):
        return kind, step
    if any(isinstance(item, (tuple, list, dict)) and holds_values(item) for item in arguments):
        return kind, step
    fills = tuple((position, item) for position, item in enumerate(arguments) if isinstance(item, (Slot, TensorSlot)))
    return "flat", (name, function, arguments, keywords, result, fills)


def _used(step: Any) -> list[int]:
    """The slots a step reads or makes (a call's arguments and results, a guard's value)."""
    found: list[int] = []

    def walk(template: Any) -> None:
        if isinstance(template, (Slot, TensorSlot)):
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
    if isinstance(template, Slot):
        return slots[template.index]
    if isinstance(template, TensorSlot):
        return tl.core.tensor(slots[template.index], template.type)
    if isinstance(template, tuple):
        return tuple(_fill(item, slots) for item in template)
    if isinstance(template, list):
        return [_fill(item, slots) for item in template]
    if isinstance(template, dict):
        return {key: _fill(value, slots) for key, value in template.items()}
    return template


def _bind(template: Any, made: Any, slots: list[Any]) -> None:
    if isinstance(template, Slot):
        if not isinstance(made, TensorHandle):
            raise Mismatch(f"an operation gave {type(made).__name__} where it gave a value when recorded")
        slots[template.index] = made
    elif isinstance(template, TensorSlot):
        if not isinstance(made, tl.core.tensor) or not isinstance(made.handle, TensorHandle):
            raise Mismatch(f"an operation gave {type(made).__name__} where it gave a tensor when recorded")
        slots[template.index] = made.handle
    elif isinstance(template, (tuple, list)):
        if not isinstance(made, (tuple, list)) or len(made) != len(template):
            raise Mismatch("an operation gave another number of results than when recorded")
        for item, value in zip(template, made):
            _bind(item, value, slots)
    elif isinstance(template, Result) and (type(made) is not type(template.value) or made != template.value):
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


def holds_values(template: Any) -> bool:
    if isinstance(template, (Slot, TensorSlot)):
        return True
    if isinstance(template, (tuple, list)):
        return any(holds_values(item) for item in template)
    if isinstance(template, dict):
        return any(holds_values(item) for item in template.values())
    return False
