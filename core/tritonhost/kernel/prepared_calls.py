"""Eager launches that skip binding and Triton's run: one prepared launch per kind of call.

A program launches a kernel from a few call sites, and each passes the same keywords
(constexprs, launch options) and positional arguments of the same kinds on every call.
For such a call, binding by name, filling in defaults, choosing an autotune config and
finding Triton's binary need to happen once. :class:`PreparedCalls` keeps, per kind of
call, the values the call does not pass positionally and a prepared launch of the binary
(the launcher's ``prepare``, see :class:`tritonhost.contract.Launcher`). A kind of call is:

- the number of positional arguments and the keyword arguments with their values (all of
  them constexprs or launch options, so fixed for the binary);
- for an autotuned kernel, also the values of the tuning key that are passed positionally.

Before each launch, the prepared launch checks what Triton specializes on in the
positional values (dtype and 16-byte alignment of tensors, 1 / divisible by 16 / 32-bit
for ints, the type of anything else) and declines when it differs; constexprs passed
positionally are compared by value. What is not taken here goes through the kernel's
runner as before, and the first launch of each kind that works there is learned:

- a non-constexpr argument passed by keyword (its value would become part of the kind);
- a positional argument that is not a tensor, int, float, bool or None (a tuple, a TMA
  descriptor: the prepared launch cannot check it);
- a ``@triton.heuristics`` layer (its values are computed from every call's arguments),
  or a config with a ``pre_hook`` (it runs on every launch);
- a launcher without ``prepare`` (the interpreter's: it has no binary to hold).

Prepared eager launches are on by default; ``TRITONHOST_PREPARED_LAUNCH=0`` turns them
off, so that every call goes through the runner (to rule them out when chasing a
problem). The variable is read when a kernel's runner is made (on its first launch on a
backend). They have run on an H200 (torch 2.11, Triton 3.6): the ``gpu`` tests of
tests/launch/test_prepared_calls.py, and the whole suite with them on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import torch

from tritonhost.contract import Grid3, PreparedLaunch
from tritonhost.kernel.decorators import AutotuneLayer, DecoratedKernel
from tritonhost.kernel.grid import as_grid3

logger = logging.getLogger("tritonhost.launch")

#: Kinds of call kept per kernel: a call site passing ever new keyword values (a tensor by
#: keyword, a size that changes) must not grow the table without end.
LIMIT = 64

#: Set to 0 to launch every eager call through the runner; prepared launches are on otherwise.
ENV_VAR = "TRITONHOST_PREPARED_LAUNCH"

#: Values a prepared launch checks before each launch (compat/direct_launch.py).
_CHECKED = (torch.Tensor, int, float, bool, type(None))

Prepare = Callable[[dict[str, Any], dict[str, Any], frozenset[str]], PreparedLaunch | None]


class _Call:
    """One kind of call: what it does not pass positionally, and the launch prepared for it."""

    __slots__ = ("constexpr_args", "prepared", "tail")

    def __init__(self, tail: tuple[Any, ...], constexpr_args: tuple[tuple[int, Any], ...], prepared: PreparedLaunch):
        #: The values of the parameters after the positional ones, in signature order.
        self.tail = tail
        #: ``(index, value)`` of each constexpr passed positionally.
        self.constexpr_args = constexpr_args
        self.prepared = prepared


class _Kind:
    """The calls of one kind, by the values of the tuning key passed positionally (none: one call)."""

    __slots__ = ("calls", "key_indices")

    def __init__(self, key_indices: tuple[int, ...]) -> None:
        self.key_indices = key_indices
        self.calls: dict[Hashable, _Call] = {}


class PreparedCalls:
    """The prepared launches of one kernel on one backend's launcher, found by kind of call."""

    __slots__ = (
        "_arg_names",
        "_constexprs",
        "_jit",
        "_key_names",
        "_kinds",
        "_last",
        "_pre_run_hooks",
        "_prepare",
        "_refused",
        "_size",
    )

    @classmethod
    def make(cls, decorated: DecoratedKernel, launcher: Any) -> PreparedCalls | None:
        """Prepared calls for ``decorated`` through ``launcher``, or None where launches cannot be prepared."""
        prepare = getattr(launcher, "prepare", None)
        if prepare is None or os.environ.get(ENV_VAR, "1").strip() == "0":
            return None
        match decorated.layers:
            case ():
                return cls(decorated, prepare, ())
            case (AutotuneLayer() as layer,):
                return cls(decorated, prepare, tuple(layer.key))
            case _:
                return None

    def __init__(self, decorated: DecoratedKernel, prepare: Prepare, key_names: tuple[str, ...]) -> None:
        self._jit = decorated.jit
        self._arg_names = decorated.arg_names
        self._constexprs = decorated.constexprs
        self._key_names = key_names
        self._prepare = prepare
        # Triton's list, held (not copied) so that hooks added later are seen; run() runs them.
        self._pre_run_hooks: list[Any] = getattr(decorated.jit, "pre_run_hooks", [])
        self._kinds: dict[Hashable, _Kind] = {}
        #: ``(positional count, keywords, kind, its one call or None)`` of the last launch
        #: that found its kind (None where the kind has a call per tuning-key value).
        self._last: tuple[int, dict[str, Any], _Kind, _Call | None] | None = None
        #: Kinds of call (positional count, keyword names) that cannot be prepared.
        self._refused: set[tuple[Any, ...]] = set()
        self._size = 0

    def launch(self, grid: Grid3 | Callable[[Mapping[str, Any]], Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Launch through a prepared launch and return True, or return False having launched nothing."""
        last = self._last
        try:
            # The kind of call of the last launch again (one call site, most often): a
            # comparison of the keywords instead of a key to build and hash.
            same = last is not None and last[0] == len(args) and last[1] == kwargs
        except Exception:  # noqa: BLE001 - a keyword value whose == raises (a tensor): not kept here
            return False
        if same:
            kind, call = last[2], last[3]  # type: ignore[index]
        else:
            try:
                kind = self._kinds.get((len(args), *kwargs.items()) if kwargs else len(args))
            except TypeError:  # an unhashable keyword value: not a kind of call kept here
                return False
            if kind is None:
                return False
            call = None if kind.key_indices else kind.calls[()]
            self._last = (len(args), dict(kwargs), kind, call)
        if call is None:  # an autotuned kernel: one call per value of the tuning key
            call = kind.calls.get(tuple([args[i] for i in kind.key_indices]))
            if call is None:
                return False
        for index, value in call.constexpr_args:
            given = args[index]
            if type(given) is not type(value) or given != value:
                return False
        if self._pre_run_hooks:  # Triton's run calls them on each launch
            return False
        values = args + call.tail
        if callable(grid):
            sizes = grid(dict(zip(self._arg_names, values)))
            # as_grid3's common case, (n,) of an int, written inline: a call costs a tenth of
            # a microsecond, a tenth of what a grid function's launch adds.
            if type(sizes) is tuple and len(sizes) == 1 and type(size := sizes[0]) is int and size >= 0:
                grid = (size, 1, 1)
            else:
                grid = as_grid3(sizes)
        return call.prepared(grid, values)

    def learn(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], params: Mapping[str, Any], options: dict[str, Any]
    ) -> None:
        """After a launch that worked with ``params`` and ``options`` (config applied), prepare its kind of call."""
        if self._size >= LIMIT:
            return
        shape = (len(args), *kwargs)
        if shape in self._refused:
            return
        try:
            kind_key: Hashable = (len(args), *kwargs.items()) if kwargs else len(args)
            hash(kind_key)
        except TypeError:
            return
        kind = self._kinds.get(kind_key)
        key_indices = tuple(i for i, name in enumerate(self._arg_names[: len(args)]) if name in self._key_names)
        call_key: Hashable = tuple([args[i] for i in key_indices])
        if kind is not None and call_key in kind.calls:
            return  # prepared already; this call's values needed another specialization
        reason = self._refusal(args, kwargs)
        if reason is not None:
            self._refused.add(shape)
            logger.debug("%s: calls with %d positional arguments and keywords %s launch through Triton's run: %s",
                         self._jit.fn.__name__, len(args), list(kwargs) or "none", reason)
            return
        try:
            hash(call_key)
        except TypeError:
            return
        varying = frozenset(name for name in self._arg_names[: len(args)] if name not in self._constexprs)
        prepared = self._prepare(dict(params), dict(options), varying)
        if prepared is None:
            self._refused.add(shape)
            return
        tail = tuple(params[name] for name in self._arg_names[len(args) :])
        constexpr_args = tuple((i, args[i]) for i, name in enumerate(self._arg_names[: len(args)]) if name in self._constexprs)
        if kind is None:
            kind = self._kinds[kind_key] = _Kind(key_indices)
        kind.calls[call_key] = _Call(tail, constexpr_args, prepared)
        self._size += 1

    def _refusal(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """Why calls like this one cannot be prepared, or None."""
        for name in kwargs:
            if name in self._arg_names and name not in self._constexprs:
                return f"{name!r} is passed by keyword and is not a constexpr, so it may change with every call"
        for name, value in zip(self._arg_names, args):
            if name not in self._constexprs and not isinstance(value, _CHECKED):
                return f"{name!r} is a {type(value).__name__}, which a prepared launch does not check"
        return None
