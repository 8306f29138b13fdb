"""Kernel analysis time and accuracy: tritonhost.analyze beside PyTorch's own TTIR analysis.

For every kernel of the analysis test corpus (tests/analysis/corpus.py), prints
tritonhost's cold time (nothing cached), its cached time, and PyTorch's analysis
time on the same kernel and arguments in the same run, with whether each
answer matches the corpus's expected written set. PyTorch's analysis needs a
GPU driver: on a CPU-only machine it falls back to "every tensor is written",
which the accuracy column shows.

    python bench/analysis.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "analysis"))

import tritonhost
from corpus import CASES
from tritonhost.analysis import analyzer
from tritonhost.kernel.decorators import read_decorators


def _real(value: Any, device: str) -> Any:
    """The meta tensors of the corpus as real tensors (PyTorch's analysis reads data pointers)."""
    from triton.tools.tensor_descriptor import TensorDescriptor

    if isinstance(value, torch.Tensor):
        return torch.zeros(value.shape, dtype=value.dtype, device=device)
    if isinstance(value, TensorDescriptor):
        return TensorDescriptor.from_tensor(_real(value.base, device), list(value.block_shape))
    return value


def pytorch_written(kernel: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str] | None:
    """PyTorch's answer: the tensor arguments it takes as mutated, or None if it raised."""
    from torch._higher_order_ops import triton_kernel_wrap as wrap

    model = read_decorators(kernel)
    params = dict(zip(model.arg_names, args), **{k: v for k, v in kwargs.items() if k in model.arg_names})
    params = next(analyzer._variants(model, params))  # PyTorch takes the innermost kernel, resolved
    jit = model.jit
    try:
        if hasattr(wrap, "identify_mutated_tensors"):  # torch <= 2.12
            return list(wrap.identify_mutated_tensors(jit, params, {}))
        accesses = wrap.identify_accessed_tensors(jit, params, {})
        return [dep.name for dep in accesses.read_writes.writes if isinstance(params.get(dep.name), torch.Tensor)]
    except Exception:  # noqa: BLE001 - reported as a failure in the table
        return None


def median_seconds(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(case: Any, device: str, repeats: int) -> tuple[Any, ...]:
    """One table row: times and answers of both analyses on one corpus kernel."""
    meta_args, kwargs = case.make_args()
    real_args = tuple(_real(a, device) for a in meta_args)
    real_kwargs = {k: _real(v, device) for k, v in kwargs.items()}

    def cold() -> Any:
        analyzer.clear_cache()
        return tritonhost.analyze(case.kernel, *real_args, **real_kwargs)

    ours = cold()
    cold_s = median_seconds(cold, repeats)
    cached_s = median_seconds(lambda: tritonhost.analyze(case.kernel, *real_args, **real_kwargs), 50)
    theirs = pytorch_written(case.kernel, real_args, real_kwargs)
    torch_s = median_seconds(lambda: pytorch_written(case.kernel, real_args, real_kwargs), repeats)
    theirs_ok = theirs is not None and sorted(theirs) == sorted(case.written)
    return (case.name, cold_s, cached_s, torch_s, ours.written == case.written, theirs_ok, theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("torch").setLevel(logging.ERROR)
    logging.getLogger("tritonhost").setLevel(logging.ERROR)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # Warm both paths once (imports, Triton's backend set-up) on a kernel outside the table.
    warm_args, warm_kwargs = CASES[0].make_args()
    tritonhost.analyze(CASES[0].kernel, *warm_args, **warm_kwargs)
    pytorch_written(CASES[0].kernel, tuple(_real(a, device) for a in warm_args), warm_kwargs)

    rows = [measure(case, device, args.repeats) for case in CASES]

    print(f"torch {torch.__version__}, triton {triton.__version__}, "
          f"{torch.cuda.get_device_name() if device == 'cuda' else 'CPU only'}")
    print(f"{'kernel':30} {'cold ms':>8} {'cached us':>10} {'torch ms':>9} {'cold/torch':>10}  ours  torch's written set")
    for name, cold_s, cached_s, torch_s, ok, theirs_ok, theirs in rows:
        shown = "raised" if theirs is None else ",".join(theirs)
        print(f"{name:30} {cold_s * 1e3:8.2f} {cached_s * 1e6:10.1f} {torch_s * 1e3:9.2f} "
              f"{cold_s / torch_s:9.2f}x  {'ok' if ok else 'WRONG':4}  {'ok' if theirs_ok else 'wrong'}: {shown}")
    cold_med = statistics.median(r[1] for r in rows) * 1e3
    cached_med = statistics.median(r[2] for r in rows) * 1e6
    torch_med = statistics.median(r[3] for r in rows) * 1e3
    print(f"\nmedian per kernel: tritonhost cold {cold_med:.2f} ms, cached {cached_med:.1f} us; "
          f"PyTorch {torch_med:.2f} ms (cold/torch {cold_med / torch_med:.2f}x)")
    print(f"exact answers: tritonhost {sum(r[4] for r in rows)}/{len(rows)}, "
          f"PyTorch {sum(r[5] for r in rows)}/{len(rows)}")


if __name__ == "__main__":
    main()
