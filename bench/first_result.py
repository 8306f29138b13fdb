"""Time to first result of a chain of small kernels, in fresh processes, and where it goes.

A chain of 20 launches of one small kernel (bench/launch.py's) runs once in a
new process with empty Triton and tritonhost caches, each of these ways:

- ``tritonhost eager``: ``tritonhost.wrap(kernel)[grid](...)``, called;
- ``tritonhost compiled``: that loop under ``torch.compile(backend="tritonhost")``;
- on a GPU, the anchors: Triton's own ``kernel[grid](...)`` loop, eagerly;
  ``torch.compile`` with Inductor; ``torch.library.wrap_triton`` under
  ``torch.compile(backend="aot_eager")``.

Printed per way: seconds from the first line of the process to the imports done, and
from there to the first result (synchronized); then, for the compiled ways, where the
first call's time went, by wall clock: Dynamo's own phase timers (``dynamo_timed``:
tracing the bytecode, calling the backend, AOTAutograd within it, building guards),
tritonhost's analysis and its lowering and wrapper generation (timed around their
functions), and Triton's compilation or cache load (timed around ``JITFunction._do_compile``). Parts nest as
listed. A profiler is not used: it slows Python-heavy parts (Dynamo) far more than the
rest, and its shares mislead. With ``--warm``, each way is measured in a second process on
the caches (Triton's, Inductor's, tritonhost's analyses and tuning) that a first one filled.

    python bench/first_result.py [--kernels 20] [--warm]   # on a GPU: all ways, cuda backend
    TRITONHOST_BACKEND=interpreter python bench/first_result.py   # a CPU: tritonhost's ways
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()  # before any import: imports are part of a first result

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WAYS = ["tritonhost eager", "tritonhost compiled", "triton eager", "inductor", "wrap_triton + aot_eager"]
GPU_ONLY = {"triton eager", "inductor", "wrap_triton + aot_eager"}

#: The parts of a first compiled call, in nesting order: (label, where its time comes from).
#: ``dynamo:KEY`` is one of Dynamo's phase timers (torch._dynamo.utils.compilation_time_metrics,
#: a private table that PyTorch 2.11 and 2.13 both keep); ``MODULE:QUALNAME`` a function the
#: child times around (where callers look it up: tritonhost.tracing.hops imported analyze_call).
PARTS = [
    ("Dynamo, whole", "dynamo:_compile.compile_inner"),
    ("  tracing the bytecode (the launches' Python included)", "dynamo:bytecode_tracing"),
    ("  the backend", "dynamo:OutputGraph.call_user_compiler"),
    ("    AOTAutograd", "dynamo:create_aot_dispatcher_function"),
    ("      tritonhost analysis of kernels (TTIR, dataflow)", "tritonhost.tracing.hops:analyze_call"),
    ("    tritonhost lowering, memory plan, wrapper code", "tritonhost.codegen.backend:_compile"),
    ("  building guards", "dynamo:build_guards"),
    ("Triton compiling, or loading from its cache", "triton.runtime.jit:JITFunction._do_compile"),
]


def _time_around(totals: dict[str, float]) -> None:
    """Wrap each timed function of :data:`PARTS` so that its calls add their wall time to ``totals``."""
    import functools
    import importlib

    for label, where in PARTS:
        module_name, _, qualname = where.partition(":")
        if module_name == "dynamo":
            continue
        owner: Any = importlib.import_module(module_name)
        *path, attribute = qualname.split(".")
        for name in path:
            owner = getattr(owner, name)
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: Any, __original: Any = original, __label: str = label, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                totals[__label] = totals.get(__label, 0.0) + time.perf_counter() - started

        setattr(owner, attribute, timed)


def _chain(kernels: int, way: str) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    from launch import add_kernel, chain_of

    if way.startswith("tritonhost"):
        import tritonhost

        chain = chain_of(tritonhost.wrap(add_kernel), kernels)
        return torch.compile(chain, backend="tritonhost", fullgraph=True) if way.endswith("compiled") else chain
    if way == "triton eager":
        return chain_of(add_kernel, kernels)
    if way == "inductor":
        return torch.compile(chain_of(add_kernel, kernels), backend="inductor", fullgraph=True)
    import triton
    from launch import BLOCK
    from torch.library import wrap_triton

    def wrap_triton_chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # wrap_triton called inside the compiled function, as PyTorch's docs write it: Dynamo
        # models it there; a wrapper made outside is an object whose call takes a lock, which
        # Dynamo cannot trace (a graph break, an error under fullgraph=True).
        n = x.numel()
        for _ in range(kernels):
            out = torch.empty_like(x)
            wrap_triton(add_kernel)[(triton.cdiv(n, BLOCK),)](x, y, out, n, BLOCK=BLOCK)
            x = out
        return x

    return torch.compile(wrap_triton_chain, backend="aot_eager", fullgraph=True)


def _child(way: str, kernels: int) -> None:
    """Run one way once and print the seconds, and where the first call went, as JSON."""
    import torch

    if way.startswith("tritonhost"):
        import tritonhost

        tritonhost.current_backend()
    imported = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x, y = torch.randn(1024, device=device), torch.randn(1024, device=device)
    totals: dict[str, float] = {}
    _time_around(totals)
    start = time.perf_counter()
    fn = _chain(kernels, way)
    result = fn(x, y)
    if device == "cuda":
        torch.cuda.synchronize()
    done = time.perf_counter()
    torch.testing.assert_close(result, x + kernels * y, rtol=1e-5, atol=1e-5)
    from torch._dynamo.utils import compilation_time_metrics

    parts = {label: sum(compilation_time_metrics.get(where.removeprefix("dynamo:"), [])) if where.startswith("dynamo:")
             else totals.get(label, 0.0) for label, where in PARTS}
    print(json.dumps({"imports": imported - _STARTED, "first": done - start, "parts": parts}))


def _run(way: str, kernels: int, warm: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as caches:
        env = dict(os.environ, TRITON_CACHE_DIR=str(Path(caches) / "triton"),
                   TRITONHOST_CACHE_DIR=str(Path(caches) / "tritonhost"),
                   TORCHINDUCTOR_CACHE_DIR=str(Path(caches) / "inductor"))
        command = [sys.executable, __file__, "--child", way, "--kernels", str(kernels)]
        for _ in range(2 if warm else 1):  # warm: the first run fills the caches the measured one reads
            child = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if child.returncode != 0:
        return {"error": (child.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=20)
    parser.add_argument("--warm", action="store_true",
                        help="measure each way's second process on the caches its first one filled")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.kernels)
        return
    import torch
    import triton

    gpu = torch.cuda.is_available()
    machine = torch.cuda.get_device_name() if gpu else f"CPU ({os.cpu_count()} cores)"
    print(f"torch {torch.__version__}, triton {triton.__version__}, {machine}, "
          f"TRITONHOST_BACKEND={os.environ.get('TRITONHOST_BACKEND', 'auto')}")
    caches = "the caches a first process of the same way filled" if args.warm else "empty caches"
    print(f"chain of {args.kernels} kernels; each way in a fresh process with {caches}")
    print(f"{'way':26} {'imports s':>10} {'first result s':>15}")
    results: dict[str, dict[str, Any]] = {}
    for way in WAYS:
        if way in GPU_ONLY and not gpu:
            print(f"{way:26} {'not runnable: needs a GPU (Triton has no CPU driver)':>26}")
            continue
        results[way] = result = _run(way, args.kernels, args.warm)
        if "error" in result:
            print(f"{way:26} error: {result['error']}")
            continue
        print(f"{way:26} {result['imports']:10.2f} {result['first']:15.2f}")
    for way, result in results.items():
        parts = {label: seconds for label, seconds in result.get("parts", {}).items() if seconds}
        if not parts:
            continue
        print(f"\nwhere {way}'s first call went ({result['first']:.2f} s), wall clock:")
        for label, seconds in parts.items():
            print(f"  {label:58} {seconds:7.2f} s")
        outside = result["first"] - parts.get(PARTS[0][0], 0.0)
        if parts.get(PARTS[0][0]):
            print(f"  {'outside Dynamo (its imports on first use, the first run)':58} {outside:7.2f} s")


if __name__ == "__main__":
    main()
