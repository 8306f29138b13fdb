"""Host time per eager launch: tritonhost.wrap(kernel)[grid](...) beside Triton's kernel[grid](...).

Runs on the selected backend's device (an NVIDIA GPU for meaningful figures).
Anchors measured in the same run: Triton's own launch and, where PyTorch has
it, ``torch.library.wrap_triton``'s eager path. Prints microseconds per launch
and the ratio to Triton's own launch.

    python bench/launch_overhead.py [--launches 2000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import triton
import triton.language as tl

import tritonhost


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) + tl.load(y_ptr + offsets, mask=mask), mask=mask)


@triton.autotune(configs=[triton.Config({"BLOCK": 128}), triton.Config({"BLOCK": 256})], key=["n_elements"])
@triton.jit
def tuned_add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) + tl.load(y_ptr + offsets, mask=mask), mask=mask)


def per_launch_us(
    paths: dict[str, Callable[[], None]], launches: int, repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """Median microseconds per launch of each path, measured round-robin so drift hits all alike."""
    for launch in paths.values():
        for _ in range(20):
            launch()
    sync()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, launch in paths.items():
            start = time.perf_counter()
            for _ in range(launches):
                launch()
            sync()
            samples[name].append((time.perf_counter() - start) / launches * 1e6)
    return {name: statistics.median(times) for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    backend = tritonhost.select()
    device = backend.device
    if backend.name == "interpreter":
        args.launches = min(args.launches, 50)
    n = 4096
    x, y = torch.randn(n, device=device), torch.randn(n, device=device)
    out = torch.empty_like(x)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    grid = (triton.cdiv(n, 256),)
    lambda_grid = lambda meta: (triton.cdiv(n, meta["BLOCK"]),)

    paths: dict[str, Callable[[], None]] = {}

    def measure(name: str, launch: Callable[[], None]) -> None:
        paths[name] = launch

    if device == "cuda":
        measure("triton kernel[grid]", lambda: add_kernel[grid](x, y, out, n, BLOCK=256))
    measure("tritonhost wrap[grid]", lambda: tritonhost.wrap(add_kernel)[grid](x, y, out, n, BLOCK=256))
    wrapped = tritonhost.wrap(add_kernel)
    measure("tritonhost wrapped[grid] (hoisted)", lambda: wrapped[grid](x, y, out, n, BLOCK=256))
    measure("tritonhost wrap, lambda grid", lambda: wrapped[lambda_grid](x, y, out, n, BLOCK=256))
    if device == "cuda":
        measure("triton autotuned kernel[grid]", lambda: tuned_add_kernel[lambda_grid](x, y, out, n))
    measure("tritonhost autotuned", lambda: tritonhost.wrap(tuned_add_kernel)[lambda_grid](x, y, out, n))
    wrap_triton = getattr(torch.library, "wrap_triton", None)
    if wrap_triton is not None and device == "cuda":
        measure("torch.library.wrap_triton eager", lambda: wrap_triton(add_kernel)[grid](x, y, out, n, BLOCK=256))

    rows = list(per_launch_us(paths, args.launches, args.repeats, sync).items())
    torch.testing.assert_close(out, x + y)
    anchor = rows[0][1]
    print(f"backend {backend.name}, torch {torch.__version__}, triton {triton.__version__}, "
          f"{torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}")
    print(f"{'launch path':40} {'us/launch':>10} {'vs first':>9}")
    for name, us in rows:
        print(f"{name:40} {us:10.2f} {us / anchor:8.2f}x")


if __name__ == "__main__":
    main()
