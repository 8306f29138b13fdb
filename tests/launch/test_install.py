"""tritonhost.install(): code written for Triton and PyTorch, unchanged, runs on tritonhost's backend.

On this CPU machine Triton alone runs none of it ("0 active drivers"). Forward values
and gradients are compared with PyTorch's own formulas, eager and compiled.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.utils._triton
from torch.library import wrap_triton

import library_functions as libf
import tritonhost
from comparisons import assert_close_to_scale, values_and_gradients
from kernels import add_kernel
from tritonhost.tracing import dynamo as tritonhost_dynamo
from tritonhost.tracing.hops import tritonhost_kernel_functional

MODES = ["eager", "aot_eager", "tritonhost", "inductor"]
GPU = any(s.name == "cuda" and s.usable for s in tritonhost.backends())


def _compiled(fn, mode):
    if mode == "eager":
        return fn
    torch._dynamo.reset()
    return torch.compile(fn, backend=mode, fullgraph=True)


@pytest.fixture
def installed(interpreter):
    with tritonhost.install() as installation:
        yield installation


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_rms_norm_function_matches_pytorch(installed, mode, dtype):
    torch.manual_seed(0)
    x = (torch.randn(6, 40) * libf.EPS**0.5).to(dtype)  # eps matters at this scale
    w = torch.randn(40).to(dtype)
    got, got_grads = values_and_gradients(_compiled(libf.rms_norm, mode), x, w)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, x, w)
    # fp32: as close as the order of the sums allows; bf16: a few units in the last place (2**-8).
    rtol = 1e-5 if dtype == torch.float32 else 2e-2
    assert_close_to_scale(got, want, rtol)
    for g, w_ in zip(got_grads, want_grads):
        assert_close_to_scale(g, w_, rtol * 10)




def _fused_add_rms_norm_values_and_gradients(fn, x, r, w):
    """Both outputs and the three input gradients, every element of both outputs weighted."""
    leaves = [t.detach().clone().requires_grad_() for t in (x, r, w)]
    y, s = fn(*leaves)
    weight = torch.linspace(-1, 1, y.numel(), device=y.device).reshape(y.shape).to(y.dtype)
    ((y * weight).sum() + (s * weight.flip(-1)).sum()).backward()
    return (y.detach(), s.detach()), [leaf.grad for leaf in leaves]


def _check_fused_add_rms_norm(mode, dtype, device="cpu"):
    torch.manual_seed(4)
    x = torch.randn(3, 3, 40, device=device).to(dtype)  # 9 rows over 4 programs: the last walks fewer
    r = torch.randn(3, 3, 40, device=device).to(dtype)
    w = torch.randn(40, device=device).to(dtype)
    (y, s), grads = _fused_add_rms_norm_values_and_gradients(_compiled(libf.fused_add_rms_norm, mode), x, r, w)
    (want_y, want_s), want_grads = _fused_add_rms_norm_values_and_gradients(libf.fused_add_rms_norm_reference,
                                                                            x, r, w)
    rtol = 1e-5 if dtype == torch.float32 else 2e-2
    assert_close_to_scale(y, want_y, rtol)
    torch.testing.assert_close(s, want_s, rtol=0, atol=0)  # one add in the inputs' dtype, as PyTorch's
    for got, want in zip(grads, want_grads, strict=True):
        assert got.abs().max() > 0
        assert_close_to_scale(got, want, rtol * 10)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)  # one buffer, returned for x and r


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_residual_add_and_norm_writing_its_gradient_over_the_incoming_one(installed, mode, dtype):
    """Liger-Kernel's fused residual add + RMSNorm with ``in_place=True``: the backward stores
    dx over the tangent ``dy`` it was given and returns it for both inputs, working on views
    of its 3-D inputs as rows. PyTorch's own ``aot_eager`` failed Liger's op on a GPU
    (docs/existing-kernels.md); installed, every mode matches PyTorch's own formulas."""
    _check_fused_add_rms_norm(mode, dtype)


@pytest.mark.parametrize("mode", MODES)
def test_swiglu_with_in_place_backward_matches_pytorch(installed, mode):
    torch.manual_seed(1)
    a, b = torch.randn(100), torch.randn(100)
    got, got_grads = values_and_gradients(_compiled(libf.swiglu, mode), a, b)
    want, want_grads = values_and_gradients(libf.swiglu_reference, a, b)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    for g, w_ in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_backward_writing_gradients_into_the_forward_inputs(installed, mode):
    """Liger-Kernel's SwiGLU: the backward stores da and db over the caller's own leaves.

    AOTAutograd replays that write on the forward inputs while it traces; torch releases
    before pytorch#178622 (2.11 among them) refuse the replay on a leaf that requires grad,
    for every backend. Installed, every AOTAutograd backend traces it (compat/aot_autograd.py).
    """
    torch.manual_seed(2)
    a0, b0 = torch.randn(100), torch.randn(100)
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    out = _compiled(libf.swiglu_into_inputs, mode)(a, b)
    weight = torch.linspace(-1, 1, 100)
    (out * weight).sum().backward()
    want, (want_da, want_db) = values_and_gradients(libf.swiglu_reference, a0, b0)
    torch.testing.assert_close(out.detach(), want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.grad, want_da, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b.grad, want_db, rtol=1e-5, atol=1e-6)
    # The library's side effect, as in eager: the inputs now hold their gradients.
    torch.testing.assert_close(a.detach(), want_da, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b.detach(), want_db, rtol=1e-5, atol=1e-6)


def _assert_gated_scan_matches(result, x, g):
    """The gated scan's output and nonzero gradients, against PyTorch's loop (fp32 tight, bf16 a few ulps)."""
    got, got_grads = result
    want, want_grads = values_and_gradients(libf.gated_scan_reference, x, g)
    rtol = 1e-5 if x.dtype == torch.float32 else 2e-2
    assert_close_to_scale(got, want, rtol)
    for g_, w_ in zip(got_grads, want_grads, strict=True):
        assert g_.abs().max() > 0
        assert_close_to_scale(g_, w_, rtol * 10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_a_forward_returning_its_saved_output_through_a_no_op_cast(installed, mode, dtype):
    """flash-linear-attention's pattern: the forward saves its fp32 output and returns ``o.to(x.dtype)``.

    In fp32 the cast returns the saved tensor itself, and torch 2.11's Dynamo gives the
    backward zeros for ``do`` (pytorch/pytorch#180642), under every backend; installed,
    tritonhost applies PyTorch's fix (compat/autograd_function.py). bf16 casts for real.
    """
    torch.manual_seed(3)
    x = torch.randn(2, 37, 80).to(dtype)  # 80 features: two blocks of 64, the second masked
    g = (torch.nn.functional.logsigmoid(torch.randn(2, 37, 80)) / 4).to(dtype)
    _assert_gated_scan_matches(values_and_gradients(_compiled(libf.gated_scan, mode), x, g), x, g)


@pytest.mark.parametrize("mode", MODES)
def test_autotuned_function_with_a_grid_function(installed, mode):
    x = torch.randn(77)
    got, (grad,) = values_and_gradients(_compiled(libf.scale_by_three, mode), x)
    torch.testing.assert_close(got, 3 * x, rtol=0, atol=0)
    torch.testing.assert_close(grad, 3 * torch.linspace(-1, 1, 77), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("beta", [True, False], ids=["beta", "no-beta"])
def test_heuristics_kernels_with_an_optional_tensor(installed, mode, beta):
    """``@triton.heuristics`` on whether a tensor was given (Liger-Kernel's DyT, fla's initial states)."""
    torch.manual_seed(5)
    x, alpha, w = torch.randn(5, 24), torch.tensor([0.7]), torch.randn(24)
    inputs = (x, alpha, w, torch.randn(24)) if beta else (x, alpha, w)
    got, got_grads = values_and_gradients(_compiled(libf.dyt, mode), *inputs)
    want, want_grads = values_and_gradients(libf.dyt_reference, *inputs)
    assert_close_to_scale(got, want, 1e-5)
    assert len(got_grads) == len(inputs)
    for g, w_ in zip(got_grads, want_grads, strict=True):
        assert_close_to_scale(g, w_, 1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_wrap_triton_and_triton_op_programs(installed, mode):
    a, b = torch.randn(100), torch.randn(100)
    torch.testing.assert_close(_compiled(libf.swiglu_through_wrap_triton, mode)(a, b), libf.swiglu_reference(a, b))
    x = torch.randn(100)
    torch.testing.assert_close(_compiled(libf.gelu, mode)(x), torch.nn.functional.gelu(x), rtol=1e-5, atol=1e-6)


@pytest.fixture
def modelled(monkeypatch):
    """Dynamo models Triton kernels, as it does where Triton can compile (on a GPU machine)."""
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _program(x, y):
    out = torch.empty_like(x)
    add_kernel[(3,)](x, y, out, x.numel(), BLOCK=16)
    total = torch.empty_like(x)
    wrap_triton(add_kernel)[(3,)](out, y, total, x.numel(), BLOCK=16)
    return total


def _dynamo_graph(fn, *args):
    """The code of the graph Dynamo records for ``fn``, and its result: the graph runs as recorded.

    The recording backend is a function of the test's, which install() does not route (it
    might hand the graph to Inductor): it shows PyTorch's operators.
    """
    codes = []

    def record(graph, inputs):
        codes.append(graph.code)
        return graph.forward

    result = torch.compile(fn, backend=record, fullgraph=True)(*args)
    return codes[-1], result


def _routed_launches(fn, *args, backend="aot_eager"):
    """How many launches Dynamo traced through tritonhost's own path compiling ``fn``, and its result."""
    before = len(tritonhost_dynamo._call_sites)
    result = torch.compile(fn, backend=backend, fullgraph=True)(*args)
    return len(tritonhost_dynamo._call_sites) - before, result


def test_launches_dynamo_models_are_routed_while_installed(interpreter, modelled):
    x, y = torch.randn(40), torch.randn(40)
    with tritonhost.install():
        routed, total = _routed_launches(_program, x, y)
        torch.testing.assert_close(total, x + 2 * y)
        assert routed == 2  # kernel[grid] and wrap_triton(kernel)[grid]
        torch._dynamo.reset()
        # A backend not known to run tritonhost's operators keeps PyTorch's operator for GPU
        # tensors (the gpu test below); with CPU tensors, which PyTorch's path would compile
        # for the CPU (Triton cannot), the launch is routed once its arguments are known.
        before = len(tritonhost_dynamo._call_sites)
        code, total = _dynamo_graph(_program, x, y)
        assert "triton_kernel_wrapper" not in code and len(tritonhost_dynamo._call_sites) - before == 2
        torch.testing.assert_close(total, x + 2 * y)
    torch._dynamo.reset()
    with pytest.raises(Exception, match="active drivers|cpu tensor"):
        # Uninstalled, aot_eager gets PyTorch's operator again.
        _routed_launches(_program, x, y)


def test_only_backends_that_run_tritonhost_operators_are_routed():
    from torch._inductor import config as inductor_config
    from torch._inductor.compile_fx import compile_fx

    assert tritonhost_dynamo._runs_tritonhost_operators(torch._TorchCompileWrapper("aot_eager", "default", {}, False))
    for mode in ("default", "reduce-overhead", "max-autotune"):
        assert tritonhost_dynamo._runs_tritonhost_operators(torch._TorchCompileInductorWrapper(mode, None, False))
    # Inductor's C++ wrapper cannot call a Python operator; an unknown backend may need PyTorch's.
    cpp = torch._TorchCompileInductorWrapper("default", {"cpp_wrapper": True}, False)
    for backend in (cpp, compile_fx, lambda gm, inputs: gm, None):
        assert not tritonhost_dynamo._runs_tritonhost_operators(backend)
    with inductor_config.patch(cpp_wrapper=True):
        assert not tritonhost_dynamo._runs_tritonhost_operators(torch._TorchCompileInductorWrapper("default", None, False))


def test_installing_leaves_cuda_uninitialized():
    # A forked child cannot use CUDA once its parent initialized it; install() must not.
    code = "import torch, tritonhost; tritonhost.install(); print(torch.cuda.is_initialized())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("models", [False, True], ids=["traced", "modelled"])
@pytest.mark.parametrize("backend", ["aot_eager", "tritonhost"])
def test_a_launch_inside_activation_checkpointing(installed, monkeypatch, models, backend):
    if models:
        monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    torch._dynamo.reset()

    def checkpointed(x, w):
        return torch.utils.checkpoint.checkpoint(libf.rms_norm, x, w, use_reentrant=False)

    x, w = torch.randn(6, 40) * 1e-3, torch.randn(40)
    got, got_grads = values_and_gradients(torch.compile(checkpointed, backend=backend, fullgraph=True), x, w)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, x, w)
    assert_close_to_scale(got, want, 1e-5)
    for g, w_ in zip(got_grads, want_grads):
        assert_close_to_scale(g, w_, 1e-4)
    torch._dynamo.reset()


@pytest.mark.parametrize(
    ("fn", "reference", "inputs"),
    [
        (libf.rms_norm, libf.rms_norm_reference, lambda: (torch.randn(6, 40) * 1e-3, torch.randn(40))),
        (libf.scale_by_three, lambda x: 3 * x, lambda: (torch.randn(77),)),
    ],
    ids=["rms_norm", "autotuned"],
)
def test_aot_eager_trains_through_tritonhost_where_dynamo_models_kernels(installed, modelled, fn, reference, inputs):
    args = inputs()
    got, got_grads = values_and_gradients(torch.compile(fn, backend="aot_eager", fullgraph=True), *args)
    want, want_grads = values_and_gradients(reference, *args)
    assert_close_to_scale(got, want, 1e-5)
    for g, w in zip(got_grads, want_grads):
        assert_close_to_scale(g, w, 1e-4)


def test_inductor_runs_launches_on_cpu_tensors_where_dynamo_models_kernels(installed, modelled):
    # As on a GPU machine with the interpreter backend: PyTorch's path would have Inductor
    # compile the kernel for the CPU, which Triton cannot ("0 compatible backends for target
    # (cpu)"); the launch is routed and runs as Inductor's extern call.
    x, y = torch.randn(40), torch.randn(40)
    routed, total = _routed_launches(_program, x, y, backend="inductor")
    assert routed == 2
    torch.testing.assert_close(total, x + 2 * y)
    args = torch.randn(6, 40) * 1e-3, torch.randn(40)
    got, got_grads = values_and_gradients(torch.compile(libf.rms_norm, backend="inductor", fullgraph=True), *args)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, *args)
    assert_close_to_scale(got, want, 1e-5)
    for g, w in zip(got_grads, want_grads):
        assert_close_to_scale(g, w, 1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["aot_eager", "tritonhost", "inductor"])
def test_on_the_gpu_installed_launches_train_under_each_backend(backend):
    torch._dynamo.reset()
    x, w = torch.randn(6, 40, device="cuda") * 1e-3, torch.randn(40, device="cuda")
    with tritonhost.use_backend("cuda"), tritonhost.install():
        fn = torch.compile(libf.rms_norm, backend=backend, fullgraph=True)
        got, got_grads = values_and_gradients(fn, x, w)
        torch._dynamo.reset()
        routed, total = _routed_launches(_program, x[0], w, backend=backend)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, x, w)
    assert_close_to_scale(got, want, 1e-5)
    for g, w_ in zip(got_grads, want_grads):
        assert_close_to_scale(g, w_, 1e-4)
    torch.testing.assert_close(total, x[0] + 2 * w)
    assert routed == 2  # Inductor too: an extern call of tritonhost's operator


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["eager", "aot_eager", "tritonhost", "inductor"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_on_the_gpu_a_forward_returning_its_saved_output_through_a_no_op_cast(backend, dtype):
    """flash-linear-attention's pattern on a GPU, where Dynamo models kernels itself: installed,
    every backend gets the gradients on torch 2.11 (pytorch/pytorch#180642)."""
    torch.manual_seed(3)
    x = torch.randn(2, 37, 80, device="cuda").to(dtype)
    g = (torch.nn.functional.logsigmoid(torch.randn(2, 37, 80, device="cuda")) / 4).to(dtype)
    with tritonhost.use_backend("cuda"), tritonhost.install():
        got, got_grads = values_and_gradients(_compiled(libf.gated_scan, backend), x, g)
    torch._dynamo.reset()
    _assert_gated_scan_matches((got, got_grads), x, g)


def _gpu_programs():
    """(name, program, reference, inputs on the GPU) for the corpus's other kinds of launch."""
    torch.manual_seed(6)
    a, b, x = (torch.randn(100, device="cuda") for _ in range(3))
    rows, alpha, w, beta = torch.randn(5, 24, device="cuda"), torch.tensor([0.7], device="cuda"), \
        torch.randn(24, device="cuda"), torch.randn(24, device="cuda")
    return {
        "swiglu": (libf.swiglu, libf.swiglu_reference, (a, b)),
        "autotuned": (libf.scale_by_three, lambda t: 3 * t, (x,)),
        "heuristics": (libf.dyt, libf.dyt_reference, (rows, alpha, w, beta)),
        "heuristics-no-beta": (libf.dyt, libf.dyt_reference, (rows, alpha, w)),
    }


@pytest.mark.gpu
@pytest.mark.parametrize("backend", MODES)
@pytest.mark.parametrize("name", ["swiglu", "autotuned", "heuristics", "heuristics-no-beta"])
def test_on_the_gpu_each_kind_of_launch_trains_under_each_backend(backend, name):
    program, reference, inputs = _gpu_programs()[name]
    with tritonhost.use_backend("cuda"), tritonhost.install():
        got, got_grads = values_and_gradients(_compiled(program, backend), *inputs)
    torch._dynamo.reset()
    want, want_grads = values_and_gradients(reference, *inputs)
    assert_close_to_scale(got, want, 1e-5)
    for g, w_ in zip(got_grads, want_grads, strict=True):
        assert_close_to_scale(g, w_, 1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", MODES)
def test_on_the_gpu_wrap_triton_and_triton_op_programs(backend):
    a, b, x = (torch.randn(100, device="cuda") for _ in range(3))
    with tritonhost.use_backend("cuda"), tritonhost.install():
        got = _compiled(libf.swiglu_through_wrap_triton, backend)(a, b)
        got_gelu = _compiled(libf.gelu, backend)(x)
    torch._dynamo.reset()
    torch.testing.assert_close(got, libf.swiglu_reference(a, b))
    torch.testing.assert_close(got_gelu, torch.nn.functional.gelu(x), rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_on_the_gpu_residual_add_and_norm_writing_its_gradient_over_the_incoming_one(backend, dtype):
    """Liger's fused residual add + RMSNorm (in place) on a GPU, where Dynamo models kernels itself."""
    with tritonhost.use_backend("cuda"), tritonhost.install():
        _check_fused_add_rms_norm(backend, dtype, device="cuda")
    torch._dynamo.reset()


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["aot_eager", "tritonhost", "inductor"])
def test_on_the_gpu_a_backward_writing_into_the_forward_inputs_compiles_under_each_backend(backend):
    """Liger's SwiGLU and GeGLU backward, on torch 2.11 (pytorch#178622): installed, every backend runs it."""
    torch._dynamo.reset()
    torch.manual_seed(2)
    a0, b0 = torch.randn(100, device="cuda"), torch.randn(100, device="cuda")
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    with tritonhost.use_backend("cuda"), tritonhost.install():
        out = torch.compile(libf.swiglu_into_inputs, backend=backend, fullgraph=True)(a, b)
        weight = torch.linspace(-1, 1, 100, device="cuda")
        (out * weight).sum().backward()
    want, (want_da, want_db) = values_and_gradients(libf.swiglu_reference, a0, b0)
    torch.testing.assert_close(out.detach(), want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.grad, want_da, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b.grad, want_db, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.detach(), want_da, rtol=1e-5, atol=1e-6)  # the library's side effect


def _labels_with_ignored_rows(rows, classes, device="cpu"):
    labels = torch.randint(0, classes, (rows,), device=device)
    labels[::3] = -100
    return labels


@pytest.mark.parametrize("mode", MODES)
def test_chunked_cross_entropy_writing_into_slices_of_one_buffer(installed, mode):
    torch.manual_seed(4)
    x, weight = torch.randn(100, 16), torch.randn(40, 16)
    labels = _labels_with_ignored_rows(100, 40)
    got = _compiled(libf.chunked_linear_cross_entropy, mode)(x, weight, labels)
    torch.testing.assert_close(got, libf.chunked_linear_cross_entropy_reference(x, weight, labels))


def _fill_free_gpu_memory(value):
    """Fill blocks of small sizes with ``value`` and free them: the caching allocator keeps them
    for the next allocations, which then start out holding ``value``."""
    blocks = [torch.full((n,), value, device="cuda") for n in (32, 64, 96, 128, 256, 1024) for _ in range(32)]
    del blocks


@pytest.mark.gpu
def test_on_the_gpu_installed_inductor_avoids_its_out_of_bounds_read_on_sliced_kernel_outputs():
    """Liger's fused_linear_cross_entropy under Inductor (pytorch/pytorch#192219): PyTorch's path
    for a user kernel writing into a slice clones it with an as_strided that reads past the
    slice's own buffer, so stale allocator memory reaches the rows the kernel does not store.
    Installed, Inductor calls tritonhost's operator, which clones with the slice's own extent."""
    torch.manual_seed(4)
    x, weight = torch.randn(128, 64, device="cuda"), torch.randn(256, 64, device="cuda")
    labels = _labels_with_ignored_rows(128, 256, "cuda")
    want = libf.chunked_linear_cross_entropy_reference(x, weight, labels)
    torch._dynamo.reset()
    with tritonhost.use_backend("cuda"), tritonhost.install():
        routed, _ = _routed_launches(libf.chunked_linear_cross_entropy, x, weight, labels, backend="inductor")
        assert routed == 4  # one launch per chunk, through tritonhost's operator
        compiled = torch.compile(libf.chunked_linear_cross_entropy, backend="inductor", fullgraph=True)
        _fill_free_gpu_memory(7.0)  # what a stale read would find
        torch.testing.assert_close(compiled(x, weight, labels), want)


def test_wrap_triton_and_triton_op_under_aot_eager_where_dynamo_models_kernels(installed, modelled):
    a, b = torch.randn(100), torch.randn(100)
    compiled = torch.compile(libf.swiglu_through_wrap_triton, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(a, b), libf.swiglu_reference(a, b))
    x = torch.randn(100)
    compiled = torch.compile(libf.gelu, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), torch.nn.functional.gelu(x), rtol=1e-5, atol=1e-6)


def test_traced_launches_become_tritonhost_operators(installed):
    from torch.fx.experimental.proxy_tensor import make_fx

    def program(x, y):
        out = torch.empty_like(x)
        add_kernel[(2,)](x, y, out, 40, BLOCK=32)
        return out

    graph = make_fx(torch.func.functionalize(program))(torch.randn(40), torch.randn(40))
    (node,) = [n for n in graph.graph.nodes if n.target is tritonhost_kernel_functional]
    assert node.kwargs["tensors_to_clone"] == ["out_ptr"]  # tritonhost's analysis decided the clone


@pytest.mark.skipif(GPU, reason="with a GPU, Triton launches these itself")
def test_uninstalling_gives_launches_back_to_triton(interpreter):
    x = torch.randn(40)
    out = torch.empty_like(x)
    outer = tritonhost.install()
    with tritonhost.install():  # nested: undone only with the last one
        add_kernel[(2,)](x, x, out, 40, BLOCK=32)
    add_kernel[(2,)](x, x, out, 40, BLOCK=32)
    assert tritonhost.installed()
    outer.uninstall()
    outer.uninstall()  # twice is harmless
    assert not tritonhost.installed()
    with pytest.raises(RuntimeError, match="active drivers"):
        add_kernel[(2,)](x, x, out, 40, BLOCK=32)
    torch.testing.assert_close(out, 2 * x)


SCRIPT = """
import sys
import torch
from kernels import add_kernel

if __name__ == "__main__":
    x = torch.arange(8.0)
    out = torch.empty(8)
    add_kernel[(1,)](x, x, out, 8, BLOCK=8)
    print("result", out.tolist(), sys.argv[1:])
"""


def _env():
    import os

    env = dict(os.environ, TRITONHOST_BACKEND="interpreter")
    tests = str(__import__("pathlib").Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))  # keep what is there
    return env


def test_the_cli_runs_a_script_unchanged(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, "-m", "tritonhost", "run", str(script), "--epochs", "2"],
                            capture_output=True, text=True, env=_env(), check=False)
    assert result.returncode == 0, result.stderr
    assert "result [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0] ['--epochs', '2']" in result.stdout


def test_the_pytest_option_runs_a_kernel_librarys_tests_unchanged(tmp_path):
    (tmp_path / "test_library.py").write_text(textwrap.dedent("""
        import torch
        from kernels import add_kernel

        def test_add():
            x = torch.arange(8.0)
            out = torch.empty(8)
            add_kernel[(1,)](x, x, out, 8, BLOCK=8)
            assert out.tolist() == (2 * x).tolist()
    """))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_library.py")]
    with_option = subprocess.run([*command, "--tritonhost-install"], capture_output=True, text=True, env=_env(),
                                 cwd=tmp_path, check=False)
    assert with_option.returncode == 0, with_option.stdout + with_option.stderr
    if not GPU:
        without = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=tmp_path, check=False)
        assert without.returncode == 1 and "active drivers" in without.stdout
