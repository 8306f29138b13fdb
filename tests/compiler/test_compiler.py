"""torch.compile(fn, backend="tritonhost"): lowering, re-inplacing, memory planning, generated code."""

from __future__ import annotations

import textwrap
import weakref

import pytest
import torch
import triton
import triton.language as tl
from torch.fx.experimental.proxy_tensor import make_fx
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

import tritonhost
from kernels import add_kernel, relu_inplace_kernel
from programs import PROGRAMS, add, add_2d, relu_inplace
from tritonhost.codegen.backend import capture_wrappers, compile_graph
from tritonhost.codegen.launch_site import LaunchSite
from tritonhost.ir import ComputedBuffer, FallbackKernel, MutationOutput, UserDefinedTritonKernel

pytestmark = pytest.mark.usefixtures("interpreter")

DYNAMIC_PROGRAMS = {"chain", "input_mutation", "grid_lambda", "autotuned", "kernel_then_kernel_in_place", "rope_on_inputs"}


def _compile(fn, dynamic=False):
    torch._dynamo.reset()
    return torch.compile(fn, backend="tritonhost", fullgraph=True, dynamic=dynamic)


def _code(fn, *args, dynamic=False):
    with capture_wrappers() as wrappers:
        result = _compile(fn, dynamic)(*args)
    (wrapper,) = wrappers
    return wrapper, result


def test_backend_is_registered_with_pytorch():
    assert "tritonhost" in torch._dynamo.list_backends()


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_programs_match_eager(program):
    x, y = torch.randn(64), torch.randn(64)
    expected_x, expected_y = x.clone(), y.clone()
    expected = program.reference(expected_x, expected_y)
    got = _compile(program.fn)(x, y)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(x, expected_x)  # inputs the program mutates are mutated as in eager
    torch.testing.assert_close(y, expected_y)


@pytest.mark.parametrize("program", [p for p in PROGRAMS if p.name in DYNAMIC_PROGRAMS], ids=lambda p: p.name)
def test_dynamic_shapes_match_eager(program):
    compiled = _compile(program.fn, dynamic=True)
    for n in (64, 128):  # one graph for both sizes
        x, y = torch.randn(n), torch.randn(n)
        expected_x, expected_y = x.clone(), y.clone()
        expected = program.reference(expected_x, expected_y)
        torch.testing.assert_close(compiled(x, y), expected)
        torch.testing.assert_close(x, expected_x)
        torch.testing.assert_close(y, expected_y)


def test_generated_code_of_a_chain():
    chain = next(p for p in PROGRAMS if p.name == "chain")
    wrapper, _ = _code(chain.fn, torch.randn(64), torch.randn(64))
    assert wrapper.code.strip() == textwrap.dedent("""
        def forward(self, arg0_1, arg1_1):
            buf0 = fast_empty_strided_cpu((64,), (1,), torch.float32)
            add_kernel = launch_add_kernel(x_ptr = arg0_1, y_ptr = arg1_1, out_ptr = buf0, n_elements = 64, BLOCK = 16, grid = (4, 1, 1));  arg0_1 = arg1_1 = add_kernel = None
            buf2 = fast_empty_strided_cpu((64,), (1,), torch.float32)
            add_kernel_1 = launch_add_kernel(x_ptr = buf0, y_ptr = buf0, out_ptr = buf2, n_elements = 64, BLOCK = 16, grid = (4, 1, 1));  buf0 = add_kernel_1 = None
            return (buf2,)
    """).strip()


def test_generated_code_with_dynamic_sizes_and_an_in_place_chain():
    program = next(p for p in PROGRAMS if p.name == "kernel_then_kernel_in_place")
    wrapper, _ = _code(program.fn, torch.randn(64), torch.randn(64), dynamic=True)
    assert wrapper.code.strip() == textwrap.dedent("""
        def forward(self, arg0_1, arg1_1, arg2_1):
            buf0 = fast_empty_strided_cpu((arg0_1,), (1,), torch.float32)
            add = arg0_1 + 31
            floordiv = add // 32;  add = None
            add_kernel = launch_add_kernel(x_ptr = arg1_1, y_ptr = arg2_1, out_ptr = buf0, n_elements = arg0_1, BLOCK = 32, grid = (floordiv, 1, 1));  arg1_1 = add_kernel = None
            relu_inplace_kernel = launch_relu_inplace_kernel(x_ptr = buf0, n_elements = arg0_1, BLOCK = 32, grid = (floordiv, 1, 1));  relu_inplace_kernel = None
            add_kernel_1 = launch_add_kernel(x_ptr = buf0, y_ptr = arg2_1, out_ptr = buf0, n_elements = arg0_1, BLOCK = 32, grid = (floordiv, 1, 1));  arg2_1 = arg0_1 = floordiv = add_kernel_1 = None
            return (buf0,)
    """).strip()


def test_generated_code_writes_a_mutated_input_in_place():
    program = next(p for p in PROGRAMS if p.name == "input_mutation")
    x = torch.randn(64)
    wrapper, _ = _code(program.fn, x, torch.randn(64))
    assert wrapper.code.strip() == textwrap.dedent("""
        def forward(self, arg0_1, arg1_1):
            relu_inplace_kernel = launch_relu_inplace_kernel(x_ptr = arg0_1, n_elements = 64, BLOCK = 64, grid = (1, 1, 1));  relu_inplace_kernel = None
            buf1 = torch.ops.aten.mul.Tensor(arg0_1, arg1_1);  arg0_1 = arg1_1 = None
            return (buf1,)
    """).strip()


@pytest.mark.parametrize("name", ["in_place", "input_mutation", "kernel_then_kernel_in_place", "rope_on_inputs",
                                  "swiglu_backward_in_place", "chain"])
def test_no_copy_remains_that_eager_does_not_make(name):
    program = next(p for p in PROGRAMS if p.name == name)
    wrapper, _ = _code(program.fn, torch.randn(64), torch.randn(64), dynamic=name == "rope_on_inputs")
    assert "copy_" not in wrapper.code and "clone" not in wrapper.code
    kernels = [op for op in wrapper.program.operations if isinstance(op, UserDefinedTritonKernel)]
    for kernel in kernels:  # every write lands in the very buffer eager code passed
        for param, output in kernel.outputs_by_param.items():
            assert output.layout.target == kernel.args[param].name


def test_a_copy_remains_where_the_old_value_is_read_after_the_kernel():
    from tritonhost.tracing.hops import tritonhost_kernel_functional
    from tritonhost.tracing.side_table import LaunchConstants, side_table

    kernel_idx = tritonhost.wrap(relu_inplace_kernel).table_index
    constants_idx = side_table.add_constants(LaunchConstants(params={"BLOCK": 16}, options={}))

    def fn(x):  # a functional graph as any graph pass may leave it: x is read after the launch
        out = tritonhost_kernel_functional(
            kernel_idx=kernel_idx, constant_args_idx=constants_idx, grid=[(1, 1, 1)],
            kwargs={"x_ptr": x, "n_elements": 16}, tensors_to_clone=["x_ptr"],
        )
        return out["x_ptr"], x + 1

    x = torch.randn(16)
    graph = make_fx(fn, tracing_mode="fake")(x)
    with capture_wrappers() as wrappers:
        module = compile_graph(graph)
    assert wrappers[0].code.count("torch.ops.aten.copy_.default(buf0, x_1)") == 1
    original = x.clone()
    relu, plus_one = module(x)
    torch.testing.assert_close(relu, torch.relu(original))
    torch.testing.assert_close(plus_one, original + 1)
    torch.testing.assert_close(x, original)  # the input is not written


def test_a_kernel_writing_a_strided_view_of_an_input():
    def fn(x, y):
        view = x[:, :4]  # rows of 4 with a stride of 8: the kernel writes every other half-row
        add_2d[(1,)](y[:, :4], y[:, :4], view, 8, 4, 8, BLOCK_R=8, BLOCK_C=4)
        return x.sum()

    x, y = torch.randn(8, 8), torch.randn(8, 8)
    expected_x = x.clone()
    expected_x[:, :4] = 2 * y[:, :4]
    got = _compile(fn)(x, y)
    torch.testing.assert_close(x, expected_x)
    torch.testing.assert_close(got, expected_x.sum())


def test_make_fx_graph_with_a_grid_function_compiles():
    def fn(x, y):
        out = torch.empty_like(x)
        add[lambda meta: (triton.cdiv(x.numel(), meta["BLOCK"]),)](x, y, out, x.numel(), BLOCK=16)
        return out

    x, y = torch.randn(40), torch.randn(40)
    graph = make_fx(torch.func.functionalize(fn), tracing_mode="fake")(x, y)
    module = compile_graph(graph)
    (kernel,) = [n for n in module.graph.nodes if n.name == "add_kernel"]
    assert "grid" not in kernel.kwargs  # a function: the launch evaluates it
    torch.testing.assert_close(module(x, y)[0], x + y)


def test_ir_is_printable_and_names_every_kind_of_node():
    program = next(p for p in PROGRAMS if p.name == "heuristics_and_aten")
    wrapper, _ = _code(program.fn, torch.randn(64), torch.randn(64))
    text = str(wrapper.program)
    assert "InputBuffer(FixedLayout('cpu', torch.float32, size=[64], stride=[1]))" in text
    assert "ComputedBuffer(" in text and "heuristic_softmax_kernel[grid=[1, 1, 1]]" in text
    assert "writes out_ptr: buf" in text and "aten.mul.Tensor(" in text
    kinds = {type(op) for op in wrapper.program.operations}
    assert FallbackKernel in kinds and UserDefinedTritonKernel in kinds


def test_allocations_follow_the_layout_eager_would_give():
    def fn(x, y):
        out = torch.empty_like(x)  # x is transposed: empty_like keeps its stride order
        add[(4,)](x, y, out, x.numel(), BLOCK=16)
        return out

    x = torch.randn(8, 8).t()
    y = torch.randn(8, 8).t()
    wrapper, out = _code(fn, x, y)
    (allocation,) = [b for b in wrapper.program.buffers() if isinstance(b, ComputedBuffer)]
    assert [int(s) for s in allocation.fixed_layout.stride] == list(torch.empty_like(x).stride()) == [1, 8]
    assert out.stride() == (1, 8)
    torch.testing.assert_close(out, x + y)


# --- memory -----------------------------------------------------------------------------------


def _long_chain(x):
    for _ in range(6):
        out = torch.empty_like(x)
        add[(triton.cdiv(x.numel(), 64),)](x, x, out, x.numel(), BLOCK=64)
        x = out
    return x


class LiveBytes(TorchDispatchMode):
    """Bytes of tensor storage created inside the block and still alive, sampled after every op."""

    supports_higher_order_operators = True  # kernel launches under a dispatch mode arrive as operators

    def __init__(self) -> None:
        super().__init__()
        self.tensors: list[weakref.ref[torch.Tensor]] = []
        self.peak = 0
        self.allocations = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        known = {t().untyped_storage().data_ptr() for t in self.tensors if t() is not None}
        out = func(*args, **(kwargs or {}))
        for tensor in torch.utils._pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                if tensor.untyped_storage().data_ptr() not in known:
                    self.allocations += 1
                self.tensors.append(weakref.ref(tensor))
        live = {}
        for ref in self.tensors:
            tensor = ref()
            if tensor is not None:
                storage = tensor.untyped_storage()
                live[storage.data_ptr()] = storage.nbytes()
        self.peak = max(self.peak, sum(live.values()))
        return out


def test_dead_buffers_are_reused_and_peak_memory_does_not_exceed_eager(monkeypatch):
    x = torch.randn(256)
    with LiveBytes() as eager:
        expected = _long_chain(x)
        del expected
    wrapper, _ = _code(_long_chain, x)
    assert wrapper.code.count("fast_empty_strided_cpu(") == 2  # six outputs, two allocations
    assert len(wrapper.plan.reuses) == 4 and wrapper.plan.allocated_bytes == 2 * 256 * 4
    # The interpreter's own scratch tensors are not the program's: count outside launches only,
    # as the eager count does (there a launch is one operator, run with the mode set aside).
    launch = LaunchSite.__call__

    def launch_outside_the_mode(self, **kwargs):
        with _disable_current_modes():
            launch(self, **kwargs)

    monkeypatch.setattr(LaunchSite, "__call__", launch_outside_the_mode)
    with LiveBytes() as ours:
        (got,) = wrapper.module(x)  # the generated wrapper itself (Dynamo refuses to run under a mode)
        del got
    assert ours.peak <= eager.peak == 2 * 256 * 4
    assert ours.allocations < eager.allocations
    torch.testing.assert_close(wrapper.module(x)[0], x * 64)


def test_a_reused_buffer_of_another_shape_is_reinterpreted():
    def fn(x):
        a = torch.empty_like(x)
        add[(4,)](x, x, a, 64, BLOCK=16)
        s = torch.empty_like(x)
        add[(4,)](a, a, s, 64, BLOCK=16)
        b = torch.empty(8, 8)  # as many bytes as a, which is dead by then
        add[(4,)](s, s, b, 64, BLOCK=16)
        return b

    wrapper, out = _code(fn, torch.ones(64))
    assert "torch.as_strided(buf0, (8, 8), (8, 1))" in wrapper.code
    torch.testing.assert_close(out, torch.full((8, 8), 8.0))


def test_mutation_outputs_point_at_the_buffer_written():
    def fn(x):
        z = x + 1
        relu_inplace[(1,)](z, z.numel())
        return z

    wrapper, _ = _code(fn, torch.randn(64))
    (kernel,) = [op for op in wrapper.program.operations if isinstance(op, UserDefinedTritonKernel)]
    (output,) = kernel.outputs()
    assert isinstance(output, MutationOutput) and output.owner == kernel.args["x_ptr"].name


@pytest.mark.gpu
def test_chain_on_the_gpu_uses_no_more_memory_than_eager():
    with tritonhost.use_backend("cuda"):
        x = torch.randn(1 << 20, device="cuda")
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        expected = _long_chain(x)
        eager_peak = torch.cuda.max_memory_allocated() - base
        del expected
        compiled = _compile(_long_chain)
        compiled(x)  # compile first: the compiler's own allocations are not the wrapper's
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        got = compiled(x)
        ours_peak = torch.cuda.max_memory_allocated() - base
        assert ours_peak <= eager_peak
        torch.testing.assert_close(got, x * 64)


@pytest.mark.gpu
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_programs_match_eager_on_the_gpu(program):
    with tritonhost.use_backend("cuda"):
        x, y = torch.randn(64, device="cuda"), torch.randn(64, device="cuda")
        expected_x, expected_y = x.clone(), y.clone()
        expected = program.reference(expected_x, expected_y)
        torch.testing.assert_close(_compile(program.fn)(x, y), expected)
        torch.testing.assert_close(x, expected_x)
        torch.testing.assert_close(y, expected_y)


@pytest.mark.gpu
def test_prepared_launch_declines_arguments_of_another_specialization():
    from tritonhost.compat.direct_launch import DirectLaunch

    x, y = torch.randn(65, device="cuda"), torch.randn(65, device="cuda")
    out = torch.empty(65, device="cuda")
    params = {"x_ptr": x, "y_ptr": y, "out_ptr": out, "n_elements": 64, "BLOCK": 64}
    with tritonhost.use_backend("cuda"):
        direct = DirectLaunch.compile(add_kernel, params, {})
        assert direct((1, 1, 1), list(params.values()))
        torch.testing.assert_close(out[:64], (x + y)[:64])
        misaligned = [x[1:], y, out, 64, 64]  # 4 bytes past a 16-byte boundary: Triton compiles another binary
        assert not direct((1, 1, 1), misaligned)
        assert not direct((1, 1, 1), [x, y, out, 1, 64])  # n == 1 is specialized too


@pytest.mark.gpu
def test_generated_wrapper_is_right_for_misaligned_inputs_after_aligned_ones():
    with tritonhost.use_backend("cuda"):
        chain = next(p for p in PROGRAMS if p.name == "chain")
        x, y = torch.randn(65, device="cuda"), torch.randn(65, device="cuda")
        wrapper, _ = _code(chain.fn, x[:64], y[:64])
        (aligned,) = wrapper.module(x[:64], y[:64])
        (misaligned,) = wrapper.module(x[1:], y[1:])
        torch.testing.assert_close(aligned, 2 * (x[:64] + y[:64]))
        torch.testing.assert_close(misaligned, 2 * (x[1:] + y[1:]))


@triton.jit
def grid_index_kernel(out_ptr):
    i, j, k = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    tl.store(out_ptr + (i * tl.num_programs(1) + j) * tl.num_programs(2) + k, i * 100 + j * 10 + k)


grid_index = tritonhost.wrap(grid_index_kernel)


def _grid_indices(grid):
    i, j, k = torch.meshgrid(*(torch.arange(n) for n in grid), indexing="ij")
    return (i * 100 + j * 10 + k).flatten().to(torch.int32)


def test_three_dimensional_grid():
    def fn(x):
        out = torch.empty(24, dtype=torch.int32)
        grid_index[(2, 3, 4)](out)
        return out + x

    wrapper, out = _code(fn, torch.zeros(24, dtype=torch.int32))
    assert "grid = (2, 3, 4)" in wrapper.code
    torch.testing.assert_close(out, _grid_indices((2, 3, 4)))


def test_two_dimensional_grid_from_symbolic_sizes():
    def fn(x):
        rows, cols = x.shape
        out = torch.empty(rows * cols, dtype=torch.int32, device=x.device)
        grid_index[(rows, cols)](out)
        return out

    compiled = _compile(fn, dynamic=True)
    for shape in ((2, 3), (3, 5)):
        torch.testing.assert_close(compiled(torch.empty(shape)), _grid_indices((*shape, 1)))


def test_graph_that_was_not_functionalized_compiles_with_launches_in_place():
    def fn(x, y):
        out = torch.empty_like(x)
        add[(4,)](x, y, out, x.numel(), BLOCK=16)
        relu_inplace[(1,)](out, out.numel())
        return out

    x, y = torch.randn(64), torch.randn(64)
    graph = make_fx(fn, tracing_mode="fake")(x, y)  # tritonhost_kernel_mutation nodes
    with capture_wrappers() as wrappers:
        module = compile_graph(graph)
    kernels = [op for op in wrappers[0].program.operations if isinstance(op, UserDefinedTritonKernel)]
    assert [list(k.mutated) for k in kernels] == [["out_ptr"], ["x_ptr"]]
    torch.testing.assert_close(module(x, y)[0], torch.relu(x + y))


@pytest.mark.gpu
def test_prepared_launches_call_triton_launch_hooks():
    from triton import knobs

    seen = []

    def hook(metadata):
        seen.append(metadata.get()["name"])

    with tritonhost.use_backend("cuda"):
        chain = next(p for p in PROGRAMS if p.name == "chain")
        x, y = torch.randn(64, device="cuda"), torch.randn(64, device="cuda")
        wrapper, _ = _code(chain.fn, x, y)  # the first call prepares the launches
        knobs.runtime.launch_enter_hook.add(hook)
        try:
            (out,) = wrapper.module(x, y)
        finally:
            knobs.runtime.launch_enter_hook.remove(hook)
        assert seen == ["add_kernel", "add_kernel"]
        torch.testing.assert_close(out, 2 * (x + y))


class _ContextReadingLaunch:
    """A prepared launch that reads a launch context, on the interpreter: it launches through the launcher."""

    def __init__(self, launcher, options, reads, contexts):
        self.launcher, self.options, self.reads, self.contexts = launcher, options, reads, contexts

    def context(self):
        self.reads.append("read")
        return ("device", len(self.reads))

    def __call__(self, grid, values, context=None):
        self.contexts.append(context)
        self.launcher(grid, dict(zip(self.launcher.fn.arg_names, values)), self.options)
        return True


def test_a_compiled_call_reads_the_launch_context_once_per_run_of_launches(monkeypatch):
    from tritonhost_interpreter.plugin import InterpreterLauncher

    reads, contexts = [], []

    def prepare(launcher, params, options, varying=None):
        return _ContextReadingLaunch(launcher, dict(options), reads, contexts)

    def fn(x, y):
        a = torch.empty_like(x)
        add[(4,)](x, y, a, 64, BLOCK=16)
        b = torch.empty_like(x)
        add[(4,)](a, y, b, 64, BLOCK=16)
        c = b.sin()  # an ATen call between launches: the context is read again after it
        d = torch.empty_like(x)
        add[(4,)](c, y, d, 64, BLOCK=16)
        return d

    x, y = torch.randn(64), torch.randn(64)
    monkeypatch.setattr(InterpreterLauncher, "prepare", prepare, raising=False)
    add._runners.clear()  # a runner made now sees the launcher's prepare
    try:
        wrapper, out = _code(fn, x, y)  # the first call launches through the launcher, and prepares
        assert wrapper.code.count("= launch_context()") == 2
        assert wrapper.code.count("launch_add_kernel(context, ") == 2 and "launch_add_kernel(context_1, " in wrapper.code
        torch.testing.assert_close(out, (x + 2 * y).sin() + y)
        reads.clear(), contexts.clear()
        x, y = torch.randn(64), torch.randn(64)
        (out,) = wrapper.module(x, y)
        torch.testing.assert_close(out, (x + 2 * y).sin() + y)
        # Two reads for three launches: one before the first, one after the ATen call.
        assert reads == ["read", "read"]
        assert contexts == [("device", 1), ("device", 1), ("device", 2)]
    finally:
        add._runners.clear()  # the next test gets the launcher without prepare


def test_the_interpreter_wrapper_reads_no_launch_context():
    # Its launcher prepares nothing: no launch could use a context.
    def fn(x, y):
        out = torch.empty_like(x)
        add[(4,)](x, y, out, 64, BLOCK=16)
        return out

    wrapper, _ = _code(fn, torch.randn(64), torch.randn(64))
    assert "launch_context" not in wrapper.code
