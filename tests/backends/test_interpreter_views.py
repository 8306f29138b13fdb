"""Loads a replay returns as read-only views of argument memory, not copies
(``BatchedBuilder.view_loads``, ``Tape.views``).

A copy of every full block loaded costs a pass over memory; a view costs none, but shows
later writes. Each test writes memory it has loaded and checks the result, bit for bit,
against the kernel run program by program: a write reaching a value the chunk still reads
(the loaded value itself, or a transpose of it) must stop the replay and turn the tape's
views off, and one that reaches only dead values must not.
"""

from __future__ import annotations

import pytest
import tape_kernels
import torch
import triton
import view_kernels as k

import tritonhost
from tritonhost_interpreter import batching, tape
from tritonhost_interpreter.memory import ArgumentMemory

#: More programs than the first chunk, so that the first launch replays too.
PROGRAMS = 3 * batching.FIRST_CHUNK + 5


class Loads:
    """Full-block loads returned as views, and replays stopped by a write reaching one."""

    def __init__(self) -> None:
        self.views = self.conflicts = 0


@pytest.fixture
def loads(interpreter, monkeypatch):
    monkeypatch.setenv(batching.BATCH_ENV, "1")
    monkeypatch.setenv(tape.REPLAY_ENV, "1")
    seen = Loads()
    load, replay = ArgumentMemory.load_separable, tape.Tape.replay

    def counted_load(self, *args, **kwargs):
        result = load(self, *args, **kwargs)
        seen.views += result is not None and result[1]
        return result

    def counted_replay(self, *args):
        try:
            replay(self, *args)
        except tape.ViewConflict:
            seen.conflicts += 1
            raise

    monkeypatch.setattr(ArgumentMemory, "load_separable", counted_load)
    monkeypatch.setattr(tape.Tape, "replay", counted_replay)
    return seen


def fresh(kernel):
    """The kernel as a new JITFunction: no tape from an earlier test."""
    return tritonhost.wrap(triton.jit(kernel.fn))


def _per_program(monkeypatch, launch):
    with monkeypatch.context() as patched:
        patched.setenv(batching.BATCH_ENV, "0")
        return launch()


def test_an_out_of_place_kernel_loads_views_and_keeps_them(loads, monkeypatch):
    add = fresh(tape_kernels.add)
    x, y = torch.randn(PROGRAMS * 32), torch.randn(PROGRAMS * 32)
    out = torch.empty_like(x)
    for _ in range(3):
        out.zero_()
        add[(PROGRAMS,)](x, y, out, x.numel(), BLOCK=32)
        assert torch.equal(out, x + y)
    assert loads.views > 0, "a replayed full-block load returned a view"
    assert loads.conflicts == 0


def test_a_write_under_a_value_still_read_stops_the_replay_and_copies_from_then_on(loads, monkeypatch):
    kernel = fresh(k.double_keep_old)

    def launch():
        x = torch.arange(PROGRAMS * 32, dtype=torch.float32)
        kernel[(PROGRAMS,)](x, x[:0].new_empty(x.shape), BLOCK=32)
        old = torch.empty_like(x)
        kernel[(PROGRAMS,)](x, old, BLOCK=32)
        return x, old

    x, old = launch()
    assert loads.conflicts == 1, "the first replayed chunk met the view, once; copies after"
    expected = _per_program(monkeypatch, launch)
    assert torch.equal(x, expected[0]) and torch.equal(old, expected[1])
    assert torch.equal(old, torch.arange(PROGRAMS * 32, dtype=torch.float32) * 2), "the value loaded, not the doubled"


def test_an_in_place_kernel_whose_load_is_dead_at_its_store_keeps_views(loads, monkeypatch):
    kernel = fresh(k.double)
    x = torch.randn(PROGRAMS * 32)
    start = x.clone()
    for _ in range(3):
        kernel[(PROGRAMS,)](x, BLOCK=32)
    assert torch.equal(x, start * 8)
    assert loads.views > 0 and loads.conflicts == 0


def test_an_add_into_its_own_input_keeps_views(loads, monkeypatch):
    kernel = fresh(tape_kernels.add)
    x, y = torch.randn(PROGRAMS * 32), torch.randn(PROGRAMS * 32)
    expected = x + y + y
    for _ in range(2):
        kernel[(PROGRAMS,)](x, y, x, x.numel(), BLOCK=32)  # out is x
    assert torch.equal(x, expected)
    assert loads.views > 0 and loads.conflicts == 0


def test_a_view_of_a_view_still_read_stops_the_replay(loads, monkeypatch):
    kernel = fresh(k.clear_keep_transposed)
    block = 8

    def launch():
        x = torch.randn(PROGRAMS * block, block, generator=torch.Generator().manual_seed(0))
        start = x.clone()
        out = torch.empty_like(x)
        for _ in range(2):
            x.copy_(start)
            kernel[(PROGRAMS,)](x, out, BLOCK=block)
        return start, x, out

    start, x, out = launch()
    assert loads.conflicts == 1
    assert torch.equal(x, torch.zeros_like(x))
    assert torch.equal(out, start.view(PROGRAMS, block, block).transpose(1, 2).reshape(-1, block))
    expected = _per_program(monkeypatch, launch)
    assert torch.equal(out, expected[2])
