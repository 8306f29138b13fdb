"""torch.compile's default backend, Inductor, runs tritonhost's launches as extern calls.

Each program is compared with its pure-PyTorch reference, inputs it mutates included;
the layout and cache cases each fail when the lowering's corresponding step is left
out (see tracing/inductor.py).
"""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl
from torch._dynamo.utils import counters

import tritonhost
from comparisons import assert_close_to_scale, values_and_gradients
from programs import PROGRAMS

pytestmark = pytest.mark.usefixtures("interpreter")


def _compile(fn, dynamic=False):
    torch._dynamo.reset()
    return torch.compile(fn, backend="inductor", fullgraph=True, dynamic=dynamic)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_programs_match_eager(program):
    x, y = torch.randn(64), torch.randn(64)
    expected_x, expected_y = x.clone(), y.clone()
    expected = program.reference(expected_x, expected_y)
    got = _compile(program.fn)(x, y)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(x, expected_x)  # inputs the program mutates are mutated as in eager
    torch.testing.assert_close(y, expected_y)


def test_dynamic_shapes_match_eager():
    program = next(p for p in PROGRAMS if p.name == "chain")
    compiled = _compile(program.fn, dynamic=True)
    for n in (64, 128):
        x, y = torch.randn(n), torch.randn(n)
        torch.testing.assert_close(compiled(x, y), program.reference(x.clone(), y.clone()))


@triton.jit
def _add_strided(x_ptr, y_ptr, out_ptr, rows, cols, stride_r, stride_c, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    r = tl.arange(0, BLOCK_R)[:, None]
    c = tl.arange(0, BLOCK_C)[None, :]
    offsets = r * stride_r + c * stride_c
    mask = (r < rows) & (c < cols)
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


add_strided = tritonhost.wrap(_add_strided)


def _add_transposed(x, y, z):
    # Eager gives a the layout of its first operand, x.t(): strides (1, 16), which the launch
    # passes as numbers and tracing makes constants. Left free, Inductor lays a out as z is,
    # row-major (8, 1): the kernel would read rows as columns.
    a = x.t() * 2 + z
    b = y.t() + 1
    out = torch.empty_like(a)
    assert a.stride() == b.stride() == out.stride() == (1, 16)
    add_strided[(1,)](a, b, out, a.shape[0], a.shape[1], a.stride(0), a.stride(1), BLOCK_R=16, BLOCK_C=8)
    return out + 0


def test_tensors_keep_the_strides_their_launch_was_traced_with():
    x, y, z = torch.randn(8, 16), torch.randn(8, 16), torch.randn(16, 8)
    got = _compile(_add_transposed)(x, y, z)
    torch.testing.assert_close(got, x.t() * 2 + z + y.t() + 1)


@triton.jit
def _scale_both(a_ptr, b_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    a = tl.load(a_ptr + offsets, mask=mask)
    tl.store(a_ptr + offsets, a * 2, mask=mask)
    b = tl.load(b_ptr + offsets, mask=mask)
    tl.store(b_ptr + offsets, b + 1, mask=mask)


scale_both = tritonhost.wrap(_scale_both)


def _one_tensor_twice(x):
    t = x * 1.5
    scale_both[(1,)](t, t, t.numel(), BLOCK=64)  # both parameters written, one tensor
    t.add_(1)  # an in-place use of what the launch wrote
    return t, x + 0


def test_one_tensor_passed_for_two_written_parameters():
    x = torch.randn(50)
    got, _ = _compile(_one_tensor_twice)(x)
    torch.testing.assert_close(got, x * 1.5 * 2 + 1 + 1)


def test_inductor_never_caches_a_graph_of_tritonhost_operators():
    # The graph names kernels by their id in this process's side table; a cached graph
    # loaded in another process would launch whichever kernel holds that id there.
    counters.clear()
    program = next(p for p in PROGRAMS if p.name == "chain")
    x, y = torch.randn(64), torch.randn(64)
    _compile(program.fn)(x, y)
    assert counters["inductor"]["fxgraph_cache_bypass"] >= 1
    assert counters["inductor"]["fxgraph_cache_hit"] == 0


def test_library_function_trains_under_inductor():
    import library_functions as libf

    torch.manual_seed(0)
    x = torch.randn(6, 40) * libf.EPS**0.5
    w = torch.randn(40)
    with tritonhost.install():
        got, got_grads = values_and_gradients(_compile(libf.rms_norm), x, w)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, x, w)
    assert_close_to_scale(got, want, 1e-5)
    for g, w_ in zip(got_grads, want_grads):
        assert_close_to_scale(g, w_, 1e-4)


@pytest.mark.gpu
def test_on_the_gpu_programs_match_eager():
    with tritonhost.use_backend("cuda"):
        for program in PROGRAMS:
            x, y = torch.randn(64, device="cuda"), torch.randn(64, device="cuda")
            expected_x, expected_y = x.clone(), y.clone()
            expected = program.reference(expected_x, expected_y)
            got = _compile(program.fn)(x, y)
            torch.testing.assert_close(got, expected, msg=program.name)
            torch.testing.assert_close(x, expected_x, msg=program.name)
            torch.testing.assert_close(y, expected_y, msg=program.name)
