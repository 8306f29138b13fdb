"""Separable address arithmetic in the batched interpreter (tritonhost_interpreter.separable).

Each kernel's result is checked against PyTorch and against the per-program path, bit for
bit; where the fast path must be taken, a count of the strided or gathered accesses says it
was, and where it must not (wrapped sums, colliding stores), the result says the dense path
ran.
"""

from __future__ import annotations

import numpy as np
import pytest
import separable_kernels as k
import torch
import triton.language as tl
from triton.runtime.interpreter import TensorHandle

import tritonhost
from tritonhost_interpreter import batching, separable
from tritonhost_interpreter.memory import ArgumentMemory

wrap = tritonhost.wrap


class Accesses:
    """How many loads and stores went through separable pointers, and how many of those were taken."""

    def __init__(self) -> None:
        self.loads = self.stores = self.taken = 0


@pytest.fixture
def accesses(interpreter, monkeypatch):
    monkeypatch.setenv(batching.BATCH_ENV, "1")
    seen = Accesses()
    load, store = ArgumentMemory.load_separable, ArgumentMemory.store_separable

    def counted_load(self, *args, **kwargs):
        seen.loads += 1
        result = load(self, *args, **kwargs)
        seen.taken += result is not None
        return result

    def counted_store(self, *args):
        seen.stores += 1
        result = store(self, *args)
        seen.taken += bool(result)
        return result

    monkeypatch.setattr(ArgumentMemory, "load_separable", counted_load)
    monkeypatch.setattr(ArgumentMemory, "store_separable", counted_store)
    return seen


def _both_ways(monkeypatch, launch):
    """The launch's outputs batched, then program by program."""
    batched = launch()
    with monkeypatch.context() as patched:
        patched.setenv(batching.BATCH_ENV, "0")
        one_by_one = launch()
    for a, b in zip(batched, one_by_one, strict=True):
        assert torch.equal(a, b), "batched and per-program results differ"
    return batched


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_full_blocks_load_and_store_through_strided_views(accesses, monkeypatch, dtype):
    programs, block = 300, 128
    x = torch.randn(programs * block).to(dtype)

    def launch():
        out = torch.empty_like(x)
        wrap(k.scale_shift)[(programs,)](x, out, x.numel(), BLOCK=block)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    torch.testing.assert_close(out, (x.float() * 2 + 1).to(dtype))
    assert accesses.loads and accesses.stores and accesses.taken == accesses.loads + accesses.stores


def test_a_partial_last_block_is_masked(accesses, monkeypatch):
    n, block = 300 * 128 - 37, 128
    x = torch.randn(n)

    def launch():
        out = torch.full((n + 64,), 7.0)  # past n stays untouched
        wrap(k.scale_shift)[(300,)](x, out, n, BLOCK=block)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    torch.testing.assert_close(out[:n], x * 2 + 1)
    assert torch.equal(out[n:], torch.full((64,), 7.0))


@pytest.mark.parametrize("transposed", [False, True], ids=["row-major", "transposed-view"])
def test_tiles_of_a_strided_view_on_a_2d_grid(accesses, monkeypatch, transposed):
    m, n, bm, bn = 96, 80, 16, 16
    base = torch.randn(n, m).t() if transposed else torch.randn(m, n)

    def launch():
        out = torch.empty(m, n)
        wrap(k.tile_copy)[(m // bm, n // bn)](base, out, m, n, base.stride(0), base.stride(1), out.stride(0),
                                               BM=bm, BN=bn)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    assert torch.equal(out, base)
    assert accesses.taken == accesses.loads + accesses.stores > 0


def test_ragged_tiles_fall_back_to_masked_lanes(accesses, monkeypatch):
    m, n, bm, bn = 50, 37, 16, 16
    x = torch.randn(m, n)

    def launch():
        out = torch.zeros(m, n)
        wrap(k.tile_copy)[(4, 3)](x, out, m, n, x.stride(0), x.stride(1), out.stride(0), BM=bm, BN=bn)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    assert torch.equal(out, x)


def test_stores_through_transposed_pointers(accesses, monkeypatch):
    tiles, block = 70, 16
    x = torch.randn(tiles * block, block)

    def launch():
        out = torch.empty_like(x)
        wrap(k.tile_transpose)[(tiles,)](x, out, x.shape[0], BLOCK=block)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    assert torch.equal(out, x.view(tiles, block, block).transpose(1, 2).reshape_as(x))
    assert accesses.taken == accesses.loads + accesses.stores > 0


@pytest.mark.parametrize("factor", [7, 2**30 - 1], ids=["small", "wrapping"])
def test_int32_sums_that_wrap_are_widened_as_the_dense_values_are(accesses, monkeypatch, factor):
    programs, block = 70, 8
    pid = np.arange(programs, dtype=np.int64)[:, None]
    lane = np.arange(block, dtype=np.int64)[None, :]
    wrapped = ((pid * factor + lane + 2**31) % 2**32 - 2**31).reshape(-1)  # int32 two's complement

    def launch():
        out = torch.empty(programs * block, dtype=torch.int64)
        flags = torch.empty(programs * block, dtype=torch.int32)
        wrap(k.wrapping_sums)[(programs,)](out, flags, factor, BLOCK=block)
        return out, flags

    out, flags = _both_ways(monkeypatch, launch)
    assert out.tolist() == wrapped.tolist()
    assert flags.tolist() == (wrapped < 5).astype(int).tolist()
    if factor > 7:
        assert (wrapped < 0).any(), "the test must make sums that wrap"


def test_programs_storing_to_one_address_leave_the_last_programs_values(accesses, monkeypatch):
    def launch():
        out = torch.full((16,), -1, dtype=torch.int32)
        wrap(k.every_program_stores_here)[(200,)](out, BLOCK=16)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    assert out.tolist() == [199] * 16
    assert accesses.stores and accesses.taken == 0, "a colliding store takes the ordered dense path"


def test_addresses_falling_with_the_lane_gather(accesses, monkeypatch):
    n, block = 64 * 32, 32
    x = torch.randn(n)

    def launch():
        out = torch.empty_like(x)
        wrap(k.reversed_copy)[(n // block,)](x, out, n, BLOCK=block)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    assert torch.equal(out, x.flip(0))
    assert accesses.loads and accesses.taken == accesses.loads + accesses.stores


def test_masks_the_bounds_decide_store_everywhere_or_nowhere(accesses, monkeypatch):
    def launch():
        out = torch.zeros(90 * 16, dtype=torch.int32)
        wrap(k.decided_masks)[(90,)](out, BLOCK=16)
        return (out,)

    (out,) = _both_ways(monkeypatch, launch)
    assert out.tolist() == list(range(1, 90 * 16 + 1))


# --- the parts against the dense values ----------------------------------------------------------

EXTREMES = {np.int32: [-(2**31), -1, 0, 1, 2**31 - 1], np.int64: [-(2**63), -1, 0, 1, 2**63 - 1]}


def _random_parts(rng, dtype, programs=7, lanes=5):
    info = np.iinfo(dtype)
    program = rng.integers(info.min, info.max, size=(programs, 1), dtype=dtype, endpoint=True)
    lane = rng.integers(-50, 50, size=(1, lanes)).astype(dtype)
    program[: len(EXTREMES[dtype]), 0] = EXTREMES[dtype][: programs]
    return program, lane


@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_operations_on_parts_equal_the_dense_operations_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    tl_type = tl.int32 if dtype is np.int32 else tl.int64
    for _ in range(20):
        a = separable.SeparableHandle(*_random_parts(rng, dtype), tl_type, (7, 5))
        b = separable.SeparableHandle(*_random_parts(rng, dtype), tl_type, (7, 5))
        dense_a, dense_b = np.array(a.data), np.array(b.data)
        assert np.array_equal(dense_a, a.program + a.lane)
        with np.errstate(over="ignore"):
            for made, want in ((separable.add(a, b), dense_a + dense_b),
                               (separable.add(a, b, subtract=True), dense_a - dense_b)):
                assert made is not None and np.array_equal(made.data, want)
            factor = TensorHandle(np.array([[-3]], dtype=dtype), tl_type)
            product = separable.multiply(a, factor)
            assert product is not None and np.array_equal(product.data, dense_a * dtype(-3))
        for target in (np.int64, np.uint64, np.int32, np.int16):
            cast = separable.cast(a, np.dtype(target), tl_type)
            if cast is not None:  # refused only where the sum may wrap before widening
                assert np.array_equal(cast.data, dense_a.astype(target))
        ten = TensorHandle(np.array([[10]], dtype=dtype), tl_type)
        for op in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal):
            outcome = separable.decided(a, ten, op)
            if outcome is not None:
                assert np.array_equal(np.broadcast_to(outcome, dense_a.shape), op(dense_a, 10))


def test_a_widening_cast_of_a_sum_that_wraps_is_refused():
    program = np.array([[2**31 - 2], [0]], dtype=np.int32)
    lane = np.arange(4, dtype=np.int32)[None, :]
    value = separable.SeparableHandle(program, lane, tl.int32, (2, 4))
    assert separable.cast(value, np.dtype(np.int64), tl.int64) is None
    assert separable.cast(value, np.dtype(np.int16), tl.int16) is not None  # truncation is exact
