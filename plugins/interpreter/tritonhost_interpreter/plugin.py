"""The interpreter backend's hook implementations.

Runs every kernel on the CPU through Triton's interpreter, so kernels run and are
tested on machines without a GPU. CUDA tensors are copied to the host and back,
as Triton's interpreter does.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from triton.runtime.errors import InterpreterError

from tritonhost.plugin_api import (
    BackendInfo,
    BackendPlugin,
    GPUTarget,
    Grid3,
    OutOfBoundsError,
    Specialization,
    TMADescriptorSpec,
    UnsupportedFeatureError,
    make_ttir,
    parse_target,
    stable_descriptor,
)
from tritonhost_interpreter import batching, tape
from tritonhost_interpreter.executor import (
    add_bounds_hook,
    check_tensors,
    interpreted,
    interpreting,
    only_bounds_hook,
    replaying,
)
from tritonhost_interpreter.progress import Progress, warn_if_large

NAME = "interpreter"
#: Set to 1 to have the autotuner time configs on the CPU instead of taking the first.
BENCHMARK_ENV = "TRITONHOST_INTERPRETER_BENCHMARK"
_BENCHMARK_RUNS = 3
#: triton.testing.do_bench's budgets, for the one of warmup and rep an autotuner leaves out.
_DO_BENCH_WARMUP_MS, _DO_BENCH_REP_MS = 25, 100
#: The target whose TTIR the analysis reads: cuda:<capability> or hip:<arch>.
ANALYSIS_TARGET_ENV = "TRITONHOST_INTERPRETER_ANALYSIS_TARGET"
DEFAULT_ANALYSIS_TARGET = "cuda:90"
log = logging.getLogger("tritonhost.interpreter")


class InterpreterLauncher:
    """Launches one kernel through Triton's interpreter, its memory accesses bounds-checked.

    A launch runs its programs as batches (:mod:`tritonhost_interpreter.batching`) unless
    ``TRITONHOST_INTERPRETER_BATCH=0``; where batching would change what the kernel
    means, it runs them one by one, and remembers that for the kernel's specialization.
    """

    __slots__ = ("_constexprs", "_peaks", "_per_program", "_signature", "fn", "name", "tapes")

    def __init__(self, kernel: Any) -> None:
        self.fn = interpreted(kernel)
        self.name = self.fn.fn.__name__
        add_bounds_hook(self.fn)
        self._constexprs = batching.constexpr_names(self.fn)
        #: Why a specialization runs program by program, by specialization key.
        self._per_program: dict[tuple[Any, ...], str] = {}
        #: The largest per-program block of the last batched launch, by specialization key (block
        #: shapes are constexpr, so the key decides them): it sizes the next launch's first chunk.
        self._peaks: dict[tuple[Any, ...], int] = {}
        #: Each specialization's recorded operations, replayed by later chunks and launches.
        self.tapes = tape.Tapes()
        self._signature: batching.Signature | None = None

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        # Launch options (num_warps...) mean nothing to the interpreter.
        check_tensors(params, NAME)
        if grid[0] * grid[1] * grid[2] == 0 and self._converts_without_programs(params):
            return
        batched = batching.enabled()
        warn_if_large(self.name, grid, batched=batched)
        if batched and self._replayed(grid, params):
            return
        with interpreting(self.fn.fn, self.name, grid) as shown:
            try:
                if batched and self._run_batched(grid, params, shown):
                    return
                self.fn.run(grid=grid, warmup=False, **params)
            except InterpreterError as error:
                # Triton wraps the kernel's exceptions in its own; ours says more.
                if isinstance(error.__cause__, OutOfBoundsError):
                    raise error.__cause__.with_traceback(None) from None
                raise

    def _converts_without_programs(self, params: dict[str, Any]) -> bool:
        """For a grid without programs: whether the launch is done once its arguments are converted.

        No program runs, as on a GPU. There Triton still converts and specializes the
        arguments, so a bad one (an int past 64 bits, a complex tensor) raises here as it would
        there. Without this, the launch would also patch Triton's language, about half a
        millisecond, for a grid that records no tape to replay. A user's pre-run hook, or an
        argument the conversion leaves to the interpreter (a tuple, a GPU tensor, a missing
        one), takes the usual path, which runs the hook or names the problem.
        """
        if not only_bounds_hook(self.fn):
            return False
        if self._signature is None:
            self._signature = batching.Signature(self.fn)
        return self._signature.bind(params) is not None

    def _replayed(self, grid: Grid3, params: dict[str, Any]) -> bool:
        """Whether the launch ran by replaying its tape alone (:func:`batching.replay`); if not, nothing it wrote is left."""
        if not only_bounds_hook(self.fn):
            return False
        key = batching.specialization_key(self._constexprs, params)
        if key in self._per_program:
            return False
        if self._signature is None:
            self._signature = batching.Signature(self.fn)
        with replaying(self.name, grid) as shown:
            peak = batching.replay(self.fn, grid, params, self.name, shown, self._peaks.get(key), key, self.tapes,
                                   self._signature)
        if peak is None:
            return False
        self._peaks[key] = peak
        return True

    def _run_batched(self, grid: Grid3, params: dict[str, Any], shown: Progress | None) -> bool:
        """Whether the launch ran as batches; if not, nothing it wrote is left."""
        key = batching.specialization_key(self._constexprs, params)
        remembered = self._per_program.get(key)
        if remembered is not None:
            log.debug("kernel %s runs program by program (as before for this specialization): %s", self.name,
                      remembered)
            return False
        try:
            self._peaks[key] = batching.run(self.fn, grid, params, self.name, shown, self._peaks.get(key), key,
                                           self.tapes)
        except batching.Fallback as fallback:
            log.debug("kernel %s, grid %s, runs program by program: %s", self.name, tuple(grid), fallback.reason)
            if fallback.remember:
                self._per_program[key] = fallback.reason
            if shown is not None:
                shown.restart()
            return False
        return True


class InterpreterBackend(BackendPlugin):
    """Kernels on the CPU, through Triton's interpreter."""

    name = NAME

    def describe(self) -> BackendInfo:
        devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
        return BackendInfo(
            name=NAME,
            device_types=devices,
            usable=True,
            times_kernels=os.environ.get(BENCHMARK_ENV, "") == "1",
        )

    def make_launcher(self, kernel: Any) -> InterpreterLauncher:
        return InterpreterLauncher(kernel)

    def benchmark(self, fn: Callable[[], object], warmup: int | None = None, rep: int | None = None) -> float:
        """``fn``'s median time in ms over three runs; or, given ``warmup``/``rep`` (ms), as many runs as fit in each.

        The budgets are counted as ``triton.testing.do_bench`` counts them, from one run's time:
        ``int(budget / run)`` runs, at least one timed.
        """
        def _timed(fn: Callable[[], object]) -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        fn()  # the first run rewrites the kernel's source for the interpreter
        times = [_timed(fn)]
        if warmup is None and rep is None:
            runs = _BENCHMARK_RUNS
        else:
            estimate_ms = max(times[0] * 1e3, 1e-6)
            # The one not given takes triton.testing.do_bench's default, as Triton's Autotuner gives it.
            for _ in range(int((warmup if warmup is not None else _DO_BENCH_WARMUP_MS) / estimate_ms)):
                fn()
            runs = max(1, int((rep if rep is not None else _DO_BENCH_REP_MS) / estimate_ms))
        while len(times) < runs:
            times.append(_timed(fn))
        return statistics.median(times) * 1e3

    def make_tma_descriptor(self, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object:
        if spec.api != "stable":
            raise UnsupportedFeatureError(
                "the interpreter backend runs only stable TMA descriptors "
                "(triton.tools.tensor_descriptor.TensorDescriptor); ask for api='stable'"
            )
        return stable_descriptor(tensor, spec)

    def analysis_target(self) -> GPUTarget:
        return parse_target(os.environ.get(ANALYSIS_TARGET_ENV) or DEFAULT_ANALYSIS_TARGET)

    def generate_ttir(self, kernel: Any, specialization: Specialization, target: GPUTarget) -> str | None:
        # The interpreter compiles nothing; it reads the TTIR Triton's front end makes for
        # a GPU target, which needs no GPU.
        if target.backend not in ("cuda", "hip"):
            return None
        return make_ttir(kernel, specialization, target)


#: The plugin object the entry point names.
backend = InterpreterBackend()
