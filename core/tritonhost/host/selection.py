"""Choosing the backend that kernels run on.

The choice comes, first found wins, from :func:`use_backend` (a context), the
environment variable ``TRITONHOST_BACKEND``, or ``auto``. ``auto`` takes the first
usable of cuda, rocm, any third-party backend (by name), then the interpreter.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tritonhost.contract import BackendInfo, Launcher, TMADescriptorSpec
from tritonhost.errors import (
    BackendError,
    BackendHookMissingError,
    BackendUnusableError,
    NoBackendError,
    PluginLoadError,
    UnknownBackendError,
)
from tritonhost.host import discovery
from tritonhost.host.status import BackendStatus

if TYPE_CHECKING:
    import pluggy
    import torch

ENV_VAR = "TRITONHOST_BACKEND"
AUTO = "auto"
#: Backends ``auto`` tries before any third-party one; the interpreter comes last.
PREFERRED = ("cuda", "rocm")
FALLBACK = "interpreter"

_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("tritonhost_backend", default=None)
# Keyed by the registry's id for speed; the value keeps the registry itself, because a
# registry made after discovery.reset() may reuse a freed one's id.
_cache: dict[tuple[int, str], tuple[discovery.Registry, Backend]] = {}
_cache_lock = threading.Lock()


class Backend:
    """A usable backend, selected: the host's handle on one plugin's hooks."""

    def __init__(self, info: BackendInfo, status: BackendStatus, manager: pluggy.PluginManager) -> None:
        self.info = info
        self.status = status
        self.name = info.name
        self._hook = manager.hook

    @property
    def device(self) -> str:
        """The torch device type to put this backend's tensors on (its first device type)."""
        return self.info.device_types[0]

    def __repr__(self) -> str:
        return f"<tritonhost backend {self.name!r} from {self.status.distribution} {self.status.version}>"

    def make_launcher(self, kernel: Any) -> Launcher:
        try:
            launcher = self._hook.tritonhost_make_launcher(backend=self.name, kernel=kernel)
        except Exception as exc:
            name = getattr(getattr(kernel, "fn", kernel), "__name__", repr(kernel))
            raise BackendError(
                f"backend {self.name!r} ({self.status.distribution} {self.status.version}) failed to make a launcher "
                f"for kernel {name}: {type(exc).__name__}: {exc}. The backend's install may be broken; select another "
                f"with {ENV_VAR} to go on."
            ) from exc
        return self._need(launcher, "tritonhost_make_launcher", "launch kernels")

    def benchmark(self, fn: Callable[[], object], warmup: int | None = None, rep: int | None = None) -> float:
        result = self._hook.tritonhost_benchmark(backend=self.name, fn=fn, warmup=warmup, rep=rep)
        return float(self._need(result, "tritonhost_benchmark", "time kernels for the autotuner"))

    def make_tma_descriptor(self, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object:
        result = self._hook.tritonhost_make_tma_descriptor(backend=self.name, tensor=tensor, spec=spec)
        return self._need(result, "tritonhost_make_tma_descriptor", "make TMA descriptors")

    def _need(self, result: Any, hook: str, what: str) -> Any:
        if result is None:
            raise BackendHookMissingError(
                f"backend {self.name!r} ({self.status.distribution} {self.status.version}) cannot {what}: "
                f"it does not implement {hook}. Select another backend with {ENV_VAR}."
            )
        return result


def _make_env_reader() -> tuple[Callable[[], str | None], Callable[[], object]]:
    """``(read, raw)``: the variable's value, and an object that is the same object while the value is unchanged."""
    # os.environ.get encodes the key and decodes the value on every call, about 1 us,
    # which is most of the host's cost per launch; CPython's os.environ keeps the raw
    # mapping it updates on every change in `_data`. Read that where it exists.
    raw = getattr(os.environ, "_data", None)
    encode_key = getattr(os.environ, "encodekey", None)
    decode_value = getattr(os.environ, "decodevalue", None)
    if not isinstance(raw, dict) or encode_key is None or decode_value is None:
        return (lambda: os.environ.get(ENV_VAR)), (lambda: os.environ.get(ENV_VAR))
    key = encode_key(ENV_VAR)

    def read() -> str | None:
        value = raw.get(key)
        return None if value is None else decode_value(value)

    # Setting the variable stores a new bytes object, so the same object means the same value.
    return read, functools.partial(raw.get, key)


_read_env, _raw_env = _make_env_reader()
#: The last selection by name ``None``: (override, raw environment value, registry, backend).
#: Reused while each of the three is the same object, so an eager launch skips the lookup.
_last: tuple[object, object, object, Backend] | None = None


def requested_backend() -> str:
    """The backend name asked for right now: ``use_backend``, then the environment, then ``auto``."""
    name = _override.get() or _read_env() or AUTO
    return name.strip().lower()


def select(name: str | None = None) -> Backend:
    """The backend kernels run on: ``name`` if given, else :func:`requested_backend`.

    Raises :class:`UnknownBackendError` for a name no plugin has,
    :class:`PluginLoadError` for a plugin that failed to load,
    :class:`BackendUnusableError` for one that cannot run here, and
    :class:`NoBackendError` when ``auto`` finds nothing usable.
    """
    global _last
    last = _last
    # Every eager launch calls this: the same override, environment value and registry as
    # the last time mean the same backend, found in a few identity tests.
    if name is None and last is not None and last[0] is _override.get() and last[1] is _raw_env() and last[2] is discovery.registry():
        return last[3]
    registry, override, raw = discovery.registry(), _override.get(), _raw_env()
    asked = name or override or _read_env() or AUTO
    key = (id(registry), asked)
    found = _cache.get(key)
    backend = found[1] if found is not None and found[0] is registry else None
    if backend is None:
        # Checked on a miss only: select() runs on every eager launch.
        if not isinstance(asked, str):
            raise UnknownBackendError(
                f"a backend is named by a string, got {asked!r} ({type(asked).__name__}); use one of "
                f"{', '.join(registry.names)} or 'auto'"
            )
        if not asked.strip():
            raise UnknownBackendError(
                f"{ENV_VAR} is set but blank ({asked!r}): set it to one of {', '.join(registry.names)} "
                "or 'auto', or unset it"
            )
        backend = _resolve(registry, asked.strip().lower())
        with _cache_lock:
            if len(_cache) > 64:  # registries replaced by discovery.reset() leave stale entries
                _cache.clear()
            _cache[key] = (registry, backend)
    if name is None:
        _last = (override, raw, registry, backend)
    return backend


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run kernels on backend ``name`` inside the ``with`` block (this thread or task only)."""
    backend = select(name)
    token = _override.set(backend.name)
    try:
        yield backend
    finally:
        _override.reset(token)


def auto_order(statuses: tuple[BackendStatus, ...]) -> list[BackendStatus]:
    """The order in which ``auto`` tries the installed backends."""

    def rank(status: BackendStatus) -> tuple[int, str]:
        if status.name in PREFERRED:
            return PREFERRED.index(status.name), status.name
        if status.name == FALLBACK:
            return len(PREFERRED) + 2, status.name
        return len(PREFERRED) + 1, status.name

    return sorted(statuses, key=rank)


def _resolve(registry: discovery.Registry, requested: str) -> Backend:
    if not registry.statuses:
        raise NoBackendError(
            "no tritonhost backend is installed. Install one from a clone of tritonhost: "
            "`pip install plugins/interpreter` runs kernels on the CPU, `pip install plugins/cuda` on NVIDIA "
            f"GPUs (tritonhost's packages are not on a package index yet). {_disabled_note()}"
        )
    if requested == AUTO:
        for status in auto_order(registry.statuses):
            if status.conflict:  # auto must not skip past a name two plugins claim, quietly
                raise PluginLoadError(f"{ENV_VAR}=auto: {status.error}")
            if status.usable:
                return _handle(registry, status)
        raise NoBackendError(
            f"{ENV_VAR}=auto found no usable backend among the installed ones:\n{_listing(registry)}\n"
            "Install tritonhost-interpreter to run kernels on the CPU."
        )
    named = registry.status(requested)
    if named is None:
        raise UnknownBackendError(
            f"{ENV_VAR}={requested!r} names no installed backend. Installed backends:\n"
            f"{_listing(registry)}\nSet {ENV_VAR} to one of {', '.join(registry.names)} or to 'auto'."
        )
    if named.error is not None:
        raise PluginLoadError(named.error)
    if not named.usable:
        raise BackendUnusableError(
            f"backend {requested!r} is installed but cannot run here: {named.reason} "
            f"Select another backend with {ENV_VAR} (usable here: "
            f"{', '.join(s.name for s in registry.statuses if s.usable) or 'none'})."
        )
    return _handle(registry, named)


def _disabled_note() -> str:
    disabled = os.environ.get(discovery.DISABLE_ENV, "").strip()
    return f"({discovery.DISABLE_ENV}={disabled!r} keeps some from loading.)" if disabled else ""


def _handle(registry: discovery.Registry, status: BackendStatus) -> Backend:
    assert status.info is not None
    return Backend(status.info, status, registry.manager)


def _listing(registry: discovery.Registry) -> str:
    lines = []
    for status in registry.statuses:
        state = "usable" if status.usable else f"not usable: {status.reason}"
        lines.append(f"  - {status.name} ({status.distribution} {status.version}): {state}")
    return "\n".join(lines)
