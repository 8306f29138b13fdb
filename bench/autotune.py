"""Cold and warm autotuning: tritonhost's persistent cache beside Triton's own Autotuner.

An autotuned matmul with 8 configs is launched once, in a fresh process, four ways:

- ``triton``: Triton's ``kernel[grid]`` (its Autotuner times every config, every process);
- ``triton cache_results``: the same kernel decorated with ``cache_results=True``;
- ``tritonhost``: ``tritonhost.wrap(kernel)[grid]`` (the persistent tuning cache on);
- ``tritonhost, cache off``: the same with ``TRITONHOST_AUTOTUNE_CACHE=0``.

Each way runs twice in a row, each time in a new process, sharing its own Triton
compile cache and tuning cache: the first run is cold (compiles and times every
config), the second warm (what a restarted job pays). Printed: the first launch's
wall time per run, and the ratios to Triton's in the same run; for tritonhost also the time
its autotuner spent choosing the config (``autotune_stats()["seconds"]``: the persistent
cache's lookup when warm, not loading the chosen binary), for the first launch and as the
mean over four sizes (four tuning keys, launched after the timed one), which the goal of at
most 1 ms per kernel, warm, is about. Triton's hash of the kernel source, which Triton's
first compile and tritonhost's cache key both need, is computed before the clock in every
way and printed on its own. Needs a GPU.

    python bench/autotune.py [--size 2048] [--chart autotune.png]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import triton
import triton.language as tl

CONFIGS = [
    triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=s)
    for m, n, k, w, s in [
        (128, 128, 32, 4, 3), (128, 64, 32, 4, 4), (64, 128, 32, 4, 4), (64, 64, 32, 2, 5),
        (128, 128, 64, 8, 3), (128, 256, 32, 8, 3), (256, 128, 32, 8, 3), (64, 64, 64, 4, 4),
    ]
]


@triton.jit
def _matmul(a_ptr, b_ptr, c_ptr, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m, pid_n = tl.program_id(0), tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :], mask=(rm[:, None] < M) & ((k + rk)[None, :] < K))
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :], mask=((k + rk)[:, None] < K) & (rn[None, :] < N))
        acc += tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc.to(tl.float16), mask=(rm[:, None] < M) & (rn[None, :] < N))


matmul = triton.autotune(configs=CONFIGS, key=["M", "N", "K"])(_matmul)
try:
    matmul_cached: Any = triton.autotune(configs=CONFIGS, key=["M", "N", "K"], cache_results=True)(_matmul)
except TypeError:  # a Triton without cache_results
    matmul_cached = None

WAYS = ["triton", "triton cache_results", "tritonhost", "tritonhost, cache off"]


def _child(way: str, size: int) -> None:
    """Launch once, the way named, and print the first launch's seconds as JSON.

    Then, for tritonhost, launch at three smaller sizes (new tuning keys, so three more
    decisions) and print the autotuner's own time: for the first decision, and the mean of all
    four. Triton's hash of the kernel's source, which both Triton's first compile and
    tritonhost's cache key need, is computed before the clock for every way and printed apart.
    """
    a = torch.randn(size, size, device="cuda", dtype=torch.float16)
    b = torch.randn(size, size, device="cuda", dtype=torch.float16)
    c = torch.empty(size, size, device="cuda", dtype=torch.float16)

    def grid(meta: Mapping[str, Any]) -> tuple[int, int]:
        return (triton.cdiv(size, meta["BLOCK_M"]), triton.cdiv(size, meta["BLOCK_N"]))

    if way.startswith("tritonhost"):
        import tritonhost  # imported and its backend selected before the clock starts, as Triton is

        tritonhost.current_backend()
    started = time.perf_counter()
    _matmul.cache_key  # noqa: B018 - computed once per process, then kept by Triton
    source_hash = time.perf_counter() - started
    torch.cuda.synchronize()
    start = time.perf_counter()
    if way.startswith("tritonhost"):
        tritonhost.wrap(matmul)[grid](a, b, c, size, size, size)
    else:
        kernel = matmul_cached if way == "triton cache_results" else matmul
        kernel[grid](a, b, c, size, size, size)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    torch.testing.assert_close(c.float(), (a.float() @ b.float()), rtol=2e-2, atol=1e-1)
    first = mean = None
    if way.startswith("tritonhost"):
        first = float(tritonhost.autotune_stats()["seconds"])
        for smaller in (size // 2, size // 4, size // 8):

            def smaller_grid(meta: Mapping[str, Any], n: int = smaller) -> tuple[int, int]:
                return (triton.cdiv(n, meta["BLOCK_M"]), triton.cdiv(n, meta["BLOCK_N"]))

            tritonhost.wrap(matmul)[smaller_grid](a, b, c, smaller, smaller, smaller)
        counts = tritonhost.autotune_stats()
        mean = float(counts["seconds"]) / max(int(counts["decisions"]), 1)
    torch.cuda.synchronize()
    print(json.dumps({"seconds": seconds, "first": first, "mean": mean, "hash": source_hash}))


def _run(way: str, size: int, caches: Path) -> dict[str, Any]:
    """The first launch's seconds, the source hash's, and (tritonhost) the autotuner's choosing."""
    env = dict(os.environ, TRITON_CACHE_DIR=str(caches / "triton"), TRITONHOST_CACHE_DIR=str(caches / "tritonhost"))
    if way == "tritonhost, cache off":
        env["TRITONHOST_AUTOTUNE_CACHE"] = "0"
    child = subprocess.run([sys.executable, __file__, "--child", way, "--size", str(size)], capture_output=True,
                           text=True, env=env, check=True)
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def _chart(results: dict[str, tuple[float, float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ways = list(results)
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for offset, (label, index) in enumerate([("cold", 0), ("warm", 1)]):
        axis.bar([i + offset * 0.38 for i in range(len(ways))], [results[w][index] * 1e3 for w in ways], 0.38,
                 label=label)
    axis.set_xticks([i + 0.19 for i in range(len(ways))], ways, fontsize=8)
    axis.set_ylabel("first launch, ms (log)")
    axis.set_yscale("log")
    axis.set_title(f"autotuned matmul, {len(CONFIGS)} configs: a fresh process, cold then warm")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--chart", default=None, help="write a bar chart (PNG) here")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.size)
        return
    if not torch.cuda.is_available():
        sys.exit("bench/autotune.py needs a GPU: Triton's own Autotuner, its anchor, times on one")
    results: dict[str, tuple[float, float]] = {}
    runs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for way in WAYS:
        if way == "triton cache_results" and matmul_cached is None:
            continue
        with tempfile.TemporaryDirectory() as caches:
            runs[way] = (_run(way, args.size, Path(caches)), _run(way, args.size, Path(caches)))
        results[way] = (runs[way][0]["seconds"], runs[way][1]["seconds"])
    print(f"torch {torch.__version__}, triton {triton.__version__}, {torch.cuda.get_device_name()}")
    print(f"autotuned fp16 matmul {args.size}^3, {len(CONFIGS)} configs; first launch of a fresh process")
    print(f"{'way':24} {'cold ms':>9} {'warm ms':>9} {'cold vs triton':>15} {'warm vs triton':>15} "
          f"{'choosing cold':>14} {'warm, 1st':>10} {'warm, mean':>11}")
    cold_anchor, warm_anchor = results["triton"]

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 1e3:.3f}"

    for way, (cold, warm) in results.items():
        cold_run, warm_run = runs[way]
        print(f"{way:24} {cold * 1e3:9.1f} {warm * 1e3:9.1f} {cold / cold_anchor:14.2f}x {warm / warm_anchor:14.2f}x "
              f"{ms(cold_run['first']):>14} {ms(warm_run['first']):>10} {ms(warm_run['mean']):>11}")
    hashes = [run["hash"] for pair in runs.values() for run in pair]
    print("choosing (ms): the autotuner's own time to pick a config, for the first launch and the mean over four "
          "sizes (four tuning keys); Triton's cannot be told apart from its launch (n/a)")
    print(f"Triton's source hash, computed before the clock for every way: {min(hashes) * 1e3:.3f} to "
          f"{max(hashes) * 1e3:.3f} ms per process")
    if args.chart:
        _chart(results, args.chart)
        print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()
