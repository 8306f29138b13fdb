"""A cache keyed by object identity that forgets an entry when its key is collected.

Triton's JITFunction hashes by its source's cache key, which parses the source
and every function it references, and fails while the interpreter has patched
``triton.language``. Kernels are therefore cached by identity, never by hash.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    """``get_or_make(key, make)``: one value per live key object, made once even across threads."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Any], V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> V | None:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return None

    def get_or_make(self, key: Any, make: Callable[[Any], V]) -> V:
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            value = self.get(key)
            if value is None:
                value = make(key)
                ident = id(key)

                def forget(_: weakref.ref[Any], ident: int = ident) -> None:
                    self._forget(ident)

                self._entries[ident] = (weakref.ref(key, forget), value)
        return value

    def _forget(self, ident: int) -> None:
        entry = self._entries.get(ident)
        if entry is not None and entry[0]() is None:
            del self._entries[ident]

    def __len__(self) -> int:
        return len(self._entries)
