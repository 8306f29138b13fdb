"""Host time of launching user kernels from PyTorch: tritonhost beside its anchors, in one run.

Every figure is measured afresh in this run, round-robin so that drift hits all alike,
and each tritonhost figure is printed with its ratio to the best anchor of its row:

- **eager**, per launch of a small add kernel: ``tritonhost.wrap(k)[grid](...)`` (inline,
  hoisted, with a grid function, and with prepared launches off) and an autotuned kernel, beside Triton's own
  ``kernel[grid](...)`` written the same way, and ``torch.library.wrap_triton``'s eager path;
- **compiled**, per kernel of a chain of 20 launches: ``torch.compile(backend="tritonhost")``
  and its generated wrapper called alone, beside Triton's eager loop and Inductor;
- **CUDA graphs**, per kernel of the same chain: ``backend="tritonhost"`` with
  ``options={"cuda_graphs": True}`` and its graph runner called alone, beside Inductor's
  ``mode="reduce-overhead"`` and a raw ``torch.cuda.CUDAGraph`` replay of Triton's loop (the
  floor); ``--profile`` adds cProfile's account of a compiled call, with and without graphs;
- **imports**: ``import torch``, with triton, and with tritonhost too, in fresh processes;
- **first result**: bench/first_result.py in fresh processes (``--no-first-result`` skips it).

With ``--chart PATH`` it draws the per-launch figures as a bar chart. Needs an NVIDIA GPU
for the anchors; on another backend it prints tritonhost's eager rows only.

    python bench/launch.py [--launches 2000] [--repeats 7] [--chart docs/figures/launch-h200.png]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import triton
import triton.language as tl

import tritonhost

HERE = Path(__file__).resolve().parent
BLOCK = 128


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


def per_call_us(
    paths: dict[str, Callable[[], object]], calls: int, repeats: int, sync: Callable[[], object]
) -> dict[str, float]:
    """Median microseconds per call of each path, measured round-robin."""
    for call in paths.values():
        for _ in range(20):
            call()
    sync()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, call in paths.items():
            start = time.perf_counter()
            for _ in range(calls):
                call()
            sync()
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(times) for name, times in samples.items()}


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


#: (section, row, is an anchor, microseconds) of everything measured, in print order.
Row = tuple[str, str, bool, float]


def copy_with_prepared(kernel: Any, prepared: bool) -> Any:
    """``kernel`` as another kernel object, wrapped with prepared eager launches on or off."""
    if isinstance(kernel, triton.runtime.Autotuner):
        copy = triton.autotune(configs=kernel.configs, key=kernel.keys)(triton.jit(kernel.fn.fn))
    else:
        copy = triton.jit(kernel.fn)
    before = os.environ.get("TRITONHOST_PREPARED_LAUNCH")
    os.environ["TRITONHOST_PREPARED_LAUNCH"] = "1" if prepared else "0"
    try:
        wrapped = tritonhost.wrap(copy)
        wrapped.runner()  # the variable is read when the runner is made
    finally:
        if before is None:
            del os.environ["TRITONHOST_PREPARED_LAUNCH"]
        else:
            os.environ["TRITONHOST_PREPARED_LAUNCH"] = before
    return wrapped


def eager_rows(launches: int, repeats: int, device: str) -> list[Row]:
    n = 4096
    x, y = torch.randn(n, device=device), torch.randn(n, device=device)
    out = torch.empty_like(x)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    grid = (triton.cdiv(n, 256),)
    lambda_grid = lambda meta: (triton.cdiv(n, meta["BLOCK"]),)
    wrapped = tritonhost.wrap(add_kernel)
    gpu = device == "cuda"
    paths: dict[str, tuple[bool, Callable[[], object]]] = {}
    if gpu:
        paths["Triton kernel[grid]"] = (True, lambda: add_kernel[grid](x, y, out, n, BLOCK=256))
    paths["tritonhost wrap(k)[grid]"] = (False, lambda: tritonhost.wrap(add_kernel)[grid](x, y, out, n, BLOCK=256))
    paths["tritonhost wrapped[grid], hoisted"] = (False, lambda: wrapped[grid](x, y, out, n, BLOCK=256))
    # Prepared eager launches are the default; the runner's path is measured on copies of
    # the kernels (other JITFunctions) whose runners are made with them off.
    runner_add, runner_tuned = copy_with_prepared(add_kernel, False), copy_with_prepared(tuned_add_kernel, False)
    paths["tritonhost runner only (TRITONHOST_PREPARED_LAUNCH=0)"] = (
        False, lambda: runner_add[grid](x, y, out, n, BLOCK=256)
    )
    if gpu:
        paths["Triton kernel[grid function]"] = (True, lambda: add_kernel[lambda_grid](x, y, out, n, BLOCK=256))
    paths["tritonhost wrap(k)[grid function]"] = (False, lambda: wrapped[lambda_grid](x, y, out, n, BLOCK=256))
    if gpu:
        paths["Triton autotuned kernel[grid]"] = (True, lambda: tuned_add_kernel[lambda_grid](x, y, out, n))
    paths["tritonhost autotuned"] = (False, lambda: tritonhost.wrap(tuned_add_kernel)[lambda_grid](x, y, out, n))
    paths["tritonhost autotuned, runner only"] = (False, lambda: runner_tuned[lambda_grid](x, y, out, n))
    wrap_triton = getattr(torch.library, "wrap_triton", None)
    if wrap_triton is not None and gpu:
        paths["torch.library.wrap_triton eager"] = (True, lambda: wrap_triton(add_kernel)[grid](x, y, out, n, BLOCK=256))
    if not gpu:
        launches = min(launches, 20)  # the interpreter runs each launch: figures only show it works
    times = per_call_us({name: call for name, (_, call) in paths.items()}, launches, repeats, sync)
    torch.testing.assert_close(out, x + y)
    return [("eager, per launch", name, paths[name][0], us) for name, us in times.items()]


def layer_rows(launches: int, repeats: int) -> list[Row]:
    """Where a prepared eager launch's time goes: the same launch entered at each layer, outermost last."""
    n = 4096
    x, y = torch.randn(n, device="cuda"), torch.randn(n, device="cuda")
    out = torch.empty_like(x)
    grid = (triton.cdiv(n, 256),)
    wrapped = copy_with_prepared(add_kernel, True)
    wrapped[grid](x, y, out, n, BLOCK=256)
    runner = wrapped.runner()
    calls = runner.prepared_calls
    assert calls is not None, "prepared launches are off"
    args, kwargs = (x, y, out, n), {"BLOCK": 256}
    prepared = calls._kinds[(4, ("BLOCK", 256))].calls[()].prepared
    values = (x, y, out, n, 256)
    grid3 = (grid[0], 1, 1)
    launch = wrapped[grid]
    # The binary's launcher (Triton's CompiledKernel.run), the stream fetched once; and the
    # floor, its C function alone, which prepared launches call where they can.
    binary, function, metadata = prepared._launch, prepared._function, prepared._metadata
    stream = torch.cuda.current_stream().cuda_stream
    paths: dict[str, Callable[[], object]] = {}
    c_launch = prepared._c_launch
    if c_launch is not None:
        cooperative, pdl = prepared._cooperative, prepared._pdl
        paths["the binary's C launch function alone (the floor)"] = lambda: c_launch(
            grid3[0], 1, 1, stream, function, cooperative, pdl, None, None, metadata, None, None, None, *values
        )
    paths |= {
        "the binary's launcher, Triton's run() calls it": lambda: binary(
            grid3[0], 1, 1, stream, function, metadata, None, None, None, *values
        ),
        "+ checks, device, stream (DirectLaunch)": lambda: prepared(grid3, values),
        "+ finding it by kind of call (PreparedCalls)": lambda: calls.launch(grid3, args, kwargs),
        "+ the kernel's runner (KernelRunner.launch)": lambda: runner.launch(grid3, args, kwargs),
        "+ tracing checks, backend selection (Launch)": lambda: launch(x, y, out, n, BLOCK=256),
        "+ wrapped[grid] (its kept Launch looked up per call)": lambda: wrapped[grid](x, y, out, n, BLOCK=256),
        "+ tritonhost.wrap(k) per call": lambda: tritonhost.wrap(wrapped.kernel)[grid](x, y, out, n, BLOCK=256),
    }
    times = per_call_us(paths, launches, repeats, torch.cuda.synchronize)
    torch.testing.assert_close(out, x + y)
    return [("eager, entered at each layer", name, False, us) for name, us in times.items()]


def compiled_rows(kernels: int, calls: int, repeats: int) -> list[Row]:
    x, y = torch.randn(1024, device="cuda"), torch.randn(1024, device="cuda")
    triton_chain = chain_of(add_kernel, kernels)
    tritonhost_chain = chain_of(tritonhost.wrap(add_kernel), kernels)
    expected = triton_chain(x, y)
    inductor = torch.compile(triton_chain, backend="inductor", fullgraph=True)
    reduce_overhead = torch.compile(triton_chain, backend="inductor", mode="reduce-overhead", fullgraph=True)
    with tritonhost.capture_wrappers() as wrappers:
        compiled = torch.compile(tritonhost_chain, backend="tritonhost", fullgraph=True)
        torch.testing.assert_close(compiled(x, y), expected)
    with tritonhost.capture_wrappers() as graph_wrappers:
        graphed = torch.compile(tritonhost_chain, backend="tritonhost", fullgraph=True, options={"cuda_graphs": True})
        for _ in range(3):  # warm-up, record, replay
            torch.testing.assert_close(graphed(x, y), expected)
    graph_runner = graph_wrappers[0].cuda_graphs
    assert graph_runner is not None and graph_runner.replays == 2, "the chain did not replay"
    # Other tensors than the recording's: the runner records once more, copying them in on each replay.
    other_x, other_y = x.clone(), y.clone()
    torch.testing.assert_close(graphed(other_x, other_y), expected)
    torch.testing.assert_close(inductor(x, y), expected)
    for _ in range(3):  # cudagraph trees record on the second or third call
        torch.testing.assert_close(reduce_overhead(x, y), expected)
    wrapper = wrappers[0].module
    torch.testing.assert_close(wrapper(x, y)[0], expected)

    # The floor: the chain's launches captured once into a CUDA graph and replayed.
    static_x, static_y = x.clone(), y.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        triton_chain(static_x, static_y)  # compiled and warm before capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = triton_chain(static_x, static_y)
    graph.replay()
    torch.testing.assert_close(static_out, expected)

    paths: dict[str, tuple[str, bool, Callable[[], object]]] = {
        "Triton kernel[grid] loop": ("compiled chain, per kernel", True, lambda: triton_chain(x, y)),
        "Inductor": ("compiled chain, per kernel", True, lambda: inductor(x, y)),
        'backend="tritonhost"': ("compiled chain, per kernel", False, lambda: compiled(x, y)),
        "tritonhost's wrapper alone": ("compiled chain, per kernel", False, lambda: wrapper(x, y)),
        "raw CUDA graph replay": ("CUDA graphs, per kernel", True, graph.replay),
        'Inductor mode="reduce-overhead"': ("CUDA graphs, per kernel", True, lambda: reduce_overhead(x, y)),
        'backend="tritonhost", cuda_graphs': ("CUDA graphs, per kernel", False, lambda: graphed(x, y)),
        'backend="tritonhost", cuda_graphs, inputs copied in': (
            "CUDA graphs, per kernel", False, lambda: graphed(other_x, other_y)
        ),
        "tritonhost's graph runner alone": ("CUDA graphs, per kernel", False, lambda: graph_runner(x, y)),
    }
    times = per_call_us({name: call for name, (_, _, call) in paths.items()}, calls, repeats, torch.cuda.synchronize)
    return [(paths[name][0], name, paths[name][1], us / kernels) for name, us in times.items()]


def profile_compiled_call(kernels: int, calls: int) -> None:
    """cProfile of the compiled chain's calls, with and without CUDA graphs: where the time per call goes."""
    import cProfile
    import pstats

    x, y = torch.randn(1024, device="cuda"), torch.randn(1024, device="cuda")
    chain = chain_of(tritonhost.wrap(add_kernel), kernels)
    for graphs in (False, True):
        compiled = torch.compile(chain, backend="tritonhost", fullgraph=True, options={"cuda_graphs": graphs})
        for _ in range(5):
            compiled(x, y)
        torch.cuda.synchronize()
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(calls):
            compiled(x, y)
        profile.disable()
        torch.cuda.synchronize()
        print(f"\nprofile of {calls} calls of the compiled chain, cuda_graphs={graphs} (cProfile's own cost included):")
        pstats.Stats(profile).sort_stats("tottime").print_stats(14)


def import_rows(repeats: int) -> list[Row]:
    """Seconds of importing torch, then triton, then tritonhost too, in fresh processes (kept as microseconds)."""

    def seconds(statement: str) -> float:
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        runs = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
                for _ in range(repeats)]
        return statistics.median(runs)

    section = "imports, fresh process"
    return [(section, "import torch", True, seconds("import torch") * 1e6),
            (section, "import torch, triton", True, seconds("import torch, triton") * 1e6),
            (section, "import torch, triton, tritonhost", False, seconds("import torch, triton, tritonhost") * 1e6)]


def report(rows: list[Row]) -> None:
    """Print each row with its ratio to the best anchor of its section, and to the anchor
    printed last above it (the same call made the other way: Triton's ``kernel[grid function]``
    for tritonhost's, Inductor for the compiled chain)."""
    section = None
    above: float | None = None
    for where, name, anchor, us in rows:
        if where != section:
            section, above = where, None
            unit = "s" if where.startswith("imports") else "us"
            print(f"\n{where:58} {unit:>9} {'vs best anchor':>15} {'vs the anchor above':>20}")
        anchors = [a_us for w, _, a, a_us in rows if w == where and a]
        value = f"{us / 1e6:9.3f}" if where.startswith("imports") else f"{us:9.2f}"
        if anchor:
            above = us
            print(f"  {name:56} {value} {'anchor':>15}")
            continue
        best = f"{us / min(anchors):14.2f}x" if anchors else ""
        own = f"{us / above:19.2f}x" if above is not None else ""
        print(f"  {name:56} {value} {best:>15} {own:>20}")


def chart(rows: list[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in rows if not row[0].startswith(("imports", "eager, entered"))]
    figure, axis = plt.subplots(figsize=(8, 0.32 * len(shown) + 1.2))
    labels = [f"{name}  ({where.split(',')[0]})" for where, name, _, _ in shown]
    colours = ["#9e9e9e" if anchor else "#1f77b4" for _, _, anchor, _ in shown]
    bars = axis.barh(range(len(shown)), [us for *_, us in shown], color=colours)
    axis.set_yticks(range(len(shown)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    axis.set_xlabel("host microseconds per launch (grey: anchors, blue: tritonhost)")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    print(f"\nchart: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=2000, help="eager launches per sample")
    parser.add_argument("--calls", type=int, default=200, help="compiled-chain calls per sample")
    parser.add_argument("--kernels", type=int, default=20, help="launches in the compiled chain")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-first-result", action="store_true", help="skip bench/first_result.py")
    parser.add_argument("--chart", type=Path, default=None, help="write a bar chart (PNG) here")
    parser.add_argument("--profile", action="store_true", help="profile a compiled chain's calls (where the host time goes)")
    args = parser.parse_args()

    backend = tritonhost.select()
    gpu = backend.device == "cuda"
    where = torch.cuda.get_device_name() if gpu else "CPU"
    title = f"backend {backend.name}, torch {torch.__version__}, triton {triton.__version__}, {where}"
    print(title)
    rows = eager_rows(args.launches, args.repeats, backend.device)
    if gpu:
        rows += layer_rows(args.launches, args.repeats)
        rows += compiled_rows(args.kernels, args.calls, args.repeats)
    rows += import_rows(5)
    report(rows)
    if gpu and args.profile:
        profile_compiled_call(args.kernels, args.calls)
    if args.chart is not None:
        chart([row for row in rows if row[3] == row[3]], args.chart, title)
    if not args.no_first_result:
        print("\nfirst result, fresh processes (bench/first_result.py):", flush=True)
        subprocess.run([sys.executable, str(HERE / "first_result.py"), "--kernels", str(args.kernels)], check=True)


if __name__ == "__main__":
    main()
