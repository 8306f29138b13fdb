"""Autotuned kernels: configs chosen per tuning key, timed through the backend's benchmark hook."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

import tritonhost
from kernels import autotuned_accumulate_kernel, autotuned_scale_kernel
from tritonhost.host import discovery


@pytest.fixture
def timing_interpreter(monkeypatch):
    """The interpreter backend with CPU timing of configs switched on."""
    monkeypatch.setenv("TRITONHOST_INTERPRETER_BENCHMARK", "1")
    discovery.reset()
    with tritonhost.use_backend("interpreter") as backend:
        assert backend.info.times_kernels
        timed = []
        benchmark = backend.benchmark
        monkeypatch.setattr(backend, "benchmark", lambda fn, **budget: timed.append(fn) or benchmark(fn, **budget))
        yield timed
    monkeypatch.delenv("TRITONHOST_INTERPRETER_BENCHMARK")
    discovery.reset()


def _grid(meta):
    return (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)


def test_interpreter_takes_first_config_without_timing(interpreter):
    assert not interpreter.info.times_kernels
    x = torch.randn(33)
    out = torch.empty_like(x)
    wrapped = tritonhost.wrap(autotuned_scale_kernel)
    wrapped[_grid](x, out, 2.0, 33)
    torch.testing.assert_close(out, 2 * x)
    chosen = wrapped.runner().choosers[0].cache[(33, "torch.float32", "torch.float32")]
    assert chosen is autotuned_scale_kernel.configs[0]


def test_timed_tuning_caches_one_config_per_key(timing_interpreter):
    wrapped = tritonhost.wrap(autotuned_scale_kernel)
    chooser = wrapped.runner().choosers[0]
    for n in (20, 20, 45):
        x = torch.randn(n)
        out = torch.empty_like(x)
        wrapped[_grid](x, out, 0.5, n)
        torch.testing.assert_close(out, 0.5 * x)
    assert len(timing_interpreter) == 6  # three configs for each of two keys
    assert set(chooser.cache) == {(20, "torch.float32", "torch.float32"), (45, "torch.float32", "torch.float32")}
    assert all(config in autotuned_scale_kernel.configs for config in chooser.cache.values())


def test_reset_to_zero_keeps_timing_runs_from_accumulating(timing_interpreter):
    x = torch.randn(24)
    acc = torch.zeros(24)
    tritonhost.wrap(autotuned_accumulate_kernel)[_grid](x, acc, 24)
    # Each config ran several times while being timed; only the real launch must count.
    torch.testing.assert_close(acc, x)
    assert len(timing_interpreter) == 2


def test_restore_value_and_pruning(timing_interpreter):
    pruned_from = []

    def keep_small(configs, named_args, **kwargs):
        pruned_from.append(len(configs))
        return [c for c in configs if c.kwargs["BLOCK"] <= 32]

    @triton.autotune(
        configs=[triton.Config({"BLOCK": b}) for b in (16, 32, 64)],
        key=["n"],
        restore_value=["x_ptr"],
        prune_configs_by={"early_config_prune": keep_small},
    )
    @triton.jit
    def double_in_place(x_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(x_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 2, mask=mask)

    x = torch.randn(40)
    expected = 2 * x
    wrapped = tritonhost.wrap(double_in_place)
    wrapped[lambda m: (triton.cdiv(40, m["BLOCK"]),)](x, 40)
    torch.testing.assert_close(x, expected)  # doubled once, not once per timing run
    assert pruned_from == [3]
    assert len(timing_interpreter) == 2  # only the configs left after pruning were timed
    (chosen,) = wrapped.runner().choosers[0].cache.values()
    assert chosen.kwargs["BLOCK"] in (16, 32)


def test_tuning_cache_is_per_backend(extra_entry_points):
    from plugin_objects import TIMED

    extra_entry_points("recording", "plugin_objects:backend")
    wrapped = tritonhost.wrap(autotuned_scale_kernel)
    x = torch.randn(33)
    key = (33, "torch.float32", "torch.float32")
    with tritonhost.use_backend("interpreter") as interpreter:
        out = torch.empty_like(x)
        wrapped[_grid](x, out, 2.0, 33)
        torch.testing.assert_close(out, 2 * x)
    timed_before = len(TIMED)
    with tritonhost.use_backend("recording") as recording:
        wrapped[_grid](x, out, 2.0, 33)
    assert torch.equal(out, torch.full((33,), 7.0)), "the recording backend ran the real launch"
    ours, theirs = wrapped.runner(interpreter).choosers[0], wrapped.runner(recording).choosers[0]
    assert ours is not theirs and key in ours.cache and key in theirs.cache
    # The interpreter took its first config untimed; the recording backend timed all three.
    assert len(TIMED) - timed_before == len(autotuned_scale_kernel.configs)


def test_perf_model_and_top_k_prune_before_timing(timing_interpreter):
    estimates = []

    def model(**meta):
        estimates.append(meta["BLOCK"])
        return {16: 3.0, 32: 1.0, 64: 2.0}[meta["BLOCK"]]

    @triton.autotune(
        configs=[triton.Config({"BLOCK": b}) for b in (16, 32, 64)],
        key=["n"],
        prune_configs_by={"perf_model": model, "top_k": 2},
    )
    @triton.jit
    def triple(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 3, mask=mask)

    x = torch.randn(50)
    out = torch.empty_like(x)
    wrapped = tritonhost.wrap(triple)
    wrapped[lambda m: (triton.cdiv(50, m["BLOCK"]),)](x, out, 50)
    torch.testing.assert_close(out, 3 * x)
    assert sorted(estimates) == [16, 32, 64]
    assert len(timing_interpreter) == 2  # the two best estimates, 32 and 64, not 16
    (chosen,) = wrapped.runner().choosers[0].cache.values()
    assert chosen.kwargs["BLOCK"] in (32, 64)


def test_post_hook_hears_of_a_failing_timing_run(timing_interpreter):
    heard = []

    @triton.autotune(
        configs=[triton.Config({"BLOCK": 16}), triton.Config({"BLOCK": 64})],
        key=["n"],
        post_hook=lambda args, exception: heard.append(type(exception).__name__ if exception else None),
    )
    @triton.jit
    def unmasked(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets))

    x = torch.randn(48)
    with pytest.raises(tritonhost.OutOfBoundsError, match="kernel unmasked"):
        tritonhost.wrap(unmasked)[lambda m: (triton.cdiv(48, m["BLOCK"]),)](x, torch.empty_like(x), 48)
    assert heard[-1] == "OutOfBoundsError"  # BLOCK=64 reads past 48 elements


def test_triton_print_autotuning_is_honoured(timing_interpreter, monkeypatch, capsys):
    monkeypatch.setenv("TRITON_PRINT_AUTOTUNING", "1")
    x = torch.randn(70)
    out = torch.empty_like(x)
    tritonhost.wrap(autotuned_scale_kernel)[_grid](x, out, 1.5, 70)
    printed = capsys.readouterr().out
    assert "Triton autotuning for function autotuned_scale_kernel" in printed
    assert "best config selected: BLOCK=" in printed
