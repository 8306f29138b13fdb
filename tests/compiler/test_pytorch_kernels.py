"""Graphs holding PyTorch's own user-kernel operators compile with backend="tritonhost".

Where Triton can compile, Dynamo models ``kernel[grid]``, ``wrap_triton`` and ``triton_op``
launches itself and records ``triton_kernel_wrapper_mutation`` (or, for a triton_op,
AOTAutograd makes ``triton_kernel_wrapper_functional``). On this CPU machine the tests make
Dynamo model kernels as it does on a GPU machine (``has_triton`` answers True), so that the
graphs hold PyTorch's operators; the backend takes them over and runs them on the
interpreter. On a GPU machine the same happens unpatched, and the ``gpu`` tests run them on
CUDA beside Inductor.
"""

from __future__ import annotations

import pytest
import torch
import torch.utils._triton

import library_functions as libf
import tritonhost
from comparisons import assert_close_to_scale, values_and_gradients
from kernels import add_kernel
from tritonhost.tracing.hops import tritonhost_kernel_functional, tritonhost_kernel_mutation


@pytest.fixture
def modelled(monkeypatch, interpreter):
    """Dynamo models Triton kernels, as where Triton can compile."""
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    torch._dynamo.reset()
    yield interpreter
    torch._dynamo.reset()


def plain_add(x, y):
    out = torch.empty_like(x)
    add_kernel[(3,)](x, y, out, x.numel(), BLOCK=16)
    return out






def test_a_modelled_launch_becomes_a_tritonhost_operator(modelled):
    x, y = torch.randn(40), torch.randn(40)
    with tritonhost.capture_wrappers() as wrappers:
        out = torch.compile(plain_add, backend="tritonhost", fullgraph=True)(x, y)
    torch.testing.assert_close(out, x + y, rtol=0, atol=0)
    (wrapper,) = wrappers
    assert "launch_add_kernel(" in wrapper.code  # tritonhost's lowering and launch site


@pytest.mark.parametrize(
    ("fn", "reference", "inputs"),
    [
        (libf.rms_norm, libf.rms_norm_reference, lambda: (torch.randn(6, 40) * 1e-3, torch.randn(40))),
        (libf.swiglu, libf.swiglu_reference, lambda: (torch.randn(100), torch.randn(100))),
        (libf.scale_by_three, lambda x: 3 * x, lambda: (torch.randn(77),)),
    ],
    ids=["rms_norm", "swiglu in-place backward", "autotuned"],
)
def test_autograd_functions_launching_plain_kernels_train(modelled, fn, reference, inputs):
    torch.manual_seed(0)
    args = inputs()
    got, got_grads = values_and_gradients(torch.compile(fn, backend="tritonhost", fullgraph=True), *args)
    want, want_grads = values_and_gradients(reference, *args)
    assert_close_to_scale(got, want, 1e-5)
    for g, w in zip(got_grads, want_grads):
        assert_close_to_scale(g, w, 1e-4)


def test_bf16_rms_norm(modelled):
    x, w = (torch.randn(6, 40) * 1e-3).bfloat16(), torch.randn(40).bfloat16()
    got, got_grads = values_and_gradients(torch.compile(libf.rms_norm, backend="tritonhost", fullgraph=True), x, w)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, x, w)
    assert_close_to_scale(got, want, 2e-2)
    for g, w_ in zip(got_grads, want_grads):
        assert_close_to_scale(g, w_, 2e-1)


def test_wrap_triton_and_triton_op(modelled):
    a, b = torch.randn(100), torch.randn(100)
    compiled = torch.compile(libf.swiglu_through_wrap_triton, backend="tritonhost", fullgraph=True)
    torch.testing.assert_close(compiled(a, b), libf.swiglu_reference(a, b))
    torch._dynamo.reset()
    x = torch.randn(100)
    with tritonhost.capture_wrappers() as wrappers:
        out = torch.compile(libf.gelu, backend="tritonhost", fullgraph=True)(x)
    torch.testing.assert_close(out, torch.nn.functional.gelu(x), rtol=1e-5, atol=1e-6)
    assert any("launch_gelu_erf(" in w.code for w in wrappers)


def test_the_graph_holds_tritonhosts_operators_after_adoption(modelled):
    from tritonhost.tracing.pytorch_kernels import adopt_pytorch_kernels

    seen = []

    def inspect_backend(graph_module, example_inputs):
        seen.append(adopt_pytorch_kernels(graph_module))
        seen.append([n.target for n in graph_module.graph.nodes if n.op == "call_function"])
        return graph_module.forward

    torch.compile(plain_add, backend=inspect_backend, fullgraph=True)(torch.randn(40), torch.randn(40))
    adopted, targets = seen
    assert adopted == 1 and tritonhost_kernel_mutation in targets
    assert tritonhost_kernel_functional not in targets  # functionalization comes later, in AOTAutograd


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["tritonhost", "inductor", "aot_eager"])
def test_on_the_gpu_beside_inductor(backend):
    torch._dynamo.reset()
    x, w = torch.randn(6, 40, device="cuda") * 1e-3, torch.randn(40, device="cuda")
    with tritonhost.use_backend("cuda"):
        got, got_grads = values_and_gradients(torch.compile(libf.rms_norm, backend=backend, fullgraph=True), x, w)
    want, want_grads = values_and_gradients(libf.rms_norm_reference, x, w)
    assert_close_to_scale(got, want, 1e-5)
    for g, w_ in zip(got_grads, want_grads):
        assert_close_to_scale(g, w_, 1e-4)
