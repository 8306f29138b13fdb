"""Choosing an autotuned kernel's config, timed through the selected backend.

Follows ``triton.autotune``'s semantics (tuning key, pruning, ``reset_to_zero``,
``restore_value``, config pre-hooks) but times configs with the backend's
``tritonhost_benchmark`` hook, so tuning works on backends without a GPU
driver, and keeps one cache per backend.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
import triton
from triton import knobs
from triton.compiler.errors import CompileTimeAssertionFailure
from triton.runtime.errors import OutOfResources

from tritonhost.errors import AutotuneError, KernelArgumentError
from tritonhost.host.selection import Backend
from tritonhost.kernel.decorators import AutotuneLayer
from tritonhost.tuning import agreement, feedback
from tritonhost.tuning import cache as tuning_cache
from tritonhost.tuning.feedback import describe_config
from tritonhost.tuning.timing import Measured, Timing

log = logging.getLogger("tritonhost.autotune")

# Failures that rule a config out instead of failing the launch, as in Triton.
try:
    from triton.runtime.errors import PTXASError

    _CONFIG_FAILURES: tuple[type[BaseException], ...] = (OutOfResources, CompileTimeAssertionFailure, PTXASError)
except ImportError:  # pragma: no cover - older Triton
    _CONFIG_FAILURES = (OutOfResources, CompileTimeAssertionFailure)


def _values(config: triton.Config) -> dict[str, Any]:
    """A config's values as the persistent cache stores them (JSON's types only)."""
    return {k: v for k, v in config.all_kwargs().items() if isinstance(v, (bool, int, float, str)) or v is None}


def _device_name(params: dict[str, Any]) -> str:
    for value in params.values():
        if isinstance(value, torch.Tensor) and value.device.type == "cuda":
            return str(torch.cuda.get_device_name(value.device))
    # Not platform.processor(): on Linux it runs `uname -p` in a subprocess (milliseconds, on
    # every tuning decision), to return what platform.machine() says or nothing.
    return platform.machine()


class AutotuneStats:
    """What the autotuner did in this process: configs timed, persistent-cache hits and misses,
    and the wall time spent choosing (pruning, the cache, timing; not the chosen launch itself)."""

    def __init__(self) -> None:
        self.benchmarked = 0
        self.hits = 0
        self.misses = 0
        self.decisions = 0
        self.seconds = 0.0

    def as_dict(self) -> dict[str, int | float]:
        return {"benchmarked": self.benchmarked, "hits": self.hits, "misses": self.misses,
                "decisions": self.decisions, "seconds": self.seconds}


#: This process's counts (``tritonhost.autotune_stats()``).
stats = AutotuneStats()


def _split(config: triton.Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config's kernel parameters, and its launch options (num_warps...)."""
    options = {k: v for k, v in config.all_kwargs().items() if k not in config.kwargs}
    return dict(config.kwargs), options


class ConfigChooser:
    """The config cache of one autotuned kernel on one backend."""

    def __init__(
        self,
        layer: AutotuneLayer,
        backend: Backend,
        kernel_name: str,
        front_end_error: Callable[[triton.Config, dict[str, Any], dict[str, Any]], str | None] | None = None,
        source: Callable[[], str | None] | None = None,
    ) -> None:
        self.layer = layer
        #: The kernel's source hash (Triton's), for the persistent cache; None: nothing persists.
        self.source = source
        #: Why the front end refuses a config for these arguments, or None: asked of the
        #: configs an untimed backend would take, and of a config whose timing run failed.
        self.front_end_error = front_end_error
        self.backend = backend
        self.kernel_name = kernel_name
        self.cache: dict[tuple[Any, ...], triton.Config] = {}
        self._lock = threading.Lock()
        self._config_names = frozenset(name for config in layer.configs for name in config.kwargs)
        # Each config split once into its kernel parameters and its launch options.
        self._parts = {id(config): _split(config) for config in layer.configs}
        #: How configs are timed: the backend's hook, or the tuner's do_bench, warmup, rep, use_cuda_graph.
        self.timing = Timing.of(layer.tuner)
        self._said_kept = False

    def apply(
        self, config: triton.Config, params: dict[str, Any], options: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``params`` and ``options`` with ``config``'s values added."""
        parts = self._parts.get(id(config))
        if parts is None:  # a config made by early_config_prune
            parts = _split(config)
        return {**params, **parts[0]}, {**options, **parts[1]}

    def choose(
        self,
        params: dict[str, Any],
        options: dict[str, Any],
        run: Callable[[triton.Config], None],
        compile_ahead: Callable[[list[triton.Config]], None] | None = None,
    ) -> triton.Config:
        """The config to launch with; ``run(config)`` launches once with a config, for timing.

        ``compile_ahead(configs)``, where given, compiles those configs' binaries at once
        without launching; it is called before they are timed.
        """
        given = self._config_names.intersection(params)
        if given:
            raise KernelArgumentError(
                f"kernel {self.kernel_name}() was given {', '.join(sorted(given))}, which @triton.autotune "
                "chooses: leave them out of the launch."
            )
        configs = self.layer.configs
        if len(configs) == 1:
            return configs[0]
        key = self._key(params)
        config = self.cache.get(key)
        if config is None:
            with self._lock:
                config = self.cache.get(key)
                if config is None:
                    started = time.perf_counter()
                    try:
                        config = self._tune(params, options, run, compile_ahead)
                    finally:  # a failed choice took time too
                        stats.seconds += time.perf_counter() - started
                    stats.decisions += 1
                    self.cache[key] = config
        return config

    def _key(self, params: dict[str, Any]) -> tuple[Any, ...]:
        key = [params[name] for name in self.layer.key if name in params]
        key.extend(str(value.dtype) for value in params.values() if hasattr(value, "dtype"))
        return tuple(key)

    def _tune(
        self,
        params: dict[str, Any],
        options: dict[str, Any],
        run: Callable[[triton.Config], None],
        compile_ahead: Callable[[list[triton.Config]], None] | None,
    ) -> Any:
        refused: dict[triton.Config, str] = {}
        candidates = self._prune(params, options)
        name, backend = self.kernel_name, self.backend.name
        if len(candidates) == 1 and self.backend.info.times_kernels:
            # A GPU compiles it at the launch, failing as Triton fails.
            feedback.only(name, backend, candidates[0], len(self.layer.configs))
            return candidates[0]
        if not self.backend.info.times_kernels:
            # Untimed: the first config the front end accepts. A backend that compiles nothing
            # (the interpreter) would otherwise run a config a GPU could never compile.
            for config in candidates:
                reason = self.front_end_error(config, params, options) if self.front_end_error is not None else None
                if reason is None:
                    feedback.untimed(name, backend, config, len(refused))
                    return config
                refused[config] = reason
            raise self._none_runs(refused)
        self.timing.check(self.backend, name)
        group = agreement.process_group()
        if group is not None and not group.leads:
            # Another rank tunes; this one runs what it chose, so that every rank computes alike.
            index = group.receive_choice()
            if not 0 <= index < len(candidates):
                raise AutotuneError(
                    f"kernel {name}(): rank 0 of the process group found no autotune config that runs "
                    f"(it chose {index} of {len(candidates)}); its own error says why."
                )
            feedback.agreed(name, backend, candidates[index])
            return candidates[index]
        try:
            config = self._by_timing(params, options, run, candidates, refused, compile_ahead)
        except Exception:
            if group is not None:
                group.send_choice(agreement.NO_CHOICE)  # the other ranks raise too, rather than wait
            raise
        if group is not None:
            group.send_choice(candidates.index(config))
        return config

    def _by_timing(
        self,
        params: dict[str, Any],
        options: dict[str, Any],
        run: Callable[[triton.Config], None],
        candidates: list[triton.Config],
        refused: dict[triton.Config, str],
        compile_ahead: Callable[[list[triton.Config]], None] | None,
    ) -> triton.Config:
        """The persistent cache's choice, or the fastest of ``candidates``, remembered."""
        persistent = self._persistent_key(params)
        config = self._remembered(persistent, candidates)
        if config is None:
            started = time.perf_counter()
            if compile_ahead is not None:
                # Timing compiles each config at its first run, one after another; compiled
                # at once first, the timing runs find them built (compat/compile_ahead.py).
                compile_ahead(candidates)
            config = self._time(params, options, run, candidates, refused)
            self._remember(persistent, config)
            feedback.triton_summary(self.kernel_name, self._key(params), time.perf_counter() - started, config)
        return config

    def _time(
        self,
        params: dict[str, Any],
        options: dict[str, Any],
        run: Callable[[triton.Config], None],
        candidates: list[triton.Config],
        refused: dict[triton.Config, str],
    ) -> triton.Config:
        tuner = self.layer.tuner
        timings: dict[triton.Config, Measured] = {}
        with feedback.Progress(self.kernel_name, self.backend.name, len(candidates)) as progress:
            for config in candidates:
                full = {**params, **options, **config.all_kwargs()}

                def once(config: triton.Config = config, full: dict[str, Any] = full) -> None:
                    if config.pre_hook:
                        config.pre_hook(full)
                    tuner.pre_hook(full)
                    try:
                        run(config)
                    except BaseException as exc:
                        tuner.post_hook(full, exception=exc)
                        raise
                    tuner.post_hook(full, exception=None)

                progress.timing(config)
                try:
                    timings[config] = self.timing.measure(self.backend, once)
                    stats.benchmarked += 1
                except _CONFIG_FAILURES as exc:
                    refused[config] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                    progress.failed(config, refused[config])
                except AutotuneError:
                    raise  # a do_bench that returns no time: no config can be ranked
                except Exception:
                    # On a backend that compiles nothing, a config the front end refuses fails when
                    # it runs; asked only then, so a GPU's tuning pays nothing for the check.
                    reason = self.front_end_error(config, params, options) if self.front_end_error is not None else None
                    if reason is None:
                        raise
                    refused[config] = reason
                    progress.failed(config, reason)
                progress.step()
        if not timings:
            raise self._none_runs(refused)
        # Ranked as Triton's min() ranks do_bench's results: median first, then the other quantiles.
        best = min(timings, key=timings.__getitem__)
        # Leave reset_to_zero tensors as the real launch expects them.
        tuner.pre_hook({**params, **options, **best.all_kwargs()}, reset_only=True)
        feedback.timed(self.kernel_name, self.backend.name, best, timings, len(refused), self.timing.describe())
        return best

    # --- the persistent cache -----------------------------------------------------------------

    def _asks_to_persist(self) -> bool:
        """Whether the kernel asks Triton to keep its tuning on disk: ``cache_results=True`` or TRITON_CACHE_AUTOTUNING=1."""
        # Triton records cache_results or the knob as they were when the decorator ran (and drops
        # them under TRITON_INTERPRET=1); the knob is read again now, as it may be set later.
        return bool(getattr(self.layer.tuner, "cache_results", False)) or bool(knobs.autotuning.cache)

    def _persistent_key(self, params: dict[str, Any]) -> str | None:
        source = self.source() if self.source is not None else None
        if source is None or self._cache() is None:
            return None
        return tuning_cache.entry_key(
            [source, self.kernel_name, [repr(v) for v in self._key(params)], self.backend.name,
             _device_name(params), triton.__version__]
        )

    def _cache(self) -> tuning_cache.TuningCache | None:
        asked = self._asks_to_persist()
        cache = tuning_cache.current(asked=asked)
        if cache is not None and asked and not tuning_cache.enabled() and not self._said_kept:
            self._said_kept = True
            log.info(
                "autotuning %s: %s=0, but the kernel asks for cache_results (or %s=1): its tuning persists in %s",
                self.kernel_name, tuning_cache.CACHE_ENV, tuning_cache.TRITON_CACHE_ENV, cache.path,
            )
        return cache

    def _remembered(self, key: str | None, candidates: list[triton.Config]) -> triton.Config | None:
        cache = self._cache()
        if key is None or cache is None:
            return None
        entry = cache.lookup(key)
        if entry is None:
            stats.misses += 1
            return None
        for config in candidates:
            if _values(config) == entry.get("config"):
                stats.hits += 1
                feedback.cached(self.kernel_name, self.backend.name, config, cache.path)
                return config
        stats.misses += 1  # the kernel's configs changed since: the entry no longer applies
        return None

    def _remember(self, key: str | None, config: triton.Config) -> None:
        cache = self._cache()
        if key is not None and cache is not None:
            cache.store(key, {"kernel": self.kernel_name, "backend": self.backend.name, "config": _values(config)})

    def _none_runs(self, refused: dict[triton.Config, str]) -> AutotuneError:
        lines = "\n".join(f"  {describe_config(config)}: {reason}" for config, reason in refused.items())
        return AutotuneError(
            f"kernel {self.kernel_name}(): none of its {len(refused)} autotune configs can run on backend "
            f"{self.backend.name!r}:\n{lines}\nChange the configs (or the static_asserts they fail), or add one "
            "that fits these arguments."
        )

    def _prune(self, params: dict[str, Any], options: dict[str, Any]) -> list[triton.Config]:
        tuner = self.layer.tuner
        configs = list(self.layer.configs)
        prune = getattr(tuner, "early_config_prune", None)
        if prune:
            configs = list(prune(configs, params, **options))
            if not configs:
                raise KernelArgumentError(
                    f"early_config_prune of kernel {self.kernel_name}() left no config; it must keep at least one"
                )
        perf_model = getattr(tuner, "perf_model", None)
        if perf_model:
            top_k = tuner.configs_top_k
            # As Triton 3.9 has it: a fraction of the configs left after early_config_prune, at
            # least one. (Triton 3.6 took the fraction of all configs, and rounded 0.1 of 3 to none.)
            if isinstance(top_k, float) and 0.0 < top_k <= 1.0:
                top_k = max(1, int(len(configs) * top_k))
            elif isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise KernelArgumentError(
                    f"kernel {self.kernel_name}(): prune_configs_by's top_k is {top_k!r}; it must be a number of "
                    "configs (an int, 1 or more) or a fraction of them (a float above 0 and at most 1.0)"
                )
            if len(configs) > top_k:
                estimate = {c: perf_model(**params, **options, **c.all_kwargs()) for c in configs}
                configs = sorted(configs, key=estimate.__getitem__)[:top_k]
        return configs
