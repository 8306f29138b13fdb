"""Time to first result of a chain of small kernels, in fresh processes, and where it goes.

A chain of 20 launches of one small kernel (bench/compile_overhead.py's) runs once in a
new process with empty Triton and tritonhost caches, each of these ways:

- ``tritonhost eager``: ``tritonhost.wrap(kernel)[grid](...)``, called;
- ``tritonhost compiled``: that loop under ``torch.compile(backend="tritonhost")``;
- on a GPU, the anchors: Triton's own ``kernel[grid](...)`` loop, eagerly;
  ``torch.compile`` with Inductor; ``torch.library.wrap_triton`` under
  ``torch.compile(backend="aot_eager")``.

Printed per way: seconds from the first line of the process to the imports done, and
from there to the first result (synchronized). For the tritonhost ways a second,
profiled run of the same process says where the first call's time goes: Dynamo,
AOTAutograd, tritonhost's analysis and its lowering and wrapper generation, Triton's
compilation, and the first launches. Each part is the profiler's cumulative time of the
functions that do it (parts nest: AOTAutograd runs inside Dynamo's call of the backend,
the analysis inside AOTAutograd's tracing), scaled by the unprofiled run's wall time
over the profiled one's, since profiling slows Python down.

    python bench/first_result.py [--kernels 20]            # on a GPU: all ways, cuda backend
    TRITONHOST_BACKEND=interpreter python bench/first_result.py   # a CPU: tritonhost's ways
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()  # before any import: imports are part of a first result

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WAYS = ["tritonhost eager", "tritonhost compiled", "triton eager", "inductor", "wrap_triton + aot_eager"]
GPU_ONLY = {"triton eager", "inductor", "wrap_triton + aot_eager"}

#: The parts of a first compiled call: (label, file suffix, function name). Each is the
#: profiler's cumulative time of that function, summed over its calls.
PARTS = [
    ("Dynamo, whole (tracing and the backend it calls)", "torch/_dynamo/convert_frame.py", "_compile"),
    ("  AOTAutograd (tracing, partitioning, compiling forward)", "torch/_functorch/aot_autograd.py",
     "aot_module_simplified"),
    ("    tritonhost analysis of kernels (TTIR, dataflow)", "tritonhost/analysis/analyzer.py", "analyze_call"),
    ("    tritonhost lowering, memory plan, wrapper code", "tritonhost/codegen/backend.py", "compile_graph"),
    ("Triton compilation (wherever it runs)", "triton/compiler/compiler.py", "compile"),
]


def _chain(kernels: int, way: str) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    import triton
    from compile_overhead import BLOCK, add_kernel, chain_of

    if way.startswith("tritonhost"):
        import tritonhost

        chain = chain_of(tritonhost.wrap(add_kernel), kernels)
        return torch.compile(chain, backend="tritonhost", fullgraph=True) if way.endswith("compiled") else chain
    if way == "triton eager":
        return chain_of(add_kernel, kernels)
    if way == "inductor":
        return torch.compile(chain_of(add_kernel, kernels), backend="inductor", fullgraph=True)
    from torch.library import wrap_triton

    kernel = wrap_triton(add_kernel)

    def wrapped_chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n = x.numel()
        for _ in range(kernels):
            out = torch.empty_like(x)
            kernel[(triton.cdiv(n, BLOCK),)](x, y, out, n, BLOCK=BLOCK)
            x = out
        return x

    return torch.compile(wrapped_chain, backend="aot_eager", fullgraph=True)


def _child(way: str, kernels: int, profiled: bool) -> None:
    """Run one way once and print the seconds (and, profiled, the parts) as JSON."""
    import torch

    if way.startswith("tritonhost"):
        import tritonhost

        tritonhost.current_backend()
    imported = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x, y = torch.randn(1024, device=device), torch.randn(1024, device=device)
    profile = cProfile.Profile() if profiled else None
    start = time.perf_counter()
    if profile is not None:
        profile.enable()
    fn = _chain(kernels, way)
    result = fn(x, y)
    if device == "cuda":
        torch.cuda.synchronize()
    if profile is not None:
        profile.disable()
    done = time.perf_counter()
    torch.testing.assert_close(result, x + kernels * y, rtol=1e-5, atol=1e-5)
    parts: dict[str, float] = {}
    if profile is not None:
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        for label, suffix, name in PARTS:
            parts[label] = sum(entry[3] for (file, _, function), entry in stats.items()
                               if function == name and file.replace(os.sep, "/").endswith(suffix))
    print(json.dumps({"imports": imported - _STARTED, "first": done - start, "parts": parts}))


def _run(way: str, kernels: int, profiled: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as caches:
        env = dict(os.environ, TRITON_CACHE_DIR=str(Path(caches) / "triton"),
                   TRITONHOST_CACHE_DIR=str(Path(caches) / "tritonhost"),
                   TORCHINDUCTOR_CACHE_DIR=str(Path(caches) / "inductor"))
        command = [sys.executable, __file__, "--child", way, "--kernels", str(kernels)]
        if profiled:
            command.append("--profiled")
        child = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if child.returncode != 0:
        return {"error": (child.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=20)
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--profiled", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.kernels, args.profiled)
        return
    import torch
    import triton

    gpu = torch.cuda.is_available()
    machine = torch.cuda.get_device_name() if gpu else f"CPU ({os.cpu_count()} cores)"
    print(f"torch {torch.__version__}, triton {triton.__version__}, {machine}, "
          f"TRITONHOST_BACKEND={os.environ.get('TRITONHOST_BACKEND', 'auto')}")
    print(f"chain of {args.kernels} kernels; each way in a fresh process with empty caches")
    print(f"{'way':26} {'imports s':>10} {'first result s':>15}")
    results: dict[str, dict[str, Any]] = {}
    for way in WAYS:
        if way in GPU_ONLY and not gpu:
            print(f"{way:26} {'not runnable: needs a GPU (Triton has no CPU driver)':>26}")
            continue
        results[way] = result = _run(way, args.kernels, profiled=False)
        if "error" in result:
            print(f"{way:26} error: {result['error']}")
            continue
        print(f"{way:26} {result['imports']:10.2f} {result['first']:15.2f}")
    for way in ("tritonhost eager", "tritonhost compiled"):
        plain = results.get(way, {})
        if "first" not in plain:
            continue
        profiled = _run(way, args.kernels, profiled=True)
        if "error" in profiled:
            print(f"\n{way}, profiled: error: {profiled['error']}")
            continue
        scale = plain["first"] / profiled["first"]
        print(f"\nwhere {way}'s first call goes ({plain['first']:.2f} s; profiler's shares scaled by {scale:.2f}):")
        for label, seconds in profiled["parts"].items():
            if seconds:
                print(f"  {label:58} {seconds * scale:7.2f} s")


if __name__ == "__main__":
    main()
