"""Autotune configs compiled at once, before they are timed (compat/compile_ahead.py).

On the CPU, what the host asks of a launcher that compiles ahead: one call per config
left after pruning, resolved as its launch will be (heuristics applied, defaults
filled), before the first config is timed, and only when timing happens. On the GPU,
that Triton's compiles really run on several threads before the timing runs, and that
configs which fail still fail as Triton's do.
"""

from __future__ import annotations

import threading

import pytest
import torch
import triton
import triton.language as tl

import tritonhost
from tritonhost.compat import compile_ahead


def _scaler():
    @triton.autotune(configs=[triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((16, 1), (32, 2), (64, 4))],
                     key=["n"])
    @triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
    @triton.jit
    def scale(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr, FACTOR: tl.constexpr = 3):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        if EVEN:
            tl.store(out_ptr + offsets, tl.load(x_ptr + offsets) * FACTOR)
        else:
            mask = offsets < n
            tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * FACTOR, mask=mask)

    return scale


def _launch(kernel, n, device="cpu"):
    x = torch.randn(n, device=device)
    out = torch.full_like(x, float("nan"))
    tritonhost.wrap(kernel)[lambda m: (triton.cdiv(n, m["BLOCK"]),)](x, out, n)
    torch.testing.assert_close(out, 3 * x)


def test_each_config_is_compiled_ahead_as_it_will_launch_before_any_is_timed(extra_entry_points):
    import timing_plugins

    extra_entry_points("aheadoftime", "timing_plugins:ahead_of_time")
    kernel = _scaler()
    timing_plugins.COMPILED_AHEAD.clear()
    with tritonhost.use_backend("aheadoftime"):
        benchmarks_before = len(timing_plugins.ASKED)
        _launch(kernel, 64)
        _launch(kernel, 64)  # the same tuning key: nothing is compiled or timed again
        _launch(kernel, 50)
    assert len(timing_plugins.ASKED) == benchmarks_before + 6  # three configs timed per key
    first, second = timing_plugins.COMPILED_AHEAD
    calls, benchmarked = first
    assert benchmarked == benchmarks_before  # asked before the first config was timed
    assert [(p["BLOCK"], p["EVEN"], p["FACTOR"], o["num_warps"]) for p, o in calls] == [
        (16, True, 3, 1), (32, True, 3, 2), (64, True, 3, 4)
    ]
    assert second[1] == benchmarks_before + 3
    assert [p["EVEN"] for p, _ in second[0]] == [False, False, False]  # 50 divides by none of them
    assert all(isinstance(p["x_ptr"], torch.Tensor) and p["n"] == 50 for p, _ in second[0])


def test_a_choice_from_the_persistent_cache_compiles_nothing_ahead(extra_entry_points):
    import timing_plugins

    extra_entry_points("aheadoftime", "timing_plugins:ahead_of_time")
    timing_plugins.COMPILED_AHEAD.clear()
    with tritonhost.use_backend("aheadoftime"):
        _launch(_scaler(), 64)
        assert len(timing_plugins.COMPILED_AHEAD) == 1
        _launch(_scaler(), 64)  # the same source, a new kernel object: the cache file has its choice
    assert len(timing_plugins.COMPILED_AHEAD) == 1


def test_compiling_ahead_can_be_turned_off(monkeypatch):
    assert compile_ahead.available()
    monkeypatch.setenv(compile_ahead.ENV_VAR, "0")
    assert not compile_ahead.available()
    started = []
    assert compile_ahead.compile_at_once("k", [lambda: started.append(1)] * 3) == 0 and not started


def test_a_start_that_fails_is_left_to_the_launch():
    # Real starts would call JITFunction.run(warmup=True); these stand for them, one of which
    # fails before it submits anything. Under the mode, the others still run.
    ran = []

    def fails():
        raise ValueError("a config the front end refuses")

    count = compile_ahead.compile_at_once("k", [lambda: ran.append(1), fails, lambda: ran.append(2)])
    if compile_ahead.threads_for(3) < 2:
        assert count == 0 and not ran  # one core: nothing to gain
    else:
        assert count == 2 and ran == [1, 2]


# --- on the GPU ---------------------------------------------------------------------------------


def _matmul(configs):
    @triton.autotune(configs=configs, key=["M", "N", "K"])
    @triton.jit
    def matmul(a, b, c, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
        pid_m, pid_n = tl.program_id(0), tl.program_id(1)
        rm = pid_m * BM + tl.arange(0, BM)
        rn = pid_n * BN + tl.arange(0, BN)
        rk = tl.arange(0, BK)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k in range(0, K, BK):
            x = tl.load(a + rm[:, None] * K + (k + rk)[None, :], mask=(rm[:, None] < M) & ((k + rk)[None, :] < K), other=0.0)
            y = tl.load(b + (k + rk)[:, None] * N + rn[None, :], mask=((k + rk)[:, None] < K) & (rn[None, :] < N), other=0.0)
            acc += tl.dot(x, y)
        tl.store(c + rm[:, None] * N + rn[None, :], acc.to(c.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < N))

    return matmul


@pytest.mark.gpu
def test_on_the_gpu_configs_compile_on_several_threads_before_timing(monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    monkeypatch.setenv("TRITONHOST_CACHE_DIR", str(tmp_path / "tritonhost"))
    configs = [triton.Config({"BM": m, "BN": n, "BK": 32}, num_warps=w, num_stages=s)
               for m, n, w, s in ((64, 64, 4, 2), (128, 64, 4, 3), (64, 128, 4, 3), (128, 128, 8, 3))]
    kernel = _matmul(configs)
    threads: list[str] = []
    compile_original = triton.compiler.compile

    def compile_recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return compile_original(*args, **kwargs)

    # A JITFunction takes triton.compiler.compile when it first launches on a device (its
    # create_binder, Triton 3.6 and 3.9): this kernel is new, so it takes this one.
    monkeypatch.setattr(triton.compiler, "compile", compile_recorded)
    with tritonhost.use_backend("cuda") as backend:
        compiled_when_timed = []
        benchmark = backend.benchmark

        def spy(fn, **budget):
            compiled_when_timed.append(len(threads))
            return benchmark(fn, **budget)

        monkeypatch.setattr(backend, "benchmark", spy)
        a = torch.randn(256, 192, device="cuda", dtype=torch.float16)
        b = torch.randn(192, 320, device="cuda", dtype=torch.float16)
        c = torch.empty(256, 320, device="cuda", dtype=torch.float16)
        grid = lambda m: (triton.cdiv(256, m["BM"]), triton.cdiv(320, m["BN"]))
        tritonhost.wrap(kernel)[grid](a, b, c, 256, 320, 192)
    torch.testing.assert_close(c, (a.float() @ b.float()).half(), rtol=2e-2, atol=2e-2)
    assert len(threads) == 4
    if compile_ahead.threads_for(4) >= 2:
        assert compiled_when_timed == [4, 4, 4, 4]  # all four before the first timing
        assert all(name.startswith("tritonhost-compile") for name in threads), threads
    else:  # one core: each compiles at its first timing run, as Triton does
        assert compiled_when_timed == [0, 1, 2, 3]


@pytest.mark.gpu
def test_on_the_gpu_a_config_out_of_shared_memory_is_still_ruled_out(monkeypatch, tmp_path):
    # 256x256x256 fp32 tiles, four stages: megabytes of shared memory, more than any GPU has.
    # Triton likely refuses it when the binary loads, at its timing launch, not in the compile.
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    monkeypatch.setenv("TRITONHOST_CACHE_DIR", str(tmp_path / "tritonhost"))
    kernel = _matmul([triton.Config({"BM": 256, "BN": 256, "BK": 256}, num_warps=8, num_stages=4),
                      triton.Config({"BM": 64, "BN": 64, "BK": 32}, num_warps=4, num_stages=2)])
    a = torch.randn(128, 96, device="cuda")
    b = torch.randn(96, 64, device="cuda")
    c = torch.empty(128, 64, device="cuda")
    with tritonhost.use_backend("cuda"):
        wrapped = tritonhost.wrap(kernel)
        wrapped[lambda m: (triton.cdiv(128, m["BM"]), triton.cdiv(64, m["BN"]))](a, b, c, 128, 64, 96)
        (chosen,) = wrapped.runner().choosers[0].cache.values()
    assert chosen.kwargs["BM"] == 64
    torch.testing.assert_close(c, a @ b, rtol=1e-2, atol=1e-2)  # tl.dot in TF32
