"""analyze(): arguments as a launch takes them, stand-ins for symbolic values, caching, errors."""

from __future__ import annotations

import logging

import pytest
import sympy
import torch
import triton
import triton.language as tl
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv

import tritonhost
from corpus import copy, impure_inline_asm, runtime_flag, t
from tritonhost.analysis import analyzer


def test_real_fake_and_meta_tensors_agree():
    real = tritonhost.analyze(copy, torch.empty(64), torch.empty(64), 64, BLOCK=32)
    with FakeTensorMode():
        src, dst = torch.empty(64), torch.empty(64)
    fake = tritonhost.analyze(copy, src, dst, 64, BLOCK=32)
    meta = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert real.written == fake.written == meta.written == ("dst",)
    assert real.read == fake.read == meta.read == ("src",)
    assert real.exact and fake.exact and meta.exact


def test_symbolic_sizes():
    shape_env = ShapeEnv()
    with FakeTensorMode(shape_env=shape_env) as mode:
        n = shape_env.create_unbacked_symint()
        src = mode.from_tensor(torch.empty(8))
    result = tritonhost.analyze(copy, src, t(8), n, BLOCK=32)
    assert (result.written, result.read, result.exact) == (("dst",), ("src",), True)
    result = tritonhost.analyze(copy, t(8), t(8), sympy.Symbol("s0", integer=True) * 4, BLOCK=32)
    assert (result.written, result.read, result.exact) == (("dst",), ("src",), True)


def test_runtime_scalar_is_not_folded():
    # PyTorch's analysis folds flag=3 into a constant and reports only a_ptr.
    for flag in (0, 1, 3):
        result = tritonhost.analyze(runtime_flag, t(8), t(8), t(8), flag, BLOCK=8)
        assert (result.written, result.read, result.exact) == (("a_ptr", "b_ptr"), ("x_ptr",), True)


def test_scalars_never_appear():
    result = tritonhost.analyze(copy, t(8), t(8), 8, BLOCK=8)
    assert (result.written, result.read, result.exact) == (("dst",), ("src",), True)


def test_wrong_argument_count_names_expected_and_given():
    with pytest.raises(tritonhost.KernelArgumentError, match=r"(?s)missing 'n'.*expected: src, dst, n, BLOCK"):
        tritonhost.analyze(copy, t(8), t(8), BLOCK=8)
    with pytest.raises(tritonhost.KernelArgumentError, match="takes 4 arguments but 5 were given"):
        tritonhost.analyze(copy, t(8), t(8), 8, 8, 8)


def test_results_are_cached_by_types_and_constexprs(monkeypatch):
    analyzer.clear_cache()
    walks = []
    walk = analyzer._walk
    monkeypatch.setattr(analyzer, "_walk", lambda *args: walks.append(args) or walk(*args))
    first = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert len(analyzer._results) == 1 and len(walks) == 1
    tritonhost.analyze(copy, t(128), t(128), 100, BLOCK=32)  # same types: same entry
    assert len(analyzer._results) == 1
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=64)  # another constexpr value
    tritonhost.analyze(copy, t(64, dtype=torch.float16), t(64, dtype=torch.float16), 64, BLOCK=32)  # other types
    tritonhost.analyze(copy, t(64), t(64), 2**40, BLOCK=32)  # an i64 scalar
    assert len(analyzer._results) == 4
    walked = len(walks)
    again = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert again == first
    assert len(walks) == walked, "a cached result is served without generating TTIR again"


def test_fallback_warns_once(caplog):
    analyzer._warned.clear()
    with caplog.at_level(logging.WARNING, logger="tritonhost.analysis.analyzer"):
        for _ in range(3):
            tritonhost.analyze(impure_inline_asm, t(16), t(16), BLOCK=16)
    warnings = [r for r in caplog.records if "impure_inline_asm" in r.getMessage()]
    assert len(warnings) == 1
    assert "not exact" in warnings[0].getMessage()


def test_ttir_is_kept_for_inspection():
    result = tritonhost.analyze(copy, t(8), t(8), 8, BLOCK=8)
    (ttir,) = result.ttir
    assert "tt.func public @copy" in ttir and "tt.store" in ttir


def test_unknown_target_is_an_error():
    with pytest.raises(ValueError, match="unknown target 'tpu:1'"):
        tritonhost.analysis.analyze_call(copy, (t(8), t(8), 8), {"BLOCK": 8}, target="tpu:1")


@triton.jit(noinline=True)
def _recursive_store(p, n):
    if n > 0:
        tl.store(p, n)
        _recursive_store(p, n - 1)


@triton.jit
def _calls_recursion(x_ptr, n):
    _recursive_store(x_ptr, n)


def test_recursion_is_an_error_not_a_hang():
    # Triton's front end refuses recursive calls; the analysis says so and stays sound.
    result = tritonhost.analyze(_calls_recursion, t(4), 3)
    assert not result.exact
    assert "CompilationError" in result.reason and "_recursive_store" in result.reason
    assert result.written == ("x_ptr",)
