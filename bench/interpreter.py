"""Seconds per launch on the CPU: the interpreter backend batched and program by program, beside
Triton's own interpreter and PyTorch eager, in one run.

Kernels at realistic sizes (grids of 256 to 16,384 programs: vector add, RMSNorm over 64 and
1024 columns, softmax, a chunked attention with a loop over key blocks) and the library corpus
(tests/library) at the shapes its tests use. Each way runs in its own process:

- ``batched``: ``tritonhost.wrap(kernel)[grid]`` on the interpreter backend (the default:
  programs as batches, bounds checks on);
- ``unchecked``: the same with ``TRITONHOST_INTERPRETER_BOUNDS_CHECK=0`` (the checks' cost);
- ``no-replay``: the same with ``TRITONHOST_INTERPRETER_REPLAY=0``, the kernel's Python run for
  every chunk rather than its recorded operations replayed (the tapes' gain);
- ``per-program``: ``TRITONHOST_INTERPRETER_BATCH=0``;
- ``triton``: ``kernel[grid]`` under ``TRITON_INTERPRET=1``, set before the kernels are decorated;
- ``eager``: the PyTorch formula, where there is one.

Each kernel is first launched on one program (the interpreter rewrites its source once), then
timed: the median of up to ``--repeats`` launches, fewer where a launch takes over a second.
Launches that would take minutes one program at a time (16,384 programs) are timed batched
and eager only. Prints seconds, the ratios, and draws a chart (``--chart PATH``).

    python bench/interpreter.py [--repeats 5] [--chart docs/figures/interpreter.png]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LIBRARY = Path(__file__).resolve().parent.parent / "tests" / "library"
WAYS = ("batched", "unchecked", "no-replay", "per-program", "triton", "eager")
#: Grids larger than this are not timed program by program (Triton's interpreter, or ours with batching off).
SLOW_LIMIT = 4096


def _kernels() -> Any:
    """The benchmark's own kernels, decorated after TRITON_INTERPRET is decided."""
    import triton
    import triton.language as tl

    @triton.jit
    def add(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask), mask=mask)

    @triton.jit
    def rms_norm(x_ptr, w_ptr, y_ptr, n_cols, eps, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK)
        mask = cols < n_cols
        x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / n_cols + eps)
        w = tl.load(w_ptr + cols, mask=mask)
        tl.store(y_ptr + row * n_cols + cols, x * rstd * w, mask=mask)

    @triton.jit
    def softmax(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK)
        mask = cols < n_cols
        x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=-float("inf"))
        e = tl.exp(x - tl.max(x, axis=0))
        tl.store(y_ptr + row * n_cols + cols, e / tl.sum(e, axis=0), mask=mask)

    @triton.jit
    def attention(q_ptr, k_ptr, v_ptr, o_ptr, seq, scale, D: tl.constexpr, BLOCK_M: tl.constexpr,
                  BLOCK_N: tl.constexpr):
        """Chunked attention: a program per (query block, head), online softmax over key blocks."""
        pid_m, head = tl.program_id(0), tl.program_id(1)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, D)
        base = head * seq * D
        q = tl.load(q_ptr + base + offs_m[:, None] * D + offs_d[None, :])
        m_i = tl.full((BLOCK_M,), -float("inf"), tl.float32)
        l_i = tl.zeros((BLOCK_M,), tl.float32)
        acc = tl.zeros((BLOCK_M, D), tl.float32)
        for start in range(0, seq, BLOCK_N):
            offs_n = start + tl.arange(0, BLOCK_N)
            k = tl.load(k_ptr + base + offs_n[:, None] * D + offs_d[None, :])
            v = tl.load(v_ptr + base + offs_n[:, None] * D + offs_d[None, :])
            s = tl.dot(q, tl.trans(k)) * scale
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            p = tl.exp(s - m_new[:, None])
            alpha = tl.exp(m_i - m_new)
            l_i = l_i * alpha + tl.sum(p, axis=1)
            acc = acc * alpha[:, None] + tl.dot(p, v)
            m_i = m_new
        tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :], acc / l_i[:, None])

    return add, rms_norm, softmax, attention


class Bench:
    """One kernel at one size: its launch, its grid, and its PyTorch formula if it has one."""

    def __init__(self, name: str, kernel: Any, grid: tuple[int, ...], args: tuple[Any, ...], kwargs: dict[str, Any],
                 eager: Callable[[], Any] | None) -> None:
        self.name, self.kernel, self.grid, self.args, self.kwargs, self.eager = name, kernel, grid, args, kwargs, eager

    @property
    def programs(self) -> int:
        total = 1
        for n in self.grid:
            total *= n
        return total


def _benches() -> list[Bench]:
    import torch

    add, rms_norm, softmax, attention = _kernels()
    benches = []
    for programs in (256, 4096, 16384):
        n = programs * 128
        x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
        benches.append(Bench(f"add {programs}x128", add, (programs,), (x, y, out, n), {"BLOCK": 128},
                             lambda x=x, y=y: x + y))
    for rows, cols in ((4096, 64), (4096, 1024), (16384, 64)):
        x, w, out = torch.randn(rows, cols), torch.randn(cols), torch.empty(rows, cols)
        benches.append(Bench(f"rms_norm {rows}x{cols}", rms_norm, (rows,), (x, w, out, cols, 1e-6),
                             {"BLOCK": cols},
                             lambda x=x, w=w: x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-6) * w))
    x, out = torch.randn(4096, 256), torch.empty(4096, 256)
    benches.append(Bench("softmax 4096x256", softmax, (4096,), (x, out, 256), {"BLOCK": 256},
                         lambda x=x: torch.softmax(x, dim=1)))
    heads, seq, d = 16, 512, 64
    q, k, v, o = (torch.randn(heads, seq, d) for _ in range(4))
    scale = d**-0.5
    benches.append(Bench(f"attention {heads}h x {seq} x {d}", attention, (seq // 32, heads),
                         (q, k, v, o, seq, scale), {"D": d, "BLOCK_M": 32, "BLOCK_N": 32},
                         lambda q=q, k=k, v=v: torch.softmax(q @ k.transpose(1, 2) * scale, -1) @ v))
    sys.path.insert(0, str(LIBRARY))
    from library_cases import CASES

    for case in CASES:
        torch.manual_seed(0)
        setup = case.setup("cpu")
        grid = setup.grid if isinstance(setup.grid, tuple) else None
        if grid is not None:
            benches.append(Bench(f"library: {case.name}", case.kernel, grid, setup.args, setup.kwargs, None))
    return benches


def _median_seconds(launch: Callable[[], Any], repeats: int) -> float:
    times: list[float] = []
    while len(times) < repeats and sum(times) < 1.0:
        start = time.perf_counter()
        launch()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _child(way: str, repeats: int) -> None:
    """Time one way in this process and print ``{bench: seconds or None}`` as JSON."""
    if way == "triton":
        os.environ["TRITON_INTERPRET"] = "1"  # before the kernels are decorated
    benches = _benches()
    results: dict[str, Any] = {}
    if way == "eager":
        for bench in benches:
            results[bench.name] = None if bench.eager is None else _median_seconds(bench.eager, max(repeats, 20))
        print(json.dumps(results))
        return
    import tritonhost

    def launcher(bench: Bench, grid: tuple[int, ...]) -> Callable[[], Any]:
        if way == "triton":
            return lambda: bench.kernel[grid](*bench.args, **bench.kwargs)
        wrapped = tritonhost.wrap(bench.kernel)
        return lambda: wrapped[grid](*bench.args, **bench.kwargs)

    with tritonhost.use_backend("interpreter"):
        for bench in benches:
            if way in ("triton", "per-program") and bench.programs > SLOW_LIMIT:
                results[bench.name] = None
                continue
            try:
                launcher(bench, (1,) * len(bench.grid))()  # the source is rewritten once
                results[bench.name] = _median_seconds(launcher(bench, bench.grid), repeats)
            except Exception as exc:  # noqa: BLE001 - Triton's interpreter cannot run every kernel
                results[bench.name] = f"{type(exc).__name__}"
    print(json.dumps(results))


def _run_child(way: str, repeats: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITONHOST_INTERPRETER_BOUNDS_CHECK"] = "0" if way == "unchecked" else "1"
    env["TRITONHOST_INTERPRETER_BATCH"] = "0" if way == "per-program" else "1"
    env["TRITONHOST_INTERPRETER_REPLAY"] = "0" if way == "no-replay" else "1"
    child = subprocess.run([sys.executable, __file__, "--child", way, "--repeats", str(repeats)],
                           capture_output=True, text=True, env=env, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else "fails"


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if isinstance(numerator, float) and isinstance(denominator, float) and denominator > 0:
        return numerator / denominator
    return None


def _chart(names: list[str], results: dict[str, dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("batched", "per-program", "triton", "eager")
    figure, axis = plt.subplots(figsize=(11, 5))
    width = 0.2
    for offset, way in enumerate(shown):
        values = [results[way].get(n) for n in names]
        xs = [i + offset * width for i, v in enumerate(values) if isinstance(v, float)]
        axis.bar(xs, [v * 1e3 for v in values if isinstance(v, float)], width, label=way)
    axis.set_xticks([i + 1.5 * width for i in range(len(names))], names, rotation=60, ha="right", fontsize=7)
    axis.set_ylabel("ms per launch (log)")
    axis.set_yscale("log")
    axis.set_title("interpreter backend, batched and per program, beside Triton's interpreter and PyTorch eager")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chart", default=None, help="write a bar chart (PNG) here")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeats)
        return
    results = {way: _run_child(way, args.repeats) for way in WAYS}
    import torch
    import triton

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; triton {triton.__version__}, "
          f"torch {torch.__version__}; seconds per launch (median of up to {args.repeats})")
    header = (f"{'kernel':40} {'batched':>8} {'unchecked':>9} {'no-replay':>9} {'per-prog':>8} {'triton':>8} "
              f"{'eager':>8} {'vs per-prog':>11} {'vs triton':>9} {'vs eager':>8} {'checks':>6} {'replay':>6}")
    print(header)
    names = list(results["batched"])
    summary: dict[str, list[float]] = {"per-program": [], "triton": [], "eager": [], "checks": [], "replay": []}
    for name in names:
        batched = results["batched"][name]
        row = [results[way][name] for way in WAYS]
        speedup = _ratio(results["per-program"][name], batched)
        over_triton = _ratio(results["triton"][name], batched)
        over_eager = _ratio(batched, results["eager"][name])
        checks = _ratio(batched, results["unchecked"][name])
        replay = _ratio(results["no-replay"][name], batched)
        for key, value in (("per-program", speedup), ("triton", over_triton), ("eager", over_eager),
                           ("checks", checks), ("replay", replay)):
            if value is not None:
                summary[key].append(value)

        def fmt(value: float | None, suffix: str = "x") -> str:
            return "-" if value is None else f"{value:.1f}{suffix}"

        print(f"{name:40} " + f"{_cell(row[0]):>8} {_cell(row[1]):>9} {_cell(row[2]):>9} "
              + " ".join(f"{_cell(v):>8}" for v in row[3:])
              + f" {fmt(speedup):>11} {fmt(over_triton):>9} {fmt(over_eager):>8} {fmt(checks, 'x'):>6}"
              + f" {fmt(replay):>6}")
    print("\nvs per-prog, vs triton: how many times faster batched is; vs eager: how many times slower than PyTorch")
    for key, label in (("per-program", "batched over per-program (speed-up)"),
                       ("triton", "batched over Triton's interpreter (speed-up)"),
                       ("eager", "batched / PyTorch eager (slow-down)"), ("checks", "bounds checks (cost)"),
                       ("replay", "replaying tapes over running the Python of every chunk (speed-up)")):
        if summary[key]:
            print(f"{label}: median {statistics.median(summary[key]):.2f}x, from {min(summary[key]):.2f}x "
                  f"to {max(summary[key]):.2f}x over {len(summary[key])} kernels")
    if args.chart:
        _chart(names, results, args.chart)
        print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()
