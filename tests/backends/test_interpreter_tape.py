"""Replay tapes of the batched interpreter (tritonhost_interpreter.tape).

A specialization's first chunk records its operations; later chunks and launches replay
them. Each test checks the result against PyTorch and against the kernel's Python run for
every chunk (``TRITONHOST_INTERPRETER_REPLAY=0``), bit for bit, and that a replay did or did
not happen where it must: a guard that reads another value stops the replay and the launch
runs its Python, with its writes put back first; a recording that saw what it cannot name
is never replayed. A replay whose operations run none of the kernel's Python patches nothing of
Triton's (``batching.replay``); the tests count which way each launch took.
"""

from __future__ import annotations

import logging

import pytest
import tape_kernels as k
import torch
import triton
import triton.language as tl

import tritonhost
from tritonhost_interpreter import batching, plugin, tape

wrap = tritonhost.wrap


class Replays:
    """Chunks replayed, tapes recorded and replays stopped at a guard, over a test."""

    def __init__(self) -> None:
        self.replayed = self.recorded = self.poisoned = self.stopped = 0
        #: Launches replayed alone (batching.replay), and launches that entered the interpreter's patches.
        self.alone = self.interpreted = 0


@pytest.fixture
def replays(interpreter, monkeypatch):
    monkeypatch.setenv(batching.BATCH_ENV, "1")
    monkeypatch.setenv(tape.REPLAY_ENV, "1")
    seen = Replays()
    replay, keep, stopped = tape.Tape.replay, tape.Tapes.keep, tape.Tapes.stopped

    def counted_replay(self, *args):
        replay(self, *args)
        seen.replayed += 1

    def counted_keep(self, key, made):
        seen.recorded += made is not None
        seen.poisoned += made is None
        return keep(self, key, made)

    def counted_stop(self, key):
        seen.stopped += 1
        stopped(self, key)

    alone, interpreting = batching.replay, plugin.interpreting

    def counted_alone(*args):
        peak = alone(*args)
        seen.alone += peak is not None
        return peak

    def counted_interpreting(*args):
        seen.interpreted += 1
        return interpreting(*args)

    monkeypatch.setattr(tape.Tape, "replay", counted_replay)
    monkeypatch.setattr(batching, "replay", counted_alone)
    monkeypatch.setattr(plugin, "interpreting", counted_interpreting)
    monkeypatch.setattr(tape.Tapes, "keep", counted_keep)
    monkeypatch.setattr(tape.Tapes, "stopped", counted_stop)
    return seen


def _python_every_chunk(monkeypatch, launch):
    with monkeypatch.context() as patched:
        patched.setenv(tape.REPLAY_ENV, "0")
        return launch()


def test_a_second_launch_replays_and_matches_the_kernels_python(replays, monkeypatch):
    x, y = torch.randn(4096 * 16), torch.randn(4096 * 16)
    kernel = wrap(k.add)

    def launch():
        out = torch.empty_like(x)
        kernel[(4096,)](x, y, out, x.numel(), BLOCK=16)
        return out

    first, second = launch(), launch()
    assert replays.recorded == 1 and replays.replayed >= 1
    assert torch.equal(first, x + y) and torch.equal(second, x + y)
    assert torch.equal(second, _python_every_chunk(monkeypatch, launch))


def test_chunks_after_the_first_replay_within_one_launch(replays, monkeypatch):
    # 64 programs in the first chunk (blocks unknown yet), then chunks of CHUNK_ELEMENTS lanes.
    monkeypatch.setattr(batching, "CHUNK_ELEMENTS", 512)
    x, y = torch.randn(1000 * 32), torch.randn(1000 * 32)
    out = torch.empty_like(x)
    wrap(k.add)[(1000,)](x, y, out, x.numel(), BLOCK=32)
    assert replays.recorded == 1 and replays.replayed >= 10
    assert torch.equal(out, x + y)


@pytest.mark.parametrize("threshold", [10, 999_999], ids=["doubled", "negated"])
def test_a_branch_on_a_scalar_is_a_guard(replays, monkeypatch, threshold):
    x = torch.randn(2048)
    kernel = wrap(k.branch_on_scalar)

    def launch(limit):
        out = torch.empty_like(x)
        kernel[(16,)](x, out, x.numel(), limit, BLOCK=128)
        return out

    launch(threshold)  # records
    flipped = 999_999 if threshold == 10 else 10  # neither divisible by 16: one specialization
    out = launch(flipped)  # the same specialization, the other branch
    assert replays.stopped == 1, "the guard did not stop the replay"
    want = -x if flipped > x.numel() else x * 2
    assert torch.equal(out, want)
    again = launch(flipped)  # recorded anew for this branch: replays
    assert torch.equal(again, want) and replays.replayed >= 1
    assert torch.equal(again, _python_every_chunk(monkeypatch, lambda: launch(flipped)))


def test_a_loop_bound_is_a_guard(replays, monkeypatch):
    kernel = wrap(k.row_sum_loop)

    def launch(cols):
        x = torch.randn(64, cols)
        out = torch.empty(64)
        kernel[(64,)](x, out, cols, BLOCK=32)
        torch.testing.assert_close(out, x.sum(dim=1))
        return out

    launch(96)
    launch(96)
    assert replays.replayed >= 1 and replays.stopped == 0
    launch(160)  # one more trip: the range's bound reads differently
    assert replays.stopped == 1


def test_a_stopped_replay_puts_back_what_it_stored_first(replays, monkeypatch):
    kernel = wrap(k.accumulate_then_branch)
    n = 1024
    acc = torch.zeros(n)
    kernel[(8,)](acc, torch.tensor([0]), n, BLOCK=128)  # records the branch not taken
    assert torch.equal(acc, torch.ones(n))
    kernel[(8,)](acc, torch.tensor([1]), n, BLOCK=128)  # the replay stores +1, then stops at the branch
    assert replays.stopped == 1
    # Once, then times ten: (1 + 1) * 10. Applied twice, it would read (1 + 1 + 1) * 10.
    assert torch.equal(acc, torch.full((n,), 20.0))


def test_a_rebound_global_constexpr_is_not_replayed(replays, monkeypatch):
    x = torch.randn(1024)
    kernel = wrap(k.scaled)

    def launch():
        out = torch.empty_like(x)
        kernel[(8,)](x, out, x.numel(), BLOCK=128)
        return out

    assert torch.equal(launch(), x * 2.0)
    monkeypatch.setattr(k, "SCALE", tl.constexpr(3.0))
    assert torch.equal(launch(), x * 3.0)
    assert replays.recorded == 2  # a tape per value of the global


def test_reductions_and_scans_replay(replays, monkeypatch):
    kernel = wrap(k.reductions)
    rows, cols = 128, 48
    x = torch.randn(rows, cols)

    def launch():
        sums, maxabs, cumsum = torch.empty(rows), torch.empty(rows), torch.empty(rows, cols)
        kernel[(rows,)](x, sums, maxabs, cumsum, cols, BLOCK=64)
        return sums, maxabs, cumsum

    launch()
    sums, maxabs, cumsum = launch()
    assert replays.replayed >= 1
    torch.testing.assert_close(sums, x.sum(dim=1))
    want_maxabs = x.gather(1, x.abs().argmax(dim=1, keepdim=True)).squeeze(1)
    assert torch.equal(maxabs, want_maxabs)
    torch.testing.assert_close(cumsum, x.cumsum(dim=1))
    for a, b in zip((sums, maxabs, cumsum), _python_every_chunk(monkeypatch, launch), strict=True):
        assert torch.equal(a, b)


def test_an_integer_past_32_bits_gets_its_own_tape(replays, monkeypatch):
    # The offset converts to int32 first, to int64 next: another specialization of types.
    x = torch.randn(1024)
    kernel = wrap(k.index_widened)
    for offset in (7, 2**40):
        out = torch.empty_like(x)
        kernel[(8,)](x, out, x.numel(), offset, BLOCK=128)
        assert torch.equal(out, x + 1)
    assert replays.recorded == 2 and replays.stopped == 0


def test_python_reading_a_value_is_never_replayed(replays, monkeypatch, capsys):
    x = torch.randn(1024)
    kernel = wrap(k.printed)
    for _ in range(2):
        out = torch.empty_like(x)
        kernel[(8,)](x, out, x.numel(), BLOCK=128)
        assert torch.equal(out, x + 1)
    assert replays.poisoned == 1 and replays.replayed == 0
    assert capsys.readouterr().out.count("n is") == 2, "the second launch did not run its Python"


def test_replay_off_runs_the_kernels_python(replays, monkeypatch):
    monkeypatch.setenv(tape.REPLAY_ENV, "0")
    x, y = torch.randn(1024), torch.randn(1024)
    out = torch.empty_like(x)
    for _ in range(2):
        wrap(k.add)[(8,)](x, y, out, x.numel(), BLOCK=128)
    assert replays.recorded == replays.replayed == 0
    assert torch.equal(out, x + y)


# --- replays alone: none of the kernel's Python, nothing of Triton's patched --------------------


def fresh(kernel):
    """The kernel as a new JITFunction: a launcher of its own, no tape from an earlier test."""
    return wrap(triton.jit(kernel.fn))


def test_a_replayed_launch_patches_nothing_of_triton(replays, monkeypatch):
    from triton.runtime import interpreter as triton_interpreter

    x, y = torch.randn(4096 * 16), torch.randn(4096 * 16)
    kernel = fresh(k.add)

    def launch():
        out = torch.empty_like(x)
        kernel[(4096,)](x, y, out, x.numel(), BLOCK=16)
        return out

    first = launch()  # records, with the interpreter's patches
    patched = []
    monkeypatch.setattr(triton_interpreter, "_patch_lang", lambda fn: patched.append(fn))
    second = launch()
    assert (replays.alone, replays.interpreted, patched) == (1, 1, [])
    assert torch.equal(first, x + y) and torch.equal(second, x + y)
    monkeypatch.undo()
    assert torch.equal(second, _python_every_chunk(monkeypatch, launch))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_sum_replays_alone_with_compiled_tritons_bf16(replays, monkeypatch, dtype):
    # The bf16 sum (in fp32, rounded once) is a method of Triton's reduce class, which a replay
    # alone sets too: without it the sum would add the raw 16-bit patterns.
    x = torch.randn(256, 48).to(dtype)
    kernel = fresh(k.row_sums)

    def launch():
        out = torch.empty(256, dtype=dtype)
        kernel[(256,)](x, out, 48, BLOCK=64)
        return out

    launch()
    out = launch()
    assert replays.alone == 1
    torch.testing.assert_close(out.float(), x.float().sum(dim=1), rtol=1e-2 if dtype == torch.bfloat16 else 1e-5,
                               atol=3e-2 if dtype == torch.bfloat16 else 1e-5)
    assert torch.equal(out, _python_every_chunk(monkeypatch, launch))


def test_a_combine_function_of_the_kernels_replays_with_the_language_patched(replays, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="tritonhost.interpreter")
    kernel = fresh(k.reductions)
    rows, cols = 64, 48
    x = torch.randn(rows, cols)
    for _ in range(2):
        sums, maxabs, cumsum = torch.empty(rows), torch.empty(rows), torch.empty(rows, cols)
        kernel[(rows,)](x, sums, maxabs, cumsum, cols, BLOCK=64)
    assert replays.alone == 0 and replays.interpreted == 2 and replays.replayed >= 1
    assert "replay raised" not in caplog.text, "a replay alone was tried, and failed without the language"
    assert torch.equal(maxabs, x.gather(1, x.abs().argmax(dim=1, keepdim=True)).squeeze(1))


def test_a_guard_stopping_a_replay_alone_puts_back_its_stores(replays, monkeypatch):
    kernel = fresh(k.accumulate_then_branch)
    n = 1024
    acc = torch.zeros(n)
    kernel[(8,)](acc, torch.tensor([0]), n, BLOCK=128)
    kernel[(8,)](acc, torch.tensor([0]), n, BLOCK=128)
    assert replays.alone == 1 and torch.equal(acc, torch.full((n,), 2.0))
    kernel[(8,)](acc, torch.tensor([1]), n, BLOCK=128)  # alone: stores +1, stops at the branch
    assert replays.stopped == 1 and replays.alone == 1
    assert torch.equal(acc, torch.full((n,), 30.0)), "(2 + 1) * 10: the increment applied once"


def test_an_error_in_a_replay_alone_is_reported_as_program_by_program(replays, monkeypatch):
    x, y = torch.randn(512), torch.randn(512)
    kernel = fresh(k.add)
    out = torch.zeros(512)
    kernel[(4,)](x, y, out, 512, BLOCK=128)
    short = torch.zeros(448)  # the last program's store runs past its end
    with pytest.raises(tritonhost.OutOfBoundsError) as raised:
        kernel[(4,)](x, y, short, 512, BLOCK=128)
    assert "program id (3, 0, 0)" in str(raised.value) and "out_ptr" in str(raised.value)
    assert torch.equal(short[:384], x[:384] + y[:384]), "programs 0 to 2 wrote, as one by one"
    assert torch.equal(short[384:], torch.zeros(64))


def test_an_error_in_a_replay_alone_leaves_memory_as_program_by_program(replays, monkeypatch):
    # The replay has incremented every program's block before the last program's copy fails;
    # that is put back, and the per-program rerun increments programs 0 to 3 once.
    kernel = fresh(k.increment_then_copy)
    acc = torch.zeros(512)
    kernel[(4,)](acc, torch.zeros(512), 512, BLOCK=128)
    short = torch.zeros(448)
    with pytest.raises(tritonhost.OutOfBoundsError) as raised:
        kernel[(4,)](acc, short, 512, BLOCK=128)
    assert "program id (3, 0, 0)" in str(raised.value)
    assert torch.equal(acc, torch.full((512,), 2.0)), "each program incremented once more, the failing one too"
    assert torch.equal(short[:384], torch.full((384,), 2.0)) and torch.equal(short[384:], torch.zeros(64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.int64, torch.int8, torch.bool,
                                   torch.uint8])
def test_a_replay_binds_a_tensor_as_triton_converts_it(dtype):
    # Signature.bind keeps each dtype's pointer type after its first conversion; later binds must match it.
    from tritonhost_interpreter import batching, semantics
    from tritonhost_interpreter.batched_python import lift

    for tensor in (torch.zeros(4, dtype=dtype), torch.zeros(8, dtype=dtype)[2:]):
        for _ in range(2):  # first conversion, then the kept type
            made, expected = batching._pointer(tensor), lift(semantics.convert_argument(tensor))
            assert made.type == expected.type and made.handle.dtype == expected.handle.dtype
            assert made.handle.data.dtype == expected.handle.data.dtype
            assert made.handle.data.shape == expected.handle.data.shape
            assert (made.handle.data == expected.handle.data).all()


def test_the_builder_keeps_values_in_the_dtypes_triton_does():
    import triton.language as tl
    from triton.runtime import interpreter as triton_interpreter

    from tritonhost_interpreter.batched import _np_dtype

    scalars = [tl.int1, tl.int8, tl.uint8, tl.int16, tl.uint16, tl.int32, tl.uint32, tl.int64, tl.uint64, tl.float16,
               tl.bfloat16, tl.float32, tl.float64, tl.float8e5, tl.float8e4nv]
    types = [*scalars, *(tl.pointer_type(t) for t in scalars), *(tl.block_type(t, [4, 2]) for t in scalars),
             tl.block_type(tl.pointer_type(tl.float32), [8])]
    for _ in range(2):  # found, then remembered
        for t in types:
            assert _np_dtype(t) == triton_interpreter._get_np_dtype(t), t
