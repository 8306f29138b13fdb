"""Every option of ``triton.autotune``, honoured as Triton 3.6 and 3.9 honour it, on the CPU.

The interpreter times configs when TRITONHOST_INTERPRETER_BENCHMARK=1, so what each
option changes (which configs are timed, how, how often, what persists, what runs) is
visible here without a GPU.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import torch
import triton
import triton.language as tl

import tritonhost


def _tripler(blocks=(16, 32, 64), **options):
    """A kernel that triples x into out, autotuned over ``blocks`` with ``options``."""

    @triton.autotune(configs=[triton.Config({"BLOCK": b}) for b in blocks], key=["n"], **options)
    @triton.jit
    def triple(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 3, mask=mask)

    return triple


def _launch(kernel, n=50, device="cpu"):
    """Launch once, check the answer, and return the BLOCK of the config chosen."""
    x = torch.randn(n, device=device)
    out = torch.full_like(x, float("nan"))
    wrapped = tritonhost.wrap(kernel)
    wrapped[lambda m: (triton.cdiv(n, m["BLOCK"]),)](x, out, n)
    torch.testing.assert_close(out, 3 * x)
    (chosen,) = wrapped.runner().choosers[0].cache.values()
    return chosen.kwargs["BLOCK"]


def _recording_blocks(seen):
    """A tuner pre_hook that records which config each timing run is for."""
    return lambda args, reset_only=False: reset_only or seen.append(args["BLOCK"])


# --- warmup and rep -----------------------------------------------------------------------------


def test_warmup_and_rep_are_time_budgets_for_the_backend(timed):
    with pytest.warns(DeprecationWarning, match="warmup, rep, and use_cuda_graph parameters are deprecated"):
        kernel = _tripler(warmup=0, rep=0)  # Triton warns, once, when the decorator runs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _launch(kernel)
    assert not [w for w in caught if "deprecated" in str(w.message)], "warned again at the launch"
    assert [record["budget"] for record in timed] == [{"warmup": 0, "rep": 0}] * 3
    # One run prepares the kernel, one is timed: no more fit in budgets of 0 ms.
    assert [record["runs"] for record in timed] == [2, 2, 2]


def test_without_warmup_and_rep_the_backend_times_its_own_way(timed):
    _launch(_tripler())
    assert [record["budget"] for record in timed] == [{}] * 3
    assert [record["runs"] for record in timed] == [4, 4, 4]  # the interpreter's own: one to prepare, three timed


@pytest.mark.parametrize(("name", "plugin"), [("stopwatch", "stopwatch"), ("oldstopwatch", "old_stopwatch"),
                                              ("oldhooks", "old_hooks")])
def test_backends_written_before_the_budgets_keep_timing_their_own_way(extra_entry_points, name, plugin):
    import timing_plugins

    extra_entry_points(name, f"timing_plugins:{plugin}")
    with pytest.warns(DeprecationWarning):
        kernel = _tripler(warmup=5, rep=7)
    before = len(timing_plugins.ASKED)
    with tritonhost.use_backend(name):
        assert _launch(kernel) == 16  # rigged: the first config timed is the fastest
    asked = timing_plugins.ASKED[before:]
    expected = (5, 7) if name == "stopwatch" else (None, None)
    assert asked == [(name, *expected)] * 3


# --- do_bench -----------------------------------------------------------------------------------


def test_a_custom_do_bench_is_called_as_triton_calls_it_and_ranked_as_triton_ranks(timed):
    seen, asked = [], []
    # Quantiles (median, 20th, 80th percentile) per BLOCK: 32 and 64 tie on the median; Triton's
    # min() over the lists then takes the lower 20th percentile, 64.
    table = {16: [2.0, 1.0, 3.0], 32: [1.0, 0.9, 5.0], 64: [1.0, 0.5, 9.0]}

    def do_bench(kernel_call, quantiles=None):
        asked.append(quantiles)
        kernel_call()
        return table[seen[-1]]

    kernel = _tripler(do_bench=do_bench, pre_hook=_recording_blocks(seen))
    assert _launch(kernel) == 64
    assert asked == [(0.5, 0.2, 0.8)] * 3
    assert timed == [], "the backend's benchmark hook timed too"


def test_a_do_bench_may_return_one_number(timed):
    seen = []
    times = {16: 3.0, 32: 1.0, 64: 2.0}
    kernel = _tripler(do_bench=lambda call, quantiles: call() or times[seen[-1]], pre_hook=_recording_blocks(seen))
    assert _launch(kernel) == 32


def test_a_do_bench_that_returns_no_time_is_refused(timed):
    kernel = _tripler(do_bench=lambda call, quantiles: call())
    with pytest.raises(tritonhost.AutotuneError, match=r"do_bench \(.*\) returned None, which is not a time"):
        _launch(kernel)


def test_an_untimed_backend_does_not_call_do_bench(interpreter):
    calls = []
    kernel = _tripler(do_bench=lambda call, quantiles: calls.append(1) or 1.0)
    assert _launch(kernel) == 16 and calls == []  # the first config the front end accepts


def test_warmup_replaces_do_bench_as_in_triton(timed):
    calls = []

    def do_bench(call, quantiles):
        calls.append(1)
        return 1.0

    with pytest.warns(DeprecationWarning):
        kernel = _tripler(do_bench=do_bench, warmup=3)
    assert kernel._do_bench is not do_bench  # Triton's own tuner dropped it: the evidence
    _launch(kernel)
    assert calls == []
    assert [record["budget"] for record in timed] == [{"warmup": 3, "rep": None}] * 3


def test_use_cuda_graph_is_refused_off_a_cuda_device(timed):
    with pytest.warns(DeprecationWarning):
        kernel = _tripler(use_cuda_graph=True)
    with pytest.raises(tritonhost.UnsupportedFeatureError, match="use_cuda_graph=True.*backend 'interpreter'"):
        _launch(kernel)
    assert timed == []


# --- what persists ------------------------------------------------------------------------------


def _entries():
    path = Path(os.environ["TRITONHOST_CACHE_DIR"]) / "autotune.json"
    if not path.exists():
        return []
    return [entry["kernel"] for entry in json.loads(path.read_text())["entries"].values()]


def test_every_kernel_persists_by_default(timed):
    _launch(_tripler())
    assert _entries() == ["triple"]


def test_cache_off_keeps_what_a_kernel_asks_for(timed, monkeypatch):
    monkeypatch.setenv("TRITONHOST_AUTOTUNE_CACHE", "0")
    _launch(_tripler())
    assert _entries() == []
    asking = _tripler(cache_results=True)
    _launch(asking, n=60)
    assert _entries() == ["triple"]
    # And it is used: a fresh choice for the same key is a hit, with nothing timed.
    tritonhost.wrap(asking).runner().choosers[0].cache.clear()
    hits, benchmarks = tritonhost.autotune_stats()["hits"], len(timed)
    _launch(asking, n=60)
    assert tritonhost.autotune_stats()["hits"] == hits + 1 and len(timed) == benchmarks


def test_triton_cache_autotuning_asks_for_every_kernel(timed, monkeypatch):
    monkeypatch.setenv("TRITONHOST_AUTOTUNE_CACHE", "0")
    kernel = _tripler()
    monkeypatch.setenv("TRITON_CACHE_AUTOTUNING", "1")  # read at the launch, not only when decorated
    _launch(kernel)
    assert _entries() == ["triple"]


# --- prune_configs_by ---------------------------------------------------------------------------

#: Estimated times per BLOCK: 128 is best, then 32, 64, 16.
ESTIMATES = {16: 4.0, 32: 2.0, 64: 3.0, 128: 1.0}


def _estimate(**meta):
    assert meta["n"] == 50 and isinstance(meta["x_ptr"], torch.Tensor)  # the launch's arguments, and the config's
    return ESTIMATES[meta["BLOCK"]]


def test_top_k_as_a_count_times_the_best_estimates(timed):
    seen = []
    kernel = _tripler(blocks=(16, 32, 64, 128), prune_configs_by={"perf_model": _estimate, "top_k": 2},
                      pre_hook=_recording_blocks(seen))
    assert _launch(kernel) in (32, 128)
    assert set(seen) == {32, 128}


def test_top_k_as_a_fraction_times_that_share(timed):
    seen = []
    kernel = _tripler(blocks=(16, 32, 64, 128), prune_configs_by={"perf_model": _estimate, "top_k": 0.75},
                      pre_hook=_recording_blocks(seen))
    _launch(kernel)
    assert set(seen) == {32, 64, 128}


def test_top_k_as_a_fraction_is_of_the_configs_early_pruning_left(timed):
    # Triton 3.9's rule: half of the 2 left is 1, so nothing is timed. (3.6 took half of all 4.)
    kernel = _tripler(
        blocks=(16, 32, 64, 128),
        prune_configs_by={
            "perf_model": _estimate,
            "top_k": 0.5,
            "early_config_prune": lambda configs, named_args, **kwargs: [c for c in configs if c.kwargs["BLOCK"] < 64],
        },
    )
    assert _launch(kernel) == 32
    assert timed == []


def test_a_tiny_top_k_fraction_keeps_one_config(timed):
    kernel = _tripler(prune_configs_by={"perf_model": _estimate, "top_k": 0.1})
    assert _launch(kernel) == 32  # the best estimate of 16, 32, 64; Triton 3.6 kept none and failed
    assert timed == []


@pytest.mark.parametrize("top_k", [1.5, "2", 0, 0.0])
def test_top_k_must_be_a_count_or_a_fraction(timed, top_k):
    kernel = _tripler(prune_configs_by={"perf_model": _estimate, "top_k": top_k})
    with pytest.raises(tritonhost.KernelArgumentError, match=r"top_k is .*; it must be a number of configs"):
        _launch(kernel)


def test_early_config_prune_sees_the_arguments_and_must_keep_one(timed):
    seen_args = []

    def prune(configs, named_args, **kwargs):
        seen_args.append(named_args)
        return []

    with pytest.raises(tritonhost.KernelArgumentError, match="early_config_prune .* left no config"):
        _launch(_tripler(prune_configs_by={"early_config_prune": prune}))
    assert seen_args[0]["n"] == 50 and isinstance(seen_args[0]["out_ptr"], torch.Tensor)


def test_early_config_prune_may_make_a_config_of_its_own(timed):
    kernel = _tripler(prune_configs_by={"early_config_prune": lambda configs, named_args, **kw: [triton.Config({"BLOCK": 8})]})
    assert _launch(kernel, n=20) == 8
    assert timed == []


# --- hooks --------------------------------------------------------------------------------------


def test_the_tuners_hooks_wrap_every_timing_run_and_not_the_launch(timed):
    before, after, resets = [], [], []

    def pre_hook(args, reset_only=False):
        (resets if reset_only else before).append(dict(args))

    kernel = _tripler(pre_hook=pre_hook, post_hook=lambda args, exception: after.append(exception))
    chosen = _launch(kernel)
    runs = sum(record["runs"] for record in timed)
    assert len(before) == len(after) == runs == 12
    assert after == [None] * runs
    assert {args["BLOCK"] for args in before} == {16, 32, 64}
    assert {"x_ptr", "out_ptr", "n", "BLOCK", "num_warps"} <= set(before[0])
    # As Triton does, once after timing, for the chosen config: reset what the timing runs left.
    assert [args["BLOCK"] for args in resets] == [chosen]
    _launch(kernel)  # the same key: chosen already, and the hooks are for timing runs only
    assert len(before) == len(after) == runs and len(resets) == 1


def test_a_configs_pre_hook_runs_before_its_timing_runs_and_each_launch(timed):
    ran = {16: 0, 32: 0}

    def counting(block):
        return lambda args: ran.__setitem__(block, ran[block] + 1)

    @triton.autotune(configs=[triton.Config({"BLOCK": b}, pre_hook=counting(b)) for b in (16, 32)], key=["n"])
    @triton.jit
    def triple(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 3, mask=mask)

    chosen = _launch(triple)
    other = 16 if chosen == 32 else 32
    assert ran[other] == 4 and ran[chosen] == 4 + 1  # its timing runs, then the launch
    _launch(triple)
    assert ran[chosen] == 6


# --- on a GPU -----------------------------------------------------------------------------------


@pytest.mark.gpu
def test_on_a_gpu_warmup_and_rep_reach_tritons_do_bench(monkeypatch):
    from tritonhost import plugin_base

    asked = []
    real = plugin_base.do_bench
    monkeypatch.setattr(plugin_base, "do_bench", lambda fn, **kwargs: asked.append(kwargs) or real(fn, **kwargs))
    with pytest.warns(DeprecationWarning):
        kernel = _tripler(warmup=5, rep=10)
    with tritonhost.use_backend("cuda"):
        _launch(kernel, n=1 << 16, device="cuda")
    assert [(kwargs["warmup"], kwargs["rep"]) for kwargs in asked] == [(5, 10)] * 3


@pytest.mark.gpu
def test_on_a_gpu_use_cuda_graph_times_in_a_cuda_graph(monkeypatch):
    asked = []
    real = triton.testing.do_bench_cudagraph
    monkeypatch.setattr(triton.testing, "do_bench_cudagraph",
                        lambda fn, **kwargs: asked.append(kwargs) or real(fn, **kwargs))
    with pytest.warns(DeprecationWarning):
        kernel = _tripler(use_cuda_graph=True)
    with tritonhost.use_backend("cuda"):
        _launch(kernel, n=1 << 16, device="cuda")
    assert asked == [{"rep": 100, "quantiles": (0.5, 0.2, 0.8)}] * 3  # Triton's Autotuner's arguments


@pytest.mark.gpu
def test_on_a_gpu_tritons_own_do_bench_can_be_given():
    asked = []

    def do_bench(fn, quantiles):
        asked.append(quantiles)
        return triton.testing.do_bench(fn, quantiles=quantiles)  # a list of three times

    with tritonhost.use_backend("cuda"):
        assert _launch(_tripler(do_bench=do_bench), n=1 << 16, device="cuda") in (16, 32, 64)
    assert asked == [(0.5, 0.2, 0.8)] * 3
