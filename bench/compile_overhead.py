"""Host time per kernel of a compiled chain of small kernels: backend="tritonhost" beside its anchors.

A chain of 20 launches of one small Triton kernel (each output feeds the next)
is run four ways, in the same process and measured round-robin:

- Triton's own ``kernel[grid](...)`` loop, eagerly (the first anchor);
- ``torch.compile`` with Inductor of that same loop (the second anchor: Inductor
  compiles user kernels into its own wrapper);
- ``torch.compile(backend="tritonhost")`` of the loop written with
  ``tritonhost.wrap``, called as a compiled function (Dynamo's guards and
  AOTAutograd's runtime wrapper included);
- the generated wrapper ``GraphModule`` called directly (what tritonhost itself adds).

Prints microseconds per kernel and ratios to both anchors. Needs an NVIDIA GPU
(Inductor compiles Triton kernels only for a GPU).

    python bench/compile_overhead.py [--kernels 20] [--calls 200] [--repeats 15]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch
import triton
import triton.language as tl
from launch_overhead import per_launch_us  # bench/ is the script's directory

import tritonhost

BLOCK = 128


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) + tl.load(y_ptr + offsets, mask=mask), mask=mask)


add = tritonhost.wrap(add_kernel)


def chain_of(kernel: Any, kernels: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``kernels`` launches of ``kernel``, each output feeding the next (Triton and tritonhost share ``[grid](...)``)."""

    def chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n = x.numel()
        for _ in range(kernels):
            out = torch.empty_like(x)
            kernel[(triton.cdiv(n, BLOCK),)](x, y, out, n, BLOCK=BLOCK)
            x = out
        return x

    return chain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=15)
    options = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("compile_overhead.py needs an NVIDIA GPU: Inductor, an anchor, compiles Triton kernels only there")

    with tritonhost.use_backend("cuda"):
        x, y = torch.randn(1024, device="cuda"), torch.randn(1024, device="cuda")
        triton_chain, tritonhost_chain = chain_of(add_kernel, options.kernels), chain_of(add, options.kernels)
        inductor = torch.compile(triton_chain, backend="inductor", fullgraph=True)
        with tritonhost.capture_wrappers() as wrappers:
            compiled = torch.compile(tritonhost_chain, backend="tritonhost", fullgraph=True)
            expected = triton_chain(x, y)
            for fn in (inductor, compiled):
                torch.testing.assert_close(fn(x, y), expected)
        wrapper = wrappers[0].module
        torch.testing.assert_close(wrapper(x, y)[0], expected)

        paths: dict[str, Callable[[], object]] = {
            "Triton kernel[grid] loop": lambda: triton_chain(x, y),
            "torch.compile, Inductor": lambda: inductor(x, y),
            "torch.compile, backend=tritonhost": lambda: compiled(x, y),
            "tritonhost wrapper GraphModule": lambda: wrapper(x, y),
        }
        times = per_launch_us(paths, options.calls, options.repeats, torch.cuda.synchronize)

    print(f"torch {torch.__version__}, triton {triton.__version__}, {torch.cuda.get_device_name()}")
    print(f"chain of {options.kernels} kernels, median of {options.repeats} x {options.calls} calls")
    triton_us = times["Triton kernel[grid] loop"] / options.kernels
    inductor_us = times["torch.compile, Inductor"] / options.kernels
    print(f"{'path':36} {'us/kernel':>10} {'vs Triton':>10} {'vs Inductor':>12}")
    for name, total in times.items():
        us = total / options.kernels
        print(f"{name:36} {us:10.2f} {us / triton_us:9.2f}x {us / inductor_us:11.2f}x")
    print("\ngenerated wrapper (first lines):")
    print("\n".join(wrappers[0].code.strip().splitlines()[:6]))


if __name__ == "__main__":
    main()
