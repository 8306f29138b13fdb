"""The interpreter runs a grid's programs as one batch, and program by program where that would change the result.

Each kernel runs on several programs with different data, so that a value mixed up between
programs or an axis off by one fails the comparison with PyTorch. Each reason to fall back
has a test that checks the result, the reason logged, and that memory the abandoned batched
attempt wrote was put back (an in-place update applied once).
"""

from __future__ import annotations

import logging

import batching_kernels as k
import pytest
import torch
from triton.tools.tensor_descriptor import TensorDescriptor

import tritonhost
from library_cases import CASES
from tritonhost_interpreter import batching, progress

wrap = tritonhost.wrap


class Runs:
    """What the interpreter logged about running a launch program by program."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def fallbacks(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records if "program by program" in r.getMessage()]

    def assert_batched(self) -> None:
        assert self.fallbacks() == [], self.fallbacks()

    def assert_fell_back(self, reason: str) -> None:
        assert any(reason in message for message in self.fallbacks()), self.fallbacks()


@pytest.fixture
def batched(interpreter, monkeypatch, caplog):
    monkeypatch.setenv(batching.BATCH_ENV, "1")
    caplog.set_level(logging.DEBUG, logger="tritonhost.interpreter")
    return Runs(caplog)


def _one_by_one(monkeypatch, launch):
    with monkeypatch.context() as patched:
        patched.setenv(batching.BATCH_ENV, "0")
        return launch()


# --- operations, batched ----------------------------------------------------------------------


def test_reductions_and_scans_per_row(batched):
    rows, cols = 6, 13
    x = torch.randn(rows, cols)
    outs = [torch.empty(rows), torch.empty(rows), torch.empty(rows, dtype=torch.int32), torch.empty(rows),
            torch.empty(rows, dtype=torch.int32), torch.empty(rows, cols), torch.empty(rows, cols)]
    wrap(k.row_reductions)[(rows,)](x, *outs, cols, BLOCK=16)
    batched.assert_batched()
    total, peak, argmax, maxabs, argmin, cumsum, runmax = outs
    torch.testing.assert_close(total, x.sum(1))
    torch.testing.assert_close(peak, x.max(1).values)
    assert argmax.tolist() == x.argmax(1).tolist()
    assert maxabs.tolist() == x.gather(1, x.abs().argmax(1, keepdim=True)).squeeze(1).tolist()
    assert argmin.tolist() == x.argmin(1).tolist()
    torch.testing.assert_close(cumsum, x.cumsum(1))
    torch.testing.assert_close(runmax, x.cummax(1).values)


@pytest.mark.filterwarnings("ignore:tl.cat\\(can_reorder=True\\) is deprecated")  # Triton 3.6 needs it
def test_tile_shapes_per_program(batched):
    programs, m, n = 5, 4, 8
    x = torch.randn(programs, m, n)
    t, colsum, rowsum = torch.empty(programs, n, m), torch.empty(programs, n), torch.empty(programs, m)
    flat, cat, joined = torch.empty(programs, m * n), torch.empty(programs, 2 * n), torch.empty(programs, 2 * n)
    wrap(k.tile_shapes)[(programs,)](x, t, colsum, rowsum, flat, cat, joined, M=m, N=n)
    batched.assert_batched()
    torch.testing.assert_close(t, x.transpose(1, 2))
    torch.testing.assert_close(colsum, x.sum(1))
    torch.testing.assert_close(rowsum, x.sum(2))
    torch.testing.assert_close(flat, x.reshape(programs, -1) * 2)
    torch.testing.assert_close(cat, x[:, :2].reshape(programs, -1))
    torch.testing.assert_close(joined, torch.cat([x[:, 1], x[:, 0]], dim=1))


def test_gather_and_histogram_per_program(batched):
    programs, block, bins = 4, 16, 8
    x = torch.randn(programs, block)
    index = torch.randint(0, bins, (programs, block), dtype=torch.int32)
    gathered, hist = torch.empty(programs, block), torch.empty(programs, bins, dtype=torch.int32)
    wrap(k.gather_histogram)[(programs,)](x, index, gathered, hist, BLOCK=block, BINS=bins)
    batched.assert_batched()
    torch.testing.assert_close(gathered, x.gather(1, index.long()))
    for p in range(programs):
        assert hist[p].tolist() == torch.bincount(index[p].long(), minlength=bins).tolist()


def test_tiled_matmul_on_a_2d_grid(batched):
    a, b = torch.randn(48, 64), torch.randn(64, 32)
    c = torch.empty(48, 32)
    wrap(k.tile_matmul)[(3, 2)](a, b, c, 64, 32, BLOCK_M=16, BLOCK_N=16, BLOCK_K=16)
    batched.assert_batched()
    torch.testing.assert_close(c, a @ b, rtol=1e-5, atol=1e-5)


def test_program_ids_on_a_3d_grid_in_launch_order(batched):
    out = torch.empty(4 * 3 * 2, dtype=torch.int32)
    wrap(k.grid_3d)[(4, 3, 2)](out)
    batched.assert_batched()
    expected = [x * 100 + y * 10 + z for x in range(4) for y in range(3) for z in range(2)]
    assert out.tolist() == expected


#: Grids whose chunks have a program id with equal first and last values that still varies
#: between them: on (100, 3) the first chunk, programs 0 to 63, has program_id(1) 0, 1, 2, ..., 0.
UNEVEN_GRIDS = [(100, 3), (40, 3, 3), (3, 100), (7, 1, 70), (130, 2, 1)]


@pytest.mark.parametrize("grid", UNEVEN_GRIDS, ids=str)
def test_program_ids_that_repeat_across_a_chunk(batched, grid):
    nx, ny, nz = (*grid, 1, 1)[:3]
    out = torch.empty(nx * ny * nz, dtype=torch.int32)
    wrap(k.grid_3d)[grid](out)
    batched.assert_batched()
    expected = [x * 100 + y * 10 + z for x in range(nx) for y in range(ny) for z in range(nz)]
    assert out.tolist() == expected


@pytest.mark.parametrize("grid", [(100, 3), (3, 100)], ids=str)
def test_a_2d_tile_copy_matches_program_by_program(batched, monkeypatch, grid):
    block_m, block_n = 4, 8
    m, n = grid[0] * block_m - 1, grid[1] * block_n - 3  # masked edges on both axes
    x = torch.randn(m, n)

    def launch() -> torch.Tensor:
        out = torch.zeros_like(x)
        wrap(k.tile_copy_2d)[grid](x, out, m, n, n, BLOCK_M=block_m, BLOCK_N=block_n)
        return out

    first, second = launch(), launch()  # the second replays the first's tape
    batched.assert_batched()
    expected = x + 1000.0 * (torch.arange(n) // block_n).float()[None, :]
    assert torch.equal(first, expected) and torch.equal(second, expected)
    assert torch.equal(_one_by_one(monkeypatch, launch), expected)


def test_commutative_atomics_batch(batched):
    programs, block = 8, 32
    x = (torch.rand(programs * block) * 64).floor()
    bins = torch.zeros(8, dtype=torch.int32)
    total, peak, low = torch.zeros(1), torch.zeros(1, dtype=torch.int32), torch.full((1,), 1000, dtype=torch.int32)
    wrap(k.atomic_counts)[(programs,)](x, bins, total, peak, low, BLOCK=block)
    batched.assert_batched()
    assert bins.tolist() == torch.bincount(x.int() & 7, minlength=8).tolist()
    torch.testing.assert_close(total, x.sum().reshape(1))  # sums of integers: exact in any order
    assert peak.item() == int(x.max()) and low.item() == int(x.min())


def test_a_scalar_argument_and_masks_per_row(batched):
    x = torch.randn(7, 10)
    out = torch.empty_like(x)
    wrap(k.scale_rows)[(7,)](x, out, 10, 0.5, BLOCK=16)
    batched.assert_batched()
    torch.testing.assert_close(out, x * 0.5 + torch.arange(7.0)[:, None])


def test_a_grid_runs_in_chunks(batched, monkeypatch):
    monkeypatch.setattr(batching, "FIRST_CHUNK", 3)
    monkeypatch.setattr(batching, "CHUNK_ELEMENTS", 5 * 16)  # 5 programs of 16 columns a chunk
    x = torch.randn(23, 16)
    out = torch.empty_like(x)
    counted = []
    original = progress.Progress.advance
    monkeypatch.setattr(progress.Progress, "advance", lambda self, n: (counted.append(n), original(self, n)))
    wrap(k.scale_rows)[(23,)](x, out, 16, 2.0, BLOCK=16)
    batched.assert_batched()
    torch.testing.assert_close(out, x * 2.0 + torch.arange(23.0)[:, None])
    assert counted == [3, 5, 5, 5, 5]
    # The next launch of the same specialization knows its blocks: no small first chunk.
    counted.clear()
    again = torch.empty_like(x)
    wrap(k.scale_rows)[(23,)](x, again, 16, 2.0, BLOCK=16)
    assert torch.equal(again, out)
    assert counted == [5, 5, 5, 5, 3]


# --- reasons to run program by program ------------------------------------------------------


def test_a_branch_on_the_program_id_reruns_with_the_in_place_update_applied_once(batched):
    x = torch.arange(32.0)
    out = torch.zeros(4)
    wrap(k.increment_then_branch_on_pid)[(4,)](x, out, BLOCK=8)
    batched.assert_fell_back("Python control flow on a value that differs between programs")
    torch.testing.assert_close(x, torch.arange(32.0) + 1)
    assert out.tolist() == [1.0, -1.0, 1.0, -1.0]


def test_a_loop_whose_trip_count_differs_per_program(batched):
    out = torch.zeros(6, dtype=torch.int32)
    wrap(k.loop_per_program)[(6,)](out)
    batched.assert_fell_back("differs between programs")
    assert out.tolist() == [p * (p + 1) // 2 for p in range(6)]


def test_a_branch_on_loaded_data_batches_where_it_agrees(batched):
    out = torch.zeros(4, 8)
    wrap(k.branch_on_data)[(4,)](torch.ones(4, dtype=torch.int32), out, BLOCK=8)
    batched.assert_batched()
    torch.testing.assert_close(out, torch.arange(32.0).reshape(4, 8))
    flags = torch.tensor([1, 0, 1, 0], dtype=torch.int32)
    wrap(k.branch_on_data)[(4,)](flags, out, BLOCK=8)
    batched.assert_fell_back("values False, True")
    expected = torch.arange(32.0).reshape(4, 8) * torch.where(flags > 0, 1.0, -1.0)[:, None]
    torch.testing.assert_close(out, expected)


def test_divergence_is_remembered_for_the_specialization(batched):
    out = torch.zeros(6, dtype=torch.int32)
    wrap(k.loop_per_program)[(6,)](out)
    wrap(k.loop_per_program)[(6,)](out)
    assert "as before for this specialization" in batched.fallbacks()[-1]
    assert out.tolist() == [p * (p + 1) // 2 for p in range(6)]


def test_atomic_cas_and_xchg_run_program_by_program(batched):
    lock, counter = torch.zeros(1, dtype=torch.int32), torch.zeros(1, dtype=torch.int32)
    wrap(k.locked_increment)[(5,)](lock, counter)
    batched.assert_fell_back("atomic_cas")
    assert counter.item() == 5 and lock.item() == 0


def test_atomic_xchg_sees_the_previous_program(batched):
    slot, seen = torch.full((1,), -1, dtype=torch.int32), torch.zeros(4, dtype=torch.int32)
    wrap(k.exchange)[(4,)](slot, seen)
    batched.assert_fell_back("atomic_xchg")
    assert seen.tolist() == [-1, 0, 1, 2] and slot.item() == 3


def test_debug_barrier_runs_program_by_program(batched):
    x = torch.randn(24)
    out = torch.zeros(24)
    wrap(k.barrier_copy)[(3,)](x, out, BLOCK=8)
    batched.assert_fell_back("tl.debug_barrier")
    torch.testing.assert_close(out, x * 2)


def test_device_print_runs_program_by_program(batched, capsys):
    x = torch.arange(4.0)
    out = torch.zeros(4)
    wrap(k.printing)[(2,)](x, out, BLOCK=2)
    batched.assert_fell_back("device_print")
    printed = capsys.readouterr().out
    lines = [line.split() for line in printed.splitlines()]
    assert lines == [["(0,", "0,", "0)", "x:", "[0.", "1.]"], ["(1,", "0,", "0)", "x:", "[2.", "3.]"]], printed
    torch.testing.assert_close(out, x + 1)


def test_an_operation_not_reviewed_for_batching_runs_program_by_program(batched):
    x = torch.randn(32, 16)
    out = torch.zeros(32, 16)
    in_desc, out_desc = (TensorDescriptor(t, list(t.shape), list(t.stride()), [8, 16]) for t in (x, out))
    wrap(k.descriptor_copy)[(4,)](in_desc, out_desc, BLOCK=8)
    batched.assert_fell_back("not reviewed for batching")
    torch.testing.assert_close(out, x)


def test_an_out_of_bounds_access_is_reported_as_program_by_program(batched, monkeypatch):
    def launch():
        src, dst = torch.arange(40.0), torch.zeros(48)
        with pytest.raises(tritonhost.OutOfBoundsError) as raised:
            wrap(k.copy_past_the_end)[(3,)](src, dst, BLOCK=16)
        return str(raised.value), dst

    message, dst = launch()
    batched.assert_fell_back("out-of-bounds")
    expected_message, expected_dst = _one_by_one(monkeypatch, launch)
    assert message == expected_message and "program id (2, 0, 0)" in message
    assert torch.equal(dst, expected_dst), "the writes of programs 0 and 1, as one by one"
    assert torch.equal(dst[:32], torch.arange(32.0)) and torch.equal(dst[32:], torch.zeros(16))


def test_zero_turns_batching_off(interpreter, monkeypatch, caplog):
    monkeypatch.setenv(batching.BATCH_ENV, "0")
    caplog.set_level(logging.DEBUG, logger="tritonhost.interpreter")
    out = torch.zeros(6, dtype=torch.int32)
    wrap(k.loop_per_program)[(6,)](out)
    assert Runs(caplog).fallbacks() == [], "no batched attempt to abandon"
    assert out.tolist() == [p * (p + 1) // 2 for p in range(6)]


# --- the library corpus, both ways -------------------------------------------------------------

#: Library kernels that branch on loaded data (the cross-entropy's ignored rows).
DIVERGING = {"cross_entropy_in_place_gradient"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_library_kernels_give_the_same_results_both_ways(case, batched, monkeypatch):
    def launch():
        torch.manual_seed(0)
        setup = case.setup("cpu")
        wrap(case.kernel)[setup.grid](*setup.args, **setup.kwargs)
        return setup.outputs(), setup.expected

    got, expected = launch()
    if case.name in DIVERGING:
        batched.assert_fell_back("differs between programs")
    else:
        batched.assert_batched()
    one_by_one, _ = _one_by_one(monkeypatch, launch)
    for batched_value, reference, exact in zip(got, expected, one_by_one, strict=True):
        torch.testing.assert_close(batched_value, exact, rtol=0, atol=0)
        torch.testing.assert_close(batched_value, reference, rtol=1e-4, atol=1e-5)


# --- Triton's overflow check, whose result the interpreter drops --------------------------------


def test_int32_overflow_wraps_as_compiled_triton_does_both_ways(batched, monkeypatch):
    from triton.language.semantic import TritonSemantic

    triton_check = TritonSemantic.binary_op_sanitize_overflow_impl
    x = torch.arange(-40000, 40000, 625, dtype=torch.int32)
    want = ((x.long() * 65536 + 7 + 2**31) % 2**32 - 2**31).int()  # two's complement wrap-around
    out = torch.empty_like(x)
    wrap(k.int32_overflow)[(x.numel() // 16,)](x, out, BLOCK=16)
    batched.assert_batched()
    assert torch.equal(out, want)
    assert TritonSemantic.binary_op_sanitize_overflow_impl is triton_check  # put back after the launch
    again = torch.empty_like(x)
    _one_by_one(monkeypatch, lambda: wrap(k.int32_overflow)[(x.numel() // 16,)](x, again, BLOCK=16))
    assert torch.equal(again, want)


def test_the_overflow_check_runs_only_where_its_result_is_used():
    calls = []
    builder = batching.builder()
    check = batching._unused_overflow_check_skipped(lambda *args: calls.append(args[0]), builder)

    class Semantic:
        def __init__(self, builder):
            self.builder = builder

    ours, other = Semantic(builder), Semantic(object())
    check(ours, None, None, None)  # the interpreter's options never ask for debugging
    assert calls == []
    check(other, None, None, None)  # another builder (a compile in another thread)
    assert calls == [other]
    original = builder.options
    builder.options = type(original)(debug=True)
    try:
        check(ours, None, None, None)
    finally:
        builder.options = original
    assert calls == [other, ours]
