"""The example backend: runs kernels on the CPU through Triton's interpreter, and keeps a launch log.

It stands for a vendor's package: nothing in tritonhost's core names it, its
entry point is all the host needs, and it imports from tritonhost only the
plugin surface, ``tritonhost.plugin_api``. It is written as a module of hook
functions, the contract at its plainest; the bundled backends are
``BackendPlugin`` objects instead, which say the per-backend check once. It implements the hooks a backend needs to
launch kernels and to time autotune configs, and declares one launch option of
its own (``example_tag``) to show how vendor-specific options pass through.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import triton
from triton.runtime.interpreter import InterpretedFunction

from tritonhost.plugin_api import BackendInfo, Grid3, hookimpl

NAME = "example"
#: Set to 0 to have the backend report itself unusable, as a vendor's would without its device.
DEVICE_ENV = "TRITONHOST_EXAMPLE_DEVICE_PRESENT"

#: (kernel name, grid, example_tag) of every launch, newest last.
LAUNCHES: list[tuple[str, Grid3, Any]] = []


class ExampleLauncher:
    def __init__(self, kernel: Any) -> None:
        # Triton's interpreter runs a kernel whose helpers are interpreted too; this
        # example keeps to kernels without @triton.jit helpers.
        self.name = kernel.fn.__name__
        self.fn = InterpretedFunction(kernel.fn)

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        LAUNCHES.append((self.name, grid, options.get("example_tag")))
        with triton.knobs.runtime.scope():
            triton.knobs.runtime.interpret = True
            self.fn.run(grid=grid, warmup=False, **params)


@hookimpl
def tritonhost_describe_backend() -> BackendInfo:
    present = os.environ.get(DEVICE_ENV, "1") != "0"
    return BackendInfo(
        name=NAME,
        device_types=("cpu",),
        usable=present,
        reason="" if present else f"no example device is attached ({DEVICE_ENV}=0).",
        launch_options=frozenset({"example_tag"}),
    )


@hookimpl
def tritonhost_make_launcher(backend: str, kernel: Any) -> ExampleLauncher | None:
    if backend != NAME:
        return None
    return ExampleLauncher(kernel)


@hookimpl
def tritonhost_benchmark(backend: str, fn: Callable[[], object]) -> float | None:
    if backend != NAME:
        return None
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3
