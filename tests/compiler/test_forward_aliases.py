"""compat/autograd_function.py: a traced autograd.Function forward that returns a tensor it also saves.

On torch 2.11, Dynamo makes the saved tensor an extra output of the forward graph beside
the returned one, though at run time both are one tensor (a no-op ``o.to(o.dtype)``), and
the backward receives zeros for the returned tensor's gradient (pytorch/pytorch#180642).
The kernel-library case (a Function launching kernels with ``kernel[grid]``, in fp32 and
bf16, under every backend) is tests/launch/test_install.py's
``test_a_forward_returning_its_saved_output_through_a_no_op_cast``; on torch 2.11 it fails
in fp32 without the fix (checked by hand). These tests check the fix itself on whichever
torch is installed.
"""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.variables import higher_order_ops

import tritonhost
from tritonhost.compat import autograd_function
from tritonhost.compat.autograd_function import (
    _filtering,
    dynamo_filters_forward_aliases,
    filter_forward_aliases,
    refuse_forward_aliases,
)
from tritonhost.errors import UnsupportedFeatureError


class _ReturnsWhatItSaves(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        o = x * 2
        ctx.save_for_backward(o)
        return o.to(x.dtype)  # a no-op: returns o itself

    @staticmethod
    def backward(ctx, do):
        (o,) = ctx.saved_tensors
        return do * 3 + o * 0


def _gradient(backend: str) -> torch.Tensor:
    torch._dynamo.reset()
    x = torch.randn(4, requires_grad=True)
    (torch.compile(_ReturnsWhatItSaves.apply, backend=backend, fullgraph=True)(x) * torch.arange(1.0, 5.0)).sum().backward()
    torch._dynamo.reset()
    assert x.grad is not None
    return x.grad


@pytest.mark.parametrize("backend", ["eager", "aot_eager", "tritonhost"])
def test_installed_a_no_op_cast_of_a_saved_tensor_keeps_its_gradient(interpreter, backend):
    want = 3 * torch.arange(1.0, 5.0)
    if not dynamo_filters_forward_aliases():  # PyTorch's own bug, which installing fixes
        if backend == "tritonhost":  # too late to fix in the backend: refused, not compiled wrong
            with pytest.raises(Exception, match=r"wrong gradients.*pytorch/pytorch#180642"):
                _gradient(backend)
        else:
            torch.testing.assert_close(_gradient(backend), torch.zeros(4))
    with tritonhost.install():
        torch.testing.assert_close(_gradient(backend), want)
    if dynamo_filters_forward_aliases():
        torch.testing.assert_close(_gradient(backend), want)


def test_only_the_forward_speculation_asks_for_the_filter():
    calls: list[dict[str, object]] = []

    def speculate(*args: object, **kwargs: object) -> str:
        calls.append(kwargs)
        return "traced"

    filtering = _filtering(speculate, "autograd.Function")
    tx, f, sub_args, sub_kwargs = object(), object(), [], {}
    # The forward: Dynamo finds its inputs itself.
    assert filtering(tx, f, sub_args, sub_kwargs, "autograd.Function", set_subgraph_inputs="automatic") == "traced"
    # The backward: its inputs are forced to the forward's outputs.
    filtering(tx, f, sub_args, sub_kwargs, "autograd.Function", set_subgraph_inputs="automatic_with_forced_inputs")
    # Other higher-order operators, and a caller that says what it wants.
    filtering(tx, f, sub_args, sub_kwargs, "torch.cond", set_subgraph_inputs="automatic")
    filtering(tx, f, sub_args, sub_kwargs, description="autograd.Function", set_subgraph_inputs="automatic")
    filtering(
        tx, f, sub_args, sub_kwargs, "autograd.Function", set_subgraph_inputs="automatic",
        filter_aliased_intermediates=False,
    )
    assert [c.get("filter_aliased_intermediates") for c in calls] == [True, None, None, True, False]


def test_installing_patches_dynamo_only_where_it_lacks_the_fix(interpreter):
    before = higher_order_ops.speculate_subgraph_with_auto_output_flattening
    with tritonhost.install(), tritonhost.install():  # nested: undone with the outer one
        during = higher_order_ops.speculate_subgraph_with_auto_output_flattening
    after = higher_order_ops.speculate_subgraph_with_auto_output_flattening
    assert after is before
    if dynamo_filters_forward_aliases():
        assert during is before
    else:
        assert during is not before and during.__wrapped__ is before  # type: ignore[attr-defined]


def test_a_dynamo_it_cannot_fix_is_named_in_a_warning(monkeypatch):
    def speculate_without_the_filter(tx, f, sub_args, sub_kwargs, description, **kwargs):
        raise AssertionError("not called")

    monkeypatch.setattr(autograd_function, "dynamo_filters_forward_aliases", lambda: False)
    monkeypatch.setattr(higher_order_ops, "speculate_subgraph_with_auto_output_flattening", speculate_without_the_filter)
    with pytest.warns(RuntimeWarning, match=r"pytorch/pytorch#180921.*zero gradients.*torch 2\.13"):
        assert filter_forward_aliases() is None
    assert higher_order_ops.speculate_subgraph_with_auto_output_flattening is speculate_without_the_filter


def _dynamo_graph() -> torch.fx.GraphModule:
    captured: list[torch.fx.GraphModule] = []

    def capture(graph_module, example_inputs):
        captured.append(graph_module)
        return graph_module.forward

    torch._dynamo.reset()
    torch.compile(_ReturnsWhatItSaves.apply, backend=capture, fullgraph=True)(torch.randn(4, requires_grad=True))
    torch._dynamo.reset()
    return captured[0]


def _forward_output(graph_module: torch.fx.GraphModule) -> torch.fx.Node:
    (forward,) = [m for name, m in graph_module.named_children() if name.startswith("fwd_body")]
    return next(n for n in forward.graph.nodes if n.op == "output")


def test_backend_tritonhost_refuses_a_forward_that_returns_one_tensor_twice(monkeypatch):
    """What torch 2.11's Dynamo records (((outs, o), (o,)), outs being o.to(o.dtype)), made from this torch's graph."""
    graph_module = _dynamo_graph()
    output = _forward_output(graph_module)
    (outputs, saved) = output.args[0]
    outs = outputs[0]
    o = outs.args[0]  # outs = o.to(torch.float32): one fake tensor for both
    assert outs.meta["example_value"] is o.meta["example_value"]
    monkeypatch.setattr(autograd_function, "dynamo_filters_forward_aliases", lambda: False)
    output.args = (((outs,), saved),)
    refuse_forward_aliases(graph_module)  # as a torch with the fix records it: o returned once, and saved
    output.args = (((outs, o), saved),)  # as torch 2.11 records it
    with pytest.raises(UnsupportedFeatureError, match=r"'outs' and 'o'.*pytorch/pytorch#180642.*tritonhost\.install\(\)"):
        refuse_forward_aliases(graph_module)
    monkeypatch.setattr(autograd_function, "dynamo_filters_forward_aliases", lambda: True)
    refuse_forward_aliases(graph_module)  # a torch with the fix never records it
