"""The interpreter checks every load, store and atomic against the memory the kernel was given."""

from __future__ import annotations

import pytest
import torch

import bounds_kernels as k
import tritonhost
from tritonhost_interpreter.bounds import BOUNDS_CHECK_ENV

wrap = tritonhost.wrap


def test_an_unmasked_store_past_the_end_is_refused_before_it_writes(interpreter):
    storage = torch.zeros(64)
    src, dst = torch.arange(40.0), storage[:40]
    with pytest.raises(tritonhost.OutOfBoundsError) as raised:
        wrap(k.unmasked_copy)[(3,)](src, dst, BLOCK=16)  # 48 elements for 40
    message = str(raised.value)
    assert "kernel unmasked_copy" in message and "program id (2, 0, 0)" in message
    assert "out-of-bounds load" in message and "element 40 of parameter 'src_ptr'" in message
    assert BOUNDS_CHECK_ENV in message and "mask=" in message
    assert isinstance(raised.value, IndexError)
    assert torch.equal(storage[32:], torch.zeros(32)), "nothing past the view was written"


def test_a_store_through_a_view_past_its_end_is_refused(interpreter):
    buf = torch.zeros(8)
    with pytest.raises(tritonhost.OutOfBoundsError, match="out-of-bounds store .* element 4 of parameter 'dst_ptr'"):
        wrap(k.unmasked_copy)[(1,)](torch.ones(8), buf[:4], BLOCK=8)
    assert torch.equal(buf, torch.zeros(8)), "buf[4:8] is not the kernel's to write"


def test_an_out_of_bounds_read_is_refused_rather_than_returning_garbage(interpreter):
    src = torch.arange(10.0)
    with pytest.raises(tritonhost.OutOfBoundsError, match="out-of-bounds load .* element 10 of parameter 'src_ptr'"):
        wrap(k.unmasked_copy)[(1,)](src, torch.zeros(16), BLOCK=16)


def test_a_strided_view_is_checked_against_the_elements_it_spans(interpreter):
    base = torch.zeros(4, 4)
    column = base[:, 1]  # strides 4: spans elements 1..13 of the storage
    wrap(k.strided_write)[(1,)](column, 4, BLOCK=4)
    assert torch.equal(column, torch.arange(4.0))
    with pytest.raises(tritonhost.OutOfBoundsError, match="parameter 'dst_ptr'"):
        wrap(k.strided_write)[(1,)](base[:3, 1], 4, BLOCK=4)  # the fourth row is not in the view
    assert base[3, 1] == 3.0, "the refused launch wrote nothing new"


def test_atomics_are_checked(interpreter):
    counts = torch.zeros(4, dtype=torch.int32)
    wrap(k.atomic_count)[(1,)](counts, torch.tensor([0, 1, 1, 3]), BLOCK=4)
    assert counts.tolist() == [1, 2, 0, 1]
    with pytest.raises(tritonhost.OutOfBoundsError, match="out-of-bounds atomic .* element 4 of parameter 'counts_ptr'"):
        wrap(k.atomic_count)[(1,)](counts, torch.tensor([0, 1, 2, 4]), BLOCK=4)


def test_masked_accesses_and_empty_tensors_pass(interpreter):
    src, dst = torch.arange(40.0), torch.zeros(40)
    wrap(k.masked_copy)[(3,)](src, dst, 40, BLOCK=16)
    assert torch.equal(dst, src)
    wrap(k.masked_copy)[(1,)](torch.zeros(0), torch.zeros(0), 0, BLOCK=16)


def test_the_environment_turns_the_checks_off(interpreter, monkeypatch):
    # A read past a view's end, inside its storage: harmless to run unchecked.
    storage = torch.arange(16.0)
    out = torch.zeros(16)
    with pytest.raises(tritonhost.OutOfBoundsError):
        wrap(k.unmasked_copy)[(1,)](storage[:8], out, BLOCK=16)
    monkeypatch.setenv(BOUNDS_CHECK_ENV, "0")
    wrap(k.unmasked_copy)[(1,)](storage[:8], out, BLOCK=16)
    assert torch.equal(out, storage)
