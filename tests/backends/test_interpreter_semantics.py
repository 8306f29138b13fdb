"""The interpreter computes what compiled Triton computes, where Triton's own interpreter does not.

bf16 arithmetic in fp32 rounded to nearest even, casts to bf16 rounded, bf16 reductions
on values rather than bits, loop indices as tensors, comparisons as int1. References are
PyTorch's bf16 operations, which round each result from fp32 as compiled Triton does.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import triton.language as tl

import semantics_kernels as k
import tritonhost

wrap = tritonhost.wrap


def _bf16(n, seed):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=generator) * 3).bfloat16()


REFERENCES = {
    "x * 2 + x": lambda x, y: x * 2 + x,
    "x - y": lambda x, y: x - y,
    "x / y": lambda x, y: x / y,
    "x * y + x": lambda x, y: x * y + x,
    "exp in fp32": lambda x, y: torch.exp(x.float()).bfloat16(),
    "-x": lambda x, y: -x,
    "maximum": lambda x, y: torch.maximum(x, y),
    "fma": lambda x, y: (x.float() * y.float() + x.float()).bfloat16(),
}


@pytest.mark.parametrize("op", list(REFERENCES))
def test_bf16_arithmetic_rounds_from_fp32(interpreter, op):
    x, y = _bf16(64, 0), _bf16(64, 1)
    out, cmp = torch.empty_like(x), torch.empty(64, dtype=torch.int8)
    wrap(k.bf16_elementwise)[(1,)](x, y, out, cmp, OP=op, BLOCK=64)
    assert torch.equal(out.view(torch.int16), REFERENCES[op](x, y).view(torch.int16)), op  # bit for bit
    assert torch.equal(cmp, (x > y).to(torch.int8))


def test_casts_to_bf16_round_to_nearest_even(interpreter):
    x = torch.randn(256, generator=torch.Generator().manual_seed(2)) * 100
    as_bf16, back, as_int = torch.empty(256, dtype=torch.bfloat16), torch.empty(256), torch.empty(256, dtype=torch.int32)
    wrap(k.casts)[(1,)](x, as_bf16, back, as_int, BLOCK=256)
    assert torch.equal(as_bf16.view(torch.int16), x.bfloat16().view(torch.int16))
    assert torch.equal(back, x.bfloat16().float())
    assert torch.equal(as_int, x.bfloat16().float().to(torch.int32))


def test_bf16_reductions_work_on_values_not_bits(interpreter):
    x = _bf16(128, 3)  # negatives included: their bits compare the wrong way round
    total, largest, smallest = (torch.empty(1, dtype=torch.bfloat16) for _ in range(3))
    where, running = torch.empty(1, dtype=torch.int32), torch.empty_like(x)
    wrap(k.bf16_reductions)[(1,)](x, total, largest, where, smallest, running, BLOCK=128)
    torch.testing.assert_close(total.float(), x.float().sum().reshape(1), rtol=2**-7, atol=0)
    assert largest.item() == x.max().item() and smallest.item() == x.min().item()
    assert where.item() == int(x.float().argmax())
    if "_promote_bfloat16_to_float32" in inspect.getsource(tl.standard.cumsum.fn):
        expected = x.float().cumsum(0).bfloat16()  # this Triton scans bf16 in fp32, rounding at the store
    else:
        expected = torch.empty_like(x)
        expected[0] = x[0]
        for i in range(1, 128):  # a bf16 scan rounds at every step
            expected[i] = expected[i - 1] + x[i]
    assert torch.equal(running.view(torch.int16), expected.view(torch.int16))


def test_bf16_dot_accumulates_in_fp32(interpreter):
    a, b = _bf16(256, 4).reshape(16, 16), _bf16(256, 5).reshape(16, 16)
    c = torch.empty(16, 16)
    wrap(k.bf16_matmul)[(1,)](a, b, c, N=16)
    torch.testing.assert_close(c, a.float() @ b.float(), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("batch", ["1", "0"], ids=["batched", "program by program"])
def test_bf16_atomic_add_rounds_each_update_in_launch_order(interpreter, monkeypatch, batch):
    """Triton's interpreter refuses bf16 atomics; a GPU rounds each update to bf16 on its own."""
    monkeypatch.setenv("TRITONHOST_INTERPRETER_BATCH", batch)
    programs, block, slots = 6, 8, 4
    x = _bf16(programs * block, 7)
    total, found = torch.zeros(slots, dtype=torch.bfloat16), torch.empty(programs * block, dtype=torch.bfloat16)
    wrap(k.bf16_atomics)[(programs,)](x, total, found, SLOTS=slots, BLOCK=block)
    want, want_found = torch.zeros(slots, dtype=torch.bfloat16), torch.empty_like(found)
    for i, value in enumerate(x):  # program by program, lane by lane, each sum rounded to bf16
        slot = i % block % slots
        want_found[i] = want[slot]
        want[slot] = (want[slot].float() + value.float()).bfloat16()
    assert torch.equal(total.view(torch.int16), want.view(torch.int16))
    assert torch.equal(found.view(torch.int16), want_found.view(torch.int16))


def test_loop_indices_are_tensors_and_comparisons_int1(interpreter):
    out = torch.full((40,), -1.0)
    wrap(k.chunk_rows)[(1,)](out, 37, BT=16, CHUNKS=3)
    expected = torch.cat([torch.arange(37.0), torch.full((3,), -1.0)])
    assert torch.equal(out, expected)


def test_a_tl_range_index_is_a_tensor_too(interpreter):
    out = torch.full((40,), -1.0)
    wrap(k.chunk_rows_tl_range)[(1,)](out, 37, 3, BT=16)
    expected = torch.cat([torch.arange(37.0), torch.full((3,), -1.0)])
    assert torch.equal(out, expected)


def test_comparisons_give_int1_handles_where_triton_s_interpreter_keeps_the_operands_dtype():
    """Triton's interpreter stores ``a < b`` on int64 operands as int64 ones and zeros labelled
    int64 (``binary_op`` casts the result to the left operand's dtype); compiled Triton has an
    i1. Triton 3.6 and 3.9 accept such a mask, so kernels run either way; the comparisons
    tritonhost installs give what compiled Triton gives, for anything that reads the handle."""
    from triton.runtime import interpreter as triton_interpreter
    from triton.runtime.interpreter import TensorHandle

    from tritonhost_interpreter import semantics

    builder = triton_interpreter.interpreter_builder
    lhs = TensorHandle(np.array([1, 5, 9], dtype=np.int64), tl.int64)
    rhs = TensorHandle(np.array([5, 5, 5], dtype=np.int64), tl.int64)
    # Triton's own create_icmpSLT(lhs, rhs) gives an int64 handle here (3.6 and 3.9).
    ours = semantics.comparison_operations(builder)
    assert set(ours) == {name for name in semantics.COMPARISONS if hasattr(builder, name)}
    for name, want in (("create_icmpSLT", [True, False, False]), ("create_icmpSGE", [False, True, True])):
        made = ours[name](lhs, rhs)
        assert made.dtype == tl.int1 and made.data.dtype == np.bool_
        assert made.data.tolist() == want
    floats = TensorHandle(np.array([0.5, 2.0], dtype=np.float32), tl.float32)
    made = ours["create_fcmpOLT"](floats, TensorHandle(np.array([1.0, 1.0], dtype=np.float32), tl.float32))
    assert made.dtype == tl.int1 and made.data.tolist() == [True, False]


def test_a_static_range_index_stays_an_int(interpreter):
    out = torch.empty(8)
    wrap(k.static_unroll)[(1,)](out, BLOCK=8)
    assert torch.equal(out, torch.full((8,), 11.0))
