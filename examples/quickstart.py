"""tritonhost quickstart: launch a few Triton kernels from PyTorch and check them against PyTorch.

Runs on the interpreter backend (the CPU) unless TRITONHOST_BACKEND names another:

    TRITONHOST_BACKEND=cuda python examples/quickstart.py

Each kernel is an ordinary @triton.jit function, launched with Triton's own syntax
through ``tritonhost.wrap(kernel)[grid](...)``, eagerly and then inside
``torch.compile(backend="tritonhost")``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TRITONHOST_BACKEND", "interpreter")

import torch
import triton
import triton.language as tl

import tritonhost


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


@triton.heuristics({"BLOCK": lambda args: triton.next_power_of_2(args["n_cols"])})
@triton.jit
def softmax_kernel(x_ptr, out_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * stride + cols, mask=cols < n_cols, other=-float("inf"))
    x = x - tl.max(x, axis=0)
    e = tl.exp(x)
    tl.store(out_ptr + row * stride + cols, e / tl.sum(e, axis=0), mask=cols < n_cols)


@triton.autotune(
    configs=[triton.Config({"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16}),
             triton.Config({"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 16}, num_warps=4)],
    key=["M", "N", "K"],
)
@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        rk = k + tl.arange(0, BLOCK_K)
        a = tl.load(a_ptr + rm[:, None] * K + rk[None, :], mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + rk[:, None] * N + rn[None, :], mask=(rk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc += tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc, mask=(rm[:, None] < M) & (rn[None, :] < N))


def main() -> int:
    backend = tritonhost.select()
    device = backend.device
    print(f"tritonhost {tritonhost.__version__}: running on backend {backend.name!r} ({device} tensors)")
    torch.manual_seed(0)
    results = []

    x, y = torch.randn(1000, device=device), torch.randn(1000, device=device)
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[lambda meta: (triton.cdiv(1000, meta["BLOCK"]),)](x, y, out, 1000, BLOCK=256)
    results.append(("vector add (plain kernel, grid lambda)", out, x + y))

    scores = torch.randn(8, 50, device=device)
    probs = torch.empty_like(scores)
    tritonhost.wrap(softmax_kernel)[(8,)](scores, probs, 50, scores.stride(0))
    results.append(("row softmax (@triton.heuristics)", probs, torch.softmax(scores, dim=1)))

    a, b = torch.randn(48, 40, device=device), torch.randn(40, 24, device=device)
    c = torch.empty(48, 24, device=device)
    grid = lambda meta: (triton.cdiv(48, meta["BLOCK_M"]), triton.cdiv(24, meta["BLOCK_N"]))
    tritonhost.wrap(matmul_kernel)[grid](a, b, c, 48, 24, 40)
    # tl.dot may use TF32 on a GPU: compare at that precision.
    results.append(("matmul (@triton.autotune, 2-D grid)", c, a @ b))

    # The same kernels inside torch.compile: backend="tritonhost" generates a wrapper that
    # allocates, launches and frees, with no copy eager code would not make.
    def add_then_softmax(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(triton.cdiv(x.numel(), 128),)](x, y, total, x.numel(), BLOCK=128)
        probs = torch.empty_like(total)
        tritonhost.wrap(softmax_kernel)[(x.shape[0],)](total, probs, x.shape[1], x.stride(0))
        return probs

    with tritonhost.capture_wrappers() as wrappers:
        compiled = torch.compile(add_then_softmax, backend="tritonhost", fullgraph=True)
        probs = compiled(scores, scores)
    results.append(('add + softmax, torch.compile(backend="tritonhost")', probs, torch.softmax(2 * scores, dim=1)))

    failed = 0
    for name, got, expected in results:
        error = ((got - expected).norm() / expected.norm()).item()
        ok = error < 1e-3
        failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {name:52} relative error {error:.1e}")
    print("\nthe wrapper torch.compile generated:\n" + wrappers[0].code.strip())
    print("\nall kernels match PyTorch" if not failed else f"\n{failed} kernel(s) differ from PyTorch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
