"""Kernel launches under make_fx, functionalization, torch.export and torch.compile, on the interpreter."""

from __future__ import annotations

import pytest
import torch
import torch.utils._triton
import triton
import triton.language as tl
from torch.fx.experimental.proxy_tensor import make_fx

import tritonhost
from kernels import (
    add_kernel,
    autotuned_heuristic_bias_kernel,
    autotuned_scale_kernel,
    heuristic_softmax_kernel,
    relu_inplace_kernel,
)
from programs import PROGRAMS

pytestmark = pytest.mark.usefixtures("interpreter")


def _inputs(n: int = 32, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, device=device), torch.randn(n, device=device)


def _ops(graph_module: torch.fx.GraphModule) -> list[str]:
    return [str(node.target) for node in graph_module.graph.nodes if node.op == "call_function"]


def test_make_fx_records_the_mutating_operator():
    def fn(x, y):
        out = torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(2,)](x, y, out, x.numel(), BLOCK=16)
        return out

    graph = make_fx(fn, tracing_mode="fake")(*_inputs())
    (node,) = [n for n in graph.graph.nodes if "tritonhost_kernel_mutation" in str(n.target)]
    assert set(node.kwargs["kwargs"]) == {"x_ptr", "y_ptr", "out_ptr", "n_elements"}  # BLOCK is a constant
    assert node.kwargs["grid"] == [(2, 1, 1)]


def test_functionalization_clones_only_written_tensors():
    def fn(x, y):
        out = torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(2,)](x, y, out, x.numel(), BLOCK=16)
        tritonhost.wrap(relu_inplace_kernel)[(1,)](out, out.numel())
        return out

    graph = make_fx(torch.func.functionalize(fn), tracing_mode="fake")(*_inputs())
    functional = [n for n in graph.graph.nodes if "tritonhost_kernel_functional" in str(n.target)]
    assert [n.kwargs["tensors_to_clone"] for n in functional] == [["out_ptr"], ["x_ptr"]]
    assert not any("mutation" in op for op in _ops(graph))
    assert not any("clone" in op or "copy" in op for op in _ops(graph))  # no copy of x or y
    x, y = _inputs()
    torch.testing.assert_close(graph(x, y), torch.relu(x + y))


def test_inexact_analysis_clones_every_tensor_argument():
    from corpus import impure_inline_asm  # tests/analysis: not exactly analysable

    def fn(x):
        out = torch.empty_like(x)
        impure_inline_asm_launch = tritonhost.wrap(impure_inline_asm)[(1,)]
        impure_inline_asm_launch(x, out, BLOCK=16)
        return out

    graph = make_fx(torch.func.functionalize(fn), tracing_mode="fake")(torch.randn(16))
    (node,) = [n for n in graph.graph.nodes if "tritonhost_kernel_functional" in str(n.target)]
    assert node.kwargs["tensors_to_clone"] == ["x_ptr", "out_ptr"]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_export_round_trip(program):
    class Module(torch.nn.Module):
        def forward(self, x, y):
            return program.fn(x, y)

    x, y = _inputs()
    exported = torch.export.export(Module(), (x.clone(), y.clone()), strict=False)
    x_ref, y_ref, x_run, y_run = x.clone(), y.clone(), x.clone(), y.clone()
    torch.testing.assert_close(exported.module()(x_run, y_run), program.reference(x_ref, y_ref))
    torch.testing.assert_close((x_run, y_run), (x_ref, y_ref))  # input mutations survive export


def _compile_and_compare(program, dynamic: bool, device: str) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(program.fn, backend="aot_eager", fullgraph=True, dynamic=dynamic)
    for n in (32, 48) if dynamic else (32,):
        x, y = _inputs(n, device)
        x_ref, y_ref = x.clone(), y.clone()
        expected = program.reference(x_ref, y_ref)  # PyTorch's own formula, mutating its inputs as the program does
        x_eager, y_eager = x.clone(), y.clone()
        torch.testing.assert_close(program.fn(x_eager, y_eager), expected)
        torch.testing.assert_close((x_eager, y_eager), (x_ref, y_ref))
        x_compiled, y_compiled = x.clone(), y.clone()
        torch.testing.assert_close(compiled(x_compiled, y_compiled), expected)
        torch.testing.assert_close((x_compiled, y_compiled), (x_ref, y_ref))  # every mutated input, as in eager


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_compile_fullgraph_matches_eager(program, dynamic):
    _compile_and_compare(program, dynamic, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_compile_on_the_gpu(program, dynamic):
    with tritonhost.use_backend("cuda"):
        _compile_and_compare(program, dynamic, "cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_export_on_the_gpu(program):
    class Module(torch.nn.Module):
        def forward(self, x, y):
            return program.fn(x, y)

    with tritonhost.use_backend("cuda"):
        x, y = _inputs(32, "cuda")
        exported = torch.export.export(Module(), (x.clone(), y.clone()), strict=False)
        torch.testing.assert_close(exported.module()(x.clone(), y.clone()), program.reference(x.clone(), y.clone()))


def test_same_tensor_read_and_written_keeps_eager_semantics():
    def fn(x, y):
        out = x * 1
        tritonhost.wrap(add_kernel)[(2,)](out, y, out, out.numel(), BLOCK=16)  # out += y
        return out

    graph = make_fx(torch.func.functionalize(fn), tracing_mode="fake")(*_inputs())
    x, y = _inputs()
    torch.testing.assert_close(graph(x, y), x + y)


def test_overlapping_views_with_a_write_are_refused():
    def fn(x, y):
        base = x * 1
        first, second = base[:16], base[8:24]  # overlapping views of one storage
        tritonhost.wrap(add_kernel)[(1,)](first, y[:16], second, 16, BLOCK=16)
        return base

    with pytest.raises(tritonhost.AliasingError, match="'out_ptr' and 'x_ptr' are different views"):
        make_fx(torch.func.functionalize(fn), tracing_mode="fake")(*_inputs())


def test_wrap_inside_the_compiled_region():
    # Dynamo models Triton kernels itself only where Triton is usable (a GPU is visible);
    # the tests below that use dynamo_models_triton_kernels make it do so everywhere.
    def fn(x, y):
        out = torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(2,)](x, y, out, x.numel(), BLOCK=16)
        return out

    torch._dynamo.reset()
    x, y = _inputs()
    torch.testing.assert_close(torch.compile(fn, backend="aot_eager", fullgraph=True)(x, y), x + y)


def test_meta_tensors_run_no_kernel():
    from tritonhost.tracing.hops import tritonhost_kernel_functional, tritonhost_kernel_mutation
    from tritonhost.tracing.side_table import LaunchConstants, side_table

    x = torch.empty(32, device="meta")
    kernel_idx = tritonhost.wrap(add_kernel).table_index
    constants_idx = side_table.add_constants(LaunchConstants(params={"BLOCK": 16}, options={}))
    kwargs = {"x_ptr": x, "y_ptr": x, "out_ptr": torch.empty_like(x), "n_elements": 32}
    assert tritonhost_kernel_mutation(kernel_idx=kernel_idx, constant_args_idx=constants_idx, grid=[(2, 1, 1)],
                                      kwargs=kwargs) is None
    out = tritonhost_kernel_functional(kernel_idx=kernel_idx, constant_args_idx=constants_idx, grid=[(2, 1, 1)],
                                       kwargs=kwargs, tensors_to_clone=["out_ptr"])
    assert set(out) == {"out_ptr"} and out["out_ptr"].device.type == "meta" and out["out_ptr"].shape == (32,)


def test_first_wrap_of_two_kernels_inside_one_compiled_function():
    _first_wraps_of_two_kernels_inside_one_compiled_function()


def _first_wraps_of_two_kernels_inside_one_compiled_function() -> None:
    @triton.jit
    def double(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.arange(0, BLOCK)
        tl.store(out_ptr + offsets, 2 * tl.load(x_ptr + offsets, mask=offsets < n), mask=offsets < n)

    @triton.jit
    def increment(x_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.arange(0, BLOCK)
        tl.store(x_ptr + offsets, tl.load(x_ptr + offsets, mask=offsets < n) + 1, mask=offsets < n)

    def fn(x):
        out = torch.empty_like(x)
        tritonhost.wrap(double)[(1,)](x, out, x.numel(), BLOCK=32)  # neither kernel was wrapped before
        tritonhost.wrap(increment)[(1,)](out, x.numel(), BLOCK=32)
        return out

    torch._dynamo.reset()
    x = torch.randn(32)
    torch.testing.assert_close(torch.compile(fn, backend="aot_eager", fullgraph=True)(x), 2 * x + 1)


@pytest.fixture
def dynamo_models_triton_kernels(monkeypatch):
    """Make Dynamo turn @triton.jit and @triton.autotune kernels into its TritonKernelVariable.

    It does where a GPU makes Triton usable (torch.utils._triton.has_triton()); here it is
    told so. Dynamo's caches are cleared before and after, so no test sees another's mode.
    """
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _inline_jit(x, y):
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[(2,)](x, y, out, x.numel(), BLOCK=16)
    return out


def _inline_autotuned(x, y):
    out = torch.empty_like(x)
    tritonhost.wrap(autotuned_scale_kernel)[lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)](
        x + y, out, 3.0, x.numel()
    )
    return out


def _inline_heuristics(x, y):
    out = torch.empty_like(x)
    tritonhost.wrap(heuristic_softmax_kernel)[(1,)](x, out, x.numel())
    return out + y


def _inline_autotuned_heuristics(x, y):
    out = torch.empty_like(x)
    tritonhost.wrap(autotuned_heuristic_bias_kernel)[lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)](
        x, y, out, x.numel()
    )
    return out


INLINE_WRAPS = [_inline_jit, _inline_autotuned, _inline_heuristics, _inline_autotuned_heuristics]


@pytest.mark.parametrize("fn", INLINE_WRAPS, ids=[fn.__name__.removeprefix("_inline_") for fn in INLINE_WRAPS])
@pytest.mark.usefixtures("dynamo_models_triton_kernels")
def test_inline_wrap_of_a_kernel_dynamo_models(fn):
    x, y = _inputs()
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x, y), fn(x, y))


@pytest.mark.usefixtures("dynamo_models_triton_kernels")
def test_first_wrap_of_two_kernels_dynamo_models_inside_one_compiled_function():
    _first_wraps_of_two_kernels_inside_one_compiled_function()


@triton.jit
def _sub_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) - tl.load(y_ptr + offsets, mask=mask), mask=mask)


@pytest.mark.parametrize("modelled", [False, True], ids=["plain", "modelled"])
def test_inline_wrap_guards_the_kernel_identity(modelled, request):
    if modelled:
        request.getfixturevalue("dynamo_models_triton_kernels")
    torch._dynamo.reset()

    def fn(x, y, kernel):
        out = torch.empty_like(x)
        tritonhost.wrap(kernel)[(2,)](x, y, out, x.numel(), BLOCK=16)
        return out

    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    x, y = _inputs()
    torch.testing.assert_close(compiled(x, y, add_kernel), x + y)
    torch.testing.assert_close(compiled(x, y, _sub_kernel), x - y)  # another kernel: a recompile


@triton.autotune(
    configs=[triton.Config({"BLOCK": 16}, pre_hook=lambda args: args["out_ptr"].zero_()), triton.Config({"BLOCK": 32})],
    key=["n_elements"],
)
@triton.jit
def _pre_hooked_triple_kernel(x_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    tl.store(out_ptr + offsets, 3 * tl.load(x_ptr + offsets, mask=mask), mask=mask)


@pytest.mark.usefixtures("dynamo_models_triton_kernels")
def test_a_kernel_dynamo_refuses_is_a_graph_break():
    # Dynamo refuses to model an autotuner whose configs have a pre_hook: the inline wrap
    # is a graph break (an error under fullgraph=True), the hoisted one works.
    def inline(x):
        out = torch.empty_like(x)
        tritonhost.wrap(_pre_hooked_triple_kernel)[lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)](
            x, out, x.numel()
        )
        return out * 2

    x = torch.randn(32)
    with pytest.raises(torch._dynamo.exc.Unsupported):
        torch.compile(inline, backend="aot_eager", fullgraph=True)(x)
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(inline, backend="aot_eager")(x), 6 * x)

    hoisted_kernel = tritonhost.wrap(_pre_hooked_triple_kernel)

    def hoisted(x):
        out = torch.empty_like(x)
        hoisted_kernel[lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)](x, out, x.numel())
        return out * 2

    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(hoisted, backend="aot_eager", fullgraph=True)(x), 6 * x)


@pytest.mark.usefixtures("dynamo_models_triton_kernels")
def test_unreadable_kernel_variable_asks_to_hoist(monkeypatch):
    # Where Dynamo's internals are not those tritonhost reads (another PyTorch version),
    # the inline wrap is a graph break whose message says to hoist it.
    from torch._dynamo.comptime import ComptimeVar

    def unreadable(self):
        raise AttributeError("no variable here")

    monkeypatch.setattr(ComptimeVar, "_i_will_not_complain_if_bc_breaks_VariableTracker", unreadable)
    x, y = _inputs()
    with pytest.raises(torch._dynamo.exc.Unsupported, match="hoist the wrap\\(\\) call out of the compiled function"):
        torch.compile(_inline_jit, backend="aot_eager", fullgraph=True)(x, y)
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(_inline_jit, backend="aot_eager")(x, y), x + y)


def test_compiled_launches_take_tensors_and_sizes_by_keyword_and_position():
    # The traced launch reads the kernel's signature at trace time, by position: each
    # mix of positional and keyword arguments must name the same parameters.
    def fn(x, y):
        a, b, c = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(2,)](x, y, a, x.numel(), BLOCK=16)
        tritonhost.wrap(add_kernel)[(2,)](x, y, out_ptr=b, n_elements=x.numel(), BLOCK=16)
        tritonhost.wrap(add_kernel)[(2,)](BLOCK=16, n_elements=x.numel(), out_ptr=c, y_ptr=y, x_ptr=a)
        return a, b, c

    x, y = _inputs()
    torch._dynamo.reset()
    a, b, c = torch.compile(fn, backend="tritonhost", fullgraph=True, dynamic=True)(x, y)
    torch.testing.assert_close(a, x + y)
    torch.testing.assert_close(b, x + y)
    torch.testing.assert_close(c, x + 2 * y)


def test_a_compiled_launch_with_too_many_arguments_says_so():
    def fn(x, y):
        out = torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(2,)](x, y, out, x.numel(), 16, 16)
        return out

    torch._dynamo.reset()
    with pytest.raises(Exception, match=r"add_kernel\(\) takes 5 arguments but 6 were given"):
        torch.compile(fn, backend="tritonhost", fullgraph=True)(*_inputs())


def test_a_compiled_launch_refuses_a_tuple_of_tensors_by_its_name():
    from analysis_kernels import sum_pair

    def fn(x, y):
        out = torch.empty_like(x)
        tritonhost.wrap(sum_pair)[(1,)]((x, y), out, 8, BLOCK=8)
        return out

    torch._dynamo.reset()
    with pytest.raises(Exception, match="'pair' is a tuple holding tensors"):
        torch.compile(fn, backend="tritonhost", fullgraph=True)(torch.zeros(8), torch.zeros(8))
