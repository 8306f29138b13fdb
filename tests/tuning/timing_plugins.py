"""Backends that record how the autotuner asks them to time, for tests/tuning/test_options.py's entry points.

Each runs kernels for real on the CPU (through Triton's interpreter, as the bundled
interpreter backend does) and returns rigged times, so the config chosen is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tritonhost.plugin_api import BackendInfo, BackendPlugin, hookimpl

#: (backend, warmup, rep) per benchmark asked of these backends; warmup and rep are None
#: for the backends written before the hook had them.
ASKED: list[tuple[str, Any, Any]] = []


def _launcher(kernel: Any) -> Any:
    from tritonhost_interpreter.plugin import InterpreterLauncher

    return InterpreterLauncher(kernel)


class Stopwatch(BackendPlugin):
    """Takes the timing budgets: a backend written against today's hook."""

    name = "stopwatch"

    def describe(self) -> BackendInfo:
        return BackendInfo(name=self.name, device_types=("cpu",), usable=True)

    def make_launcher(self, kernel: Any) -> Any:
        return _launcher(kernel)

    def benchmark(self, fn: Callable[[], object], warmup: int | None = None, rep: int | None = None) -> float:
        fn()
        ASKED.append((self.name, warmup, rep))
        return float(len(ASKED))  # later configs time slower: the first one wins


class OldStopwatch(Stopwatch):
    """A plugin object written before the benchmark hook had warmup and rep."""

    name = "oldstopwatch"

    def benchmark(self, fn: Callable[[], object]) -> float:  # type: ignore[override]
        fn()
        ASKED.append((self.name, None, None))
        return float(len(ASKED))


class OldHooks:
    """A plugin of plain hook functions, written before the benchmark hook had warmup and rep."""

    name = "oldhooks"

    @hookimpl
    def tritonhost_describe_backend(self) -> BackendInfo:
        return BackendInfo(name=self.name, device_types=("cpu",), usable=True)

    @hookimpl
    def tritonhost_make_launcher(self, backend: str, kernel: Any) -> Any:
        return _launcher(kernel) if backend == self.name else None

    @hookimpl
    def tritonhost_benchmark(self, backend: str, fn: Callable[[], object]) -> float | None:
        if backend != self.name:
            return None
        fn()
        ASKED.append((self.name, None, None))
        return float(len(ASKED))


stopwatch = Stopwatch()
old_stopwatch = OldStopwatch()
old_hooks = OldHooks()


#: Per compile_ahead asked of the ahead-of-time backend: the configs' (params, options), and
#: how many benchmarks had been asked of it by then.
COMPILED_AHEAD: list[tuple[list[tuple[dict[str, Any], dict[str, Any]]], int]] = []


class AheadOfTime(Stopwatch):
    """A backend whose launcher compiles ahead: it records what the host asks it to compile
    (it has nothing to compile: kernels run on Triton's interpreter)."""

    name = "aheadoftime"

    def make_launcher(self, kernel: Any) -> Any:
        from tritonhost_interpreter.plugin import InterpreterLauncher

        class Launcher(InterpreterLauncher):
            def compile_ahead(self, calls: Any) -> None:
                COMPILED_AHEAD.append(([(dict(params), dict(options)) for params, options in calls], len(ASKED)))

        return Launcher(kernel)


ahead_of_time = AheadOfTime()
