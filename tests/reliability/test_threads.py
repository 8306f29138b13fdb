"""The analysis in one thread never sees the interpreter's patches of another thread's launch."""

from __future__ import annotations

import threading

import torch

import tritonhost
from kernels import add_kernel, row_sum_kernel
from tritonhost.analysis import analyze, clear_cache


def test_analyses_beside_interpreter_launches_stay_exact(interpreter):
    stop = threading.Event()
    launches = 0
    failure: list[BaseException] = []

    def launch_forever() -> None:
        nonlocal launches
        x, y = torch.randn(256), torch.randn(256)
        out = torch.empty(256)
        try:
            with tritonhost.use_backend("interpreter"):
                while not stop.is_set():
                    tritonhost.wrap(add_kernel)[(16,)](x, y, out, 256, BLOCK=16)
                    launches += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    thread = threading.Thread(target=launch_forever)
    thread.start()
    results = []
    try:
        for _ in range(400):
            clear_cache()  # generate TTIR every time, while launches run beside
            results.append(analyze(row_sum_kernel, torch.zeros(4, 8), torch.zeros(4), 8, 8, BLOCK=8))
    finally:
        stop.set()
        thread.join()
    assert not failure, failure
    assert launches > 0
    inexact = [r.reason for r in results if not r.exact]
    assert not inexact, f"{len(inexact)} of {len(results)} analyses inexact, first: {inexact[0]}"
    assert {(r.written, r.read) for r in results} == {(("out_ptr",), ("x_ptr",))}
