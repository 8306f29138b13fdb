"""Seconds per launch on the CPU: tritonhost's interpreter backend beside Triton's own interpreter.

Runs every kernel of the library corpus (tests/library) three ways in one command:
through ``tritonhost.wrap(kernel)[grid](...)`` on the interpreter backend, with
its bounds checks (the default) and without (``TRITONHOST_INTERPRETER_BOUNDS_CHECK=0``),
and as Triton itself runs it under ``TRITON_INTERPRET=1`` (set before the kernels
are decorated), each side in its own process, alternately. Prints seconds per
launch, the ratio to Triton's interpreter, the cost of the bounds checks, and, for
kernels Triton's interpreter cannot run, its error.

    python bench/interpreter.py [--repeats 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LIBRARY = Path(__file__).resolve().parent.parent / "tests" / "library"


def _time_cases(launch: Any, repeats: int) -> dict[str, dict[str, Any]]:
    """``{case: {"seconds": median per launch} or {"error": message}}``."""
    import torch

    from library_cases import CASES

    results: dict[str, dict[str, Any]] = {}
    for case in CASES:
        torch.manual_seed(0)
        setup = case.setup("cpu")
        try:
            launch(case, setup)  # the first launch also rewrites the kernel's source
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                launch(case, setup)
                times.append(time.perf_counter() - start)
            results[case.name] = {"seconds": statistics.median(times)}
        except Exception as exc:  # noqa: BLE001 - reported in the table
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            results[case.name] = {"error": f"{type(exc).__name__}: {message}"[:110]}
    return results


def _child(mode: str, repeats: int) -> None:
    """Time one side in this process and print the results as JSON."""
    sys.path.insert(0, str(LIBRARY))
    if mode == "triton":
        os.environ["TRITON_INTERPRET"] = "1"  # before the kernels are decorated

        def launch(case: Any, setup: Any) -> None:
            case.kernel[setup.grid](*setup.args, **setup.kwargs)

        print(json.dumps(_time_cases(launch, repeats)))
        return
    import tritonhost

    def launch_here(case: Any, setup: Any) -> None:
        tritonhost.wrap(case.kernel)[setup.grid](*setup.args, **setup.kwargs)

    with tritonhost.use_backend("interpreter"):
        print(json.dumps(_time_cases(launch_here, repeats)))


def _run_child(mode: str, repeats: int) -> dict[str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITONHOST_INTERPRETER_BOUNDS_CHECK"] = "0" if mode == "unchecked" else "1"
    child = subprocess.run(
        [sys.executable, __file__, "--child", "tritonhost" if mode == "unchecked" else mode, "--repeats", str(repeats)],
        capture_output=True, text=True, env=env, check=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _best(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per kernel, the fastest of the rounds (or the error, if it never ran)."""
    best: dict[str, dict[str, Any]] = {}
    for run in runs:
        for name, result in run.items():
            old = best.get(name)
            if old is None or ("seconds" in result and result["seconds"] < old.get("seconds", float("inf"))):
                best[name] = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each side")
    parser.add_argument("--child", choices=["triton", "tritonhost"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeats)
        return

    # Each side runs in a fresh process, alternately, so that drift in the machine's
    # speed hits both alike; the best round of each counts.
    triton_runs, our_runs, unchecked_runs = [], [], []
    for _ in range(args.rounds):
        triton_runs.append(_run_child("triton", args.repeats))
        our_runs.append(_run_child("tritonhost", args.repeats))
        unchecked_runs.append(_run_child("unchecked", args.repeats))
    triton_results, ours, unchecked = _best(triton_runs), _best(our_runs), _best(unchecked_runs)
    import triton

    print(f"triton {triton.__version__}, CPU; seconds per launch (median of {args.repeats})")
    print(f"{'kernel':34} {'tritonhost':>10} {'unchecked':>10} {'checks':>7} {'TRITON_INTERPRET=1':>19} {'ratio':>6}")
    ratios, check_costs = [], []
    for name, mine in ours.items():
        theirs, bare = triton_results[name], unchecked[name]
        mine_text = f"{mine['seconds']:.4f}" if "seconds" in mine else "FAILED"
        bare_text, cost_text = "FAILED", ""
        if "seconds" in bare:
            bare_text = f"{bare['seconds']:.4f}"
            if "seconds" in mine:
                check_costs.append(mine["seconds"] / bare["seconds"])
                cost_text = f"{check_costs[-1]:.2f}x"
        if "seconds" in theirs and "seconds" in mine:
            ratio = mine["seconds"] / theirs["seconds"]
            ratios.append(ratio)
            print(f"{name:34} {mine_text:>10} {bare_text:>10} {cost_text:>7} {theirs['seconds']:19.4f} {ratio:5.2f}x")
        else:
            print(f"{name:34} {mine_text:>10} {bare_text:>10} {cost_text:>7} {'fails':>19}        {theirs.get('error', '')}")
        if "error" in mine:
            print(f"    tritonhost error: {mine['error']}")
    ran = sum("seconds" in r for r in triton_results.values())
    print(f"\nTriton's interpreter ran {ran} of {len(triton_results)} kernels; tritonhost ran "
          f"{sum('seconds' in r for r in ours.values())}.")
    if ratios:
        print(f"median ratio tritonhost / Triton's interpreter on the kernels both run: {statistics.median(ratios):.2f}x")
    if check_costs:
        print(f"bounds checks: median {statistics.median(check_costs):.2f}x, at most {max(check_costs):.2f}x the "
              "unchecked time per launch")


if __name__ == "__main__":
    main()
