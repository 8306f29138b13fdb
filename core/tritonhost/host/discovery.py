"""Finding backend plugins through entry points and loading them into one PluginManager.

A plugin that fails to import, or whose description hook raises, does not stop
the others: it is reported as broken with its distribution, its entry point and
the original exception, and selecting it raises that report.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from importlib import metadata
from types import ModuleType
from typing import Any

import attrs
import pluggy

from tritonhost import hookspecs
from tritonhost.compat.options import triton_launch_options
from tritonhost.contract import BackendInfo
from tritonhost.host.status import BackendStatus
from tritonhost.markers import PROJECT

#: The entry-point group a backend package registers its plugin module under.
ENTRY_POINT_GROUP = "tritonhost.backends"
#: Comma-separated entry-point names not to load, or ``*`` for none at all.
DISABLE_ENV = "TRITONHOST_DISABLE_PLUGINS"


@attrs.frozen
class Registry:
    """Every discovered backend, by name, and the manager holding the loaded plugins."""

    manager: pluggy.PluginManager
    statuses: tuple[BackendStatus, ...]
    #: The plugin (a module or a plugin object) of every loaded backend, by backend name.
    plugins: dict[str, object] = attrs.field(factory=dict)

    def status(self, name: str) -> BackendStatus | None:
        for status in self.statuses:
            if status.name == name:
                return status
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(status.name for status in self.statuses)

    def launch_options(self) -> frozenset[str]:
        """Options a launch may carry: those of every Triton backend and every installed plugin.

        Code written for one vendor passes that vendor's options everywhere; each
        backend ignores the ones it does not use.
        """
        options = set(triton_launch_options())
        for status in self.statuses:
            if status.info is not None:
                options.update(status.info.launch_options)
        return frozenset(options)

    def implementation(self, backend: str, hook: str) -> Callable[..., Any] | None:
        """``backend``'s own implementation of ``hook``, to call directly on a hot path, or None."""
        plugin = self.plugins.get(backend)
        if plugin is None:
            return None
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            if impl.plugin is plugin:
                return impl.function  # type: ignore[no-any-return]
        return None


@attrs.frozen
class _Origin:
    distribution: str
    version: str
    entry_point: str


_lock = threading.Lock()
_registry: Registry | None = None


def registry() -> Registry:
    """The process's backend registry, discovered on first use."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = discover()
    return _registry


def reset() -> None:
    """Forget the discovered backends, so the next call discovers them again.

    For tests and for programs that install a backend while running.
    """
    global _registry
    with _lock:
        _registry = None


def discover() -> Registry:
    """Load every plugin of :data:`ENTRY_POINT_GROUP` into a new PluginManager."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    statuses: list[BackendStatus] = []
    plugins: dict[str, object] = {}
    claimants: dict[str, list[tuple[object, BackendInfo, _Origin]]] = {}
    disabled = {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if "*" in disabled or entry_point.name in disabled:
            continue
        distribution, version = _distribution_of(entry_point)
        where = _Origin(distribution, version, _describe_entry_point(entry_point))
        try:
            plugin = entry_point.load()
            if isinstance(plugin, type):
                raise TypeError(
                    f"the entry point names the class {plugin.__qualname__}; name a module of hook "
                    "implementations or a plugin object (an instance), for instance `package.plugin:backend`"
                )
            if not isinstance(plugin, ModuleType) and not _has_hooks(plugin):
                raise TypeError(
                    f"the entry point must name a module of hook implementations or a plugin object, not {plugin!r}"
                )
            if manager.is_registered(plugin):
                continue  # the same distribution seen twice on sys.path
            manager.register(plugin, name=f"tritonhost-backend-{entry_point.name}")
            try:
                manager.check_pending()  # a misspelt hook name would otherwise be ignored silently
                info = _describe(manager, plugin)
            except BaseException:
                manager.unregister(plugin)
                raise
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin is reported, not fatal
            statuses.append(BackendStatus(name=entry_point.name, error=_load_error(entry_point, where, exc), **attrs.asdict(where)))
            continue
        claimants.setdefault(info.name, []).append((plugin, info, where))
    for name, claims in claimants.items():
        if len(claims) == 1:
            plugin, info, where = claims[0]
            plugins[name] = plugin
            statuses.append(BackendStatus(name=name, info=info, **attrs.asdict(where)))
            continue
        # Two plugins for one name: entry-point order must not decide which runs the kernels
        # (a package could take over a bundled backend's name). Neither is used.
        for plugin, _, _ in claims:
            manager.unregister(plugin)
        error = _conflict_error(name, [where for _, _, where in claims])
        statuses.extend(BackendStatus(name=name, error=error, conflict=True, **attrs.asdict(w)) for _, _, w in claims)
    return Registry(manager=manager, statuses=tuple(statuses), plugins=plugins)


def _conflict_error(name: str, origins: list[_Origin]) -> str:
    claims = "; ".join(f"distribution {o.distribution!r} {o.version} (entry point {o.entry_point})" for o in origins)
    return (
        f"backend name {name!r} is claimed by {len(origins)} plugins: {claims}. tritonhost will not choose one: "
        f"uninstall all but one (pip uninstall NAME), or keep the others from loading with {DISABLE_ENV}="
        "<entry point name>."
    )


def _has_hooks(plugin: object) -> bool:
    return any(name.startswith(f"{PROJECT}_") for name in dir(plugin))


def _describe(manager: pluggy.PluginManager, plugin: object) -> BackendInfo:
    impls = [impl for impl in manager.hook.tritonhost_describe_backend.get_hookimpls() if impl.plugin is plugin]
    if len(impls) != 1:
        raise TypeError("the plugin does not implement tritonhost_describe_backend")
    info = impls[0].function()
    if not isinstance(info, BackendInfo):
        raise TypeError(f"tritonhost_describe_backend returned {info!r}, not a tritonhost.BackendInfo")
    return info


def _distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return "<unknown distribution>", ""
    return dist.metadata["Name"] or dist.name, dist.version


def _describe_entry_point(entry_point: metadata.EntryPoint) -> str:
    return f"{ENTRY_POINT_GROUP}:{entry_point.name} = {entry_point.value}"


def _load_error(entry_point: metadata.EntryPoint, where: _Origin, exc: Exception) -> str:
    origin = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (raised at {origin.filename}:{origin.lineno})" if origin else ""
    return (
        f"backend plugin {entry_point.name!r} from distribution {where.distribution!r} "
        f"{where.version} failed to load: entry point {where.entry_point} raised "
        f"{type(exc).__name__}: {exc}{at}. Fix or reinstall that package, or uninstall it "
        f"(pip uninstall {where.distribution})."
    )
