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
from triton.backends.compiler import GPUTarget

from tritonhost import BackendInfo, TMADescriptorSpec, UnsupportedFeatureError, hookimpl
from tritonhost.analysis.specialization import Specialization
from tritonhost.compat.descriptors import stable_descriptor
from tritonhost.compat.frontend import make_ttir, parse_target
from tritonhost.runtime.grid import Grid3
from tritonhost_interpreter.executor import check_tensors, interpreted, interpreting

NAME = "interpreter"
#: Set to 1 to have the autotuner time configs on the CPU instead of taking the first.
BENCHMARK_ENV = "TRITONHOST_INTERPRETER_BENCHMARK"
_BENCHMARK_RUNS = 3
#: The target whose TTIR the analysis reads: cuda:<capability> or hip:<arch>.
ANALYSIS_TARGET_ENV = "TRITONHOST_INTERPRETER_ANALYSIS_TARGET"
DEFAULT_ANALYSIS_TARGET = "cuda:90"


class InterpreterLauncher:
    """Launches one kernel through Triton's interpreter."""

    __slots__ = ("fn",)

    def __init__(self, kernel: Any) -> None:
        self.fn = interpreted(kernel)

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        # Launch options (num_warps...) mean nothing to the interpreter.
        check_tensors(params, NAME)
        with interpreting(self.fn.fn):
            self.fn.run(grid=grid, warmup=False, **params)


@hookimpl
def tritonhost_describe_backend() -> BackendInfo:
    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    return BackendInfo(
        name=NAME,
        device_types=devices,
        usable=True,
        times_kernels=os.environ.get(BENCHMARK_ENV, "") == "1",
    )


@hookimpl
def tritonhost_make_launcher(backend: str, kernel: Any) -> InterpreterLauncher | None:
    if backend != NAME:
        return None
    return InterpreterLauncher(kernel)


@hookimpl
def tritonhost_benchmark(backend: str, fn: Callable[[], object]) -> float | None:
    if backend != NAME:
        return None
    fn()  # the first run rewrites the kernel's source for the interpreter
    times = []
    for _ in range(_BENCHMARK_RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


@hookimpl
def tritonhost_make_tma_descriptor(backend: str, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object | None:
    if backend != NAME:
        return None
    if spec.api != "stable":
        raise UnsupportedFeatureError(
            "the interpreter backend runs only stable TMA descriptors "
            "(triton.tools.tensor_descriptor.TensorDescriptor); ask for api='stable'"
        )
    return stable_descriptor(tensor, spec)


@hookimpl
def tritonhost_analysis_target(backend: str) -> GPUTarget | None:
    if backend != NAME:
        return None
    return parse_target(os.environ.get(ANALYSIS_TARGET_ENV) or DEFAULT_ANALYSIS_TARGET)


@hookimpl
def tritonhost_generate_ttir(
    backend: str, kernel: Any, specialization: Specialization, target: GPUTarget
) -> str | None:
    # The interpreter compiles nothing; it reads the TTIR Triton's front end makes for
    # a GPU target, which needs no GPU.
    if backend != NAME or target.backend not in ("cuda", "hip"):
        return None
    return make_ttir(kernel, specialization, target)
