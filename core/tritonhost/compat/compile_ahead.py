"""Compiling several binaries of one kernel at once, before any of them launches.

Autotuning compiles every config it times, and Triton compiles them one after
another, at each config's first timing run. Triton's compiler spends most of its
time in MLIR passes and ptxas (or LLVM's AMDGPU backend), which do not hold the
GIL, so threads compile several at once: 8 matmul configs for sm_90 took 8.8 s
one by one and 3.4 s on 2 threads of a 2-core CPU.

Triton has the mechanism: under its ``AsyncCompileMode`` (private:
``triton.runtime._async_compile``), ``JITFunction.run(..., warmup=True)`` hands the
compile to an executor and returns at once; leaving the mode waits for every
compile and puts each binary in the kernel's cache, where the timing launch finds
it. Triton 3.6 and 3.9 do this the same way; a Triton without the module compiles
configs one by one, as before.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger("tritonhost.autotune")

try:
    from triton.runtime._async_compile import AsyncCompileMode, active_mode
except ImportError:  # pragma: no cover - an older Triton
    AsyncCompileMode = None  # type: ignore[assignment,misc]
    active_mode = None  # type: ignore[assignment]

#: Set to 0 to compile each config at its first timing run instead, as Triton does.
ENV_VAR = "TRITONHOST_COMPILE_AHEAD"


def available() -> bool:
    """Whether this Triton can compile ahead, and it is not turned off."""
    return AsyncCompileMode is not None and os.environ.get(ENV_VAR, "1").strip() != "0"


def threads_for(count: int) -> int:
    """How many compiles to run at once: one per CPU core, at most ``count``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(count, cores))


def compile_at_once(name: str, starts: Sequence[Callable[[], object]]) -> int:
    """Run each of ``starts`` (a ``JITFunction.run(..., warmup=True)`` each) under Triton's
    asynchronous compile mode, on a thread per core, and wait for every compile.

    A start or a compile that fails is left alone: the config's own launch compiles it
    again and raises, as it would have without this. Returns how many compiles were started.
    """
    if not available() or len(starts) < 2 or active_mode.get() is not None:
        # Inside another AsyncCompileMode (a caller's own), Triton refuses a second one.
        return 0
    threads = threads_for(len(starts))
    if threads < 2:
        return 0
    began = time.perf_counter()
    started = 0
    # The mode is left first, which waits for the compiles; then the pool shuts down.
    pool = ThreadPoolExecutor(threads, thread_name_prefix="tritonhost-compile")
    with pool, AsyncCompileMode(pool, ignore_errors=True):
        for start in starts:
            try:
                start()
                started += 1
            except Exception as error:  # noqa: BLE001 - the config's own launch raises it again
                logger.debug("%s: a config did not start compiling ahead: %s: %s", name, type(error).__name__, error)
    logger.debug("%s: compiled %d configs ahead on %d threads in %.2f s", name, started, threads,
                 time.perf_counter() - began)
    return started
