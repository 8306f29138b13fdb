"""The interpreter backend's hook implementations.

Runs every kernel on the CPU through Triton's interpreter, so kernels run and are
tested on machines without a GPU. CUDA tensors are copied to the host and back,
as Triton's interpreter does.
"""

from __future__ import annotations

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
from tritonhost_interpreter.executor import add_bounds_hook, check_tensors, interpreted, interpreting
from tritonhost_interpreter.progress import warn_if_large

NAME = "interpreter"
#: Set to 1 to have the autotuner time configs on the CPU instead of taking the first.
BENCHMARK_ENV = "TRITONHOST_INTERPRETER_BENCHMARK"
_BENCHMARK_RUNS = 3
#: The target whose TTIR the analysis reads: cuda:<capability> or hip:<arch>.
ANALYSIS_TARGET_ENV = "TRITONHOST_INTERPRETER_ANALYSIS_TARGET"
DEFAULT_ANALYSIS_TARGET = "cuda:90"


class InterpreterLauncher:
    """Launches one kernel through Triton's interpreter, its memory accesses bounds-checked."""

    __slots__ = ("fn", "name")

    def __init__(self, kernel: Any) -> None:
        self.fn = interpreted(kernel)
        self.name = self.fn.fn.__name__
        add_bounds_hook(self.fn)

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        # Launch options (num_warps...) mean nothing to the interpreter.
        check_tensors(params, NAME)
        warn_if_large(self.name, grid)
        with interpreting(self.fn.fn, self.name, grid):
            try:
                self.fn.run(grid=grid, warmup=False, **params)
            except InterpreterError as error:
                # Triton wraps the kernel's exceptions in its own; ours says more.
                if isinstance(error.__cause__, OutOfBoundsError):
                    raise error.__cause__.with_traceback(None) from None
                raise


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

    def benchmark(self, fn: Callable[[], object]) -> float:
        fn()  # the first run rewrites the kernel's source for the interpreter
        times = []
        for _ in range(_BENCHMARK_RUNS):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
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
