"""The analysis is exact only when its answer is right: positions, globals, tuples, loops."""

from __future__ import annotations

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

import analysis_kernels as kernels
import tritonhost
from tritonhost.analysis import analyze, clear_cache


def _check(result, written, read):
    assert (result.written, result.read, result.exact) == (written, read, True), result.reason


def test_a_reassigned_pointer_parameter_is_mapped_by_position():
    a, b = torch.zeros(16), torch.zeros(16)
    _check(analyze(kernels.copy_maybe_in_place, a, b, 1, BLOCK=16), ("a_ptr", "b_ptr"), ("a_ptr",))


def test_the_analysis_covers_what_the_launch_writes(interpreter):
    a, b = torch.arange(16.0), torch.zeros(16)
    result = analyze(kernels.copy_maybe_in_place, a, b, 1, BLOCK=16)
    tritonhost.wrap(kernels.copy_maybe_in_place)[(1,)](a, b, 1, BLOCK=16)
    assert torch.equal(a, torch.arange(16.0) * 2) and "a_ptr" in result.written


def test_a_pointer_chosen_at_run_time_is_exact():
    a, b = torch.zeros(16), torch.zeros(16)
    _check(analyze(kernels.store_to_chosen, a, b, 0, BLOCK=16), ("a_ptr", "b_ptr"), ())


def test_tuple_arguments_are_analysed_element_by_element():
    x, y, out = torch.zeros(8), torch.zeros(8, dtype=torch.float16), torch.zeros(8)
    _check(analyze(kernels.sum_pair, (x, y), out, 8, BLOCK=8), ("out_ptr",), ("pair[0]", "pair[1]"))
    _check(analyze(kernels.scale_pair_in_place, (x, y), 8, BLOCK=8), ("pair[1]",), ("pair[0]",))


def test_an_inexact_answer_counts_tensors_inside_tuples(monkeypatch):
    from tritonhost.analysis import analyzer

    def broken(*args, **kwargs):
        raise RuntimeError("TTIR generation failed")

    clear_cache()
    monkeypatch.setattr(analyzer, "_walk", broken)
    result = analyze(kernels.sum_pair, (torch.zeros(8), torch.zeros(8)), torch.zeros(8), 8, BLOCK=8)
    clear_cache()
    assert not result.exact and "TTIR generation failed" in result.reason
    assert result.written == result.read == ("pair[0]", "pair[1]", "out_ptr")


def test_a_traced_launch_refuses_a_tuple_of_tensors(interpreter):
    def program(x, y, out):
        tritonhost.wrap(kernels.sum_pair)[(1,)]((x, y), out, 8, BLOCK=8)
        return out

    with pytest.raises(tritonhost.UnsupportedFeatureError, match="'pair' is a tuple holding tensors"):
        make_fx(torch.func.functionalize(program))(torch.zeros(8), torch.zeros(8), torch.zeros(8))


def test_loop_carried_pointers_do_not_leak_into_the_loop_index():
    A, k, g = torch.zeros(64), torch.zeros(128), torch.zeros(128)
    _check(analyze(kernels.chunked_scores, A, k, g, 8, BT=8, BK=16), ("A",), ("k", "g"))


@pytest.mark.parametrize(
    ("kernel", "rebind"),
    [
        (kernels.fill_by_global_constexpr, lambda: setattr(kernels, "TO_A", kernels.tl.constexpr(False))),
        (kernels.fill_by_global_helper, lambda: setattr(kernels, "fill", kernels.fill_b)),
    ],
    ids=["global constexpr", "global helper"],
)
def test_a_rebound_global_is_not_served_from_the_cache(kernel, rebind, monkeypatch):
    monkeypatch.setattr(kernels, "TO_A", kernels.TO_A)
    monkeypatch.setattr(kernels, "fill", kernels.fill)
    a, b = torch.zeros(8), torch.zeros(8)
    _check(analyze(kernel, a, b, BLOCK=8), ("a_ptr",), ())
    rebind()
    _check(analyze(kernel, a, b, BLOCK=8), ("b_ptr",), ())
