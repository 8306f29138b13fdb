"""Dynamo's trace of an ``autograd.Function`` forward that returns a tensor it also keeps, made right on every torch.

When Dynamo traces the forward of an ``autograd.Function``, each intermediate tensor
that a side effect holds on to (``ctx.save_for_backward``, an attribute of ``ctx``, a
list it appends to) becomes an extra output of the forward graph. Until
pytorch/pytorch#180921 it did so even when that tensor is, at run time, the very
tensor the forward returns under another name. ``o.to(q.dtype)`` where ``o`` already
has that dtype returns ``o`` itself, and flash-linear-attention ends most of its
forwards with ``return o.to(q.dtype)`` after saving ``o``. The forward graph then
returns one TensorImpl twice. Autograd gives the second the output number of the
first, so the gradient of the returned tensor reaches the backward in the wrong slot
and the backward receives zeros in its place. The gradients are silently wrong under
``torch.compile``, for every backend, with PyTorch's kernel operators or tritonhost's
(pytorch/pytorch#180642; torch 2.11 has the bug, 2.13 the fix, 2.12 is told apart by
its source).

PyTorch's fix filters, from those extra outputs, the intermediates that alias the
forward's inputs or outputs. The filter was already there for other higher-order
operators (``invoke_subgraph``); the fix has the forward of an ``autograd.Function``
ask for it. :func:`filter_forward_aliases` applies the same fix, while tritonhost is
installed (``tritonhost.install()``), on a torch without it. ``backend="tritonhost"`` alone
comes too late to apply it (Dynamo has traced the forward before any backend runs), so on
such a torch it refuses a graph that holds the bug (:func:`refuse_forward_aliases`) rather
than compile wrong gradients.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.fx
from torch.torch_version import TorchVersion

from tritonhost.errors import UnsupportedFeatureError

#: What Dynamo's forward speculation passes on a torch with the fix.
_FLAG = "filter_aliased_intermediates"


@functools.cache
def dynamo_filters_forward_aliases() -> bool:
    """Whether this torch's Dynamo already filters aliased intermediates out of an ``autograd.Function`` forward."""
    if TorchVersion(torch.__version__) >= "2.13":  # has the fix: no need to import Dynamo
        return True
    from torch._dynamo.variables import higher_order_ops

    try:
        source = inspect.getsource(higher_order_ops.AutogradFunctionApplyVariable.trace_forward_graph)
    except OSError:  # no source shipped: assume the bug, whose fix below changes nothing where it is fixed
        return False
    return _FLAG in source


def _filtering(original: Callable[..., Any], description: str) -> Callable[..., Any]:
    """Dynamo's ``speculate_subgraph_with_auto_output_flattening``, asking for the filter in an ``autograd.Function`` forward."""

    @functools.wraps(original)
    def speculate(*args: Any, **kwargs: Any) -> Any:
        # (tx, f, sub_args, sub_kwargs, description, ...). The forward of an autograd.Function
        # is the one speculation of that description whose inputs Dynamo finds itself
        # ("automatic"); the backward's are forced to the forward's outputs.
        called = args[4] if len(args) > 4 else kwargs.get("description")
        if called == description and kwargs.get("set_subgraph_inputs") == "automatic":
            kwargs.setdefault(_FLAG, True)
        return original(*args, **kwargs)

    return speculate


def filter_forward_aliases() -> Callable[[], None] | None:
    """Apply PyTorch's fix where this torch lacks it; return what undoes it, or None where nothing was changed.

    Warns where the fix is missing and cannot be applied (a Dynamo whose speculation
    has no filter to ask for): there, an ``autograd.Function`` that returns a tensor it
    also saves may get wrong gradients under ``torch.compile``.
    """
    if dynamo_filters_forward_aliases():
        return None
    from torch._dynamo.variables import higher_order_ops

    original = getattr(higher_order_ops, "speculate_subgraph_with_auto_output_flattening", None)
    description = getattr(getattr(higher_order_ops, "AutogradFunctionApplyVariable", None), "_HOP_NAME", None)
    if original is None or description is None or _FLAG not in inspect.signature(original).parameters:
        warnings.warn(
            f"torch {torch.__version__}: tritonhost cannot apply pytorch/pytorch#180921 to this Dynamo. Under "
            "torch.compile, an autograd.Function whose forward returns a tensor it also saves (such as a no-op "
            "`o.to(dtype)` of a saved `o`) may get zero gradients. Use torch 2.13 or newer.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    higher_order_ops.speculate_subgraph_with_auto_output_flattening = _filtering(original, description)

    def undo() -> None:
        higher_order_ops.speculate_subgraph_with_auto_output_flattening = original

    return undo


def _forward_outputs(module: torch.nn.Module, node: torch.fx.Node) -> list[torch.fx.Node]:
    """The nodes the forward subgraph of an ``autograd_function_apply`` node returns, in order."""
    body = node.args[0]
    if not (isinstance(body, torch.fx.Node) and body.op == "get_attr" and isinstance(body.target, str)):
        return []
    forward = module.get_submodule(body.target)
    if not isinstance(forward, torch.fx.GraphModule):
        return []
    output = next(n for n in forward.graph.nodes if n.op == "output")
    values = output.args[0]
    # Dynamo's forward returns ((outputs and kept intermediates), (saved tensors)): a saved
    # tensor may well be an output too, so only the first part is checked.
    if isinstance(values, tuple) and len(values) == 2 and all(isinstance(v, tuple) for v in values):
        values = values[0]
    returned: list[torch.fx.Node] = []
    torch.fx.node.map_arg(values, returned.append)
    return returned


def refuse_forward_aliases(graph_module: torch.fx.GraphModule) -> None:
    """Raise where Dynamo's graph holds an ``autograd.Function`` forward that returns one tensor under two names.

    Only on a torch whose Dynamo does not filter them (the bug above): there, its
    backward would get zeros for that output's gradient. Two outputs are one tensor
    where their fake values are one object, as Dynamo's trace of a no-op ``o.to(o.dtype)``
    gives; views of one storage are distinct tensors, which autograd keeps apart.
    """
    if dynamo_filters_forward_aliases():
        return
    apply = getattr(torch.ops.higher_order, "autograd_function_apply", None)
    for module in graph_module.modules():
        if not isinstance(module, torch.fx.GraphModule):
            continue
        for node in module.graph.nodes:
            if node.op != "call_function" or node.target is not apply:
                continue
            seen: dict[int, torch.fx.Node] = {}
            for returned in _forward_outputs(module, node):
                value = returned.meta.get("example_value")
                if not isinstance(value, torch.Tensor):
                    continue
                first = seen.setdefault(id(value), returned)
                if first is not returned:
                    where = (first.meta.get("stack_trace") or "").strip().splitlines()[-1:]
                    raise UnsupportedFeatureError(
                        f"torch {torch.__version__} would compute wrong gradients here: the forward of an "
                        f"autograd.Function returns the same tensor as '{first.name}' and '{returned.name}' "
                        f"({where[0].strip() if where else 'a no-op such as o.to(o.dtype) of a tensor it saves'}), "
                        "and this torch's Dynamo then gives its backward zeros for that output's gradient "
                        "(pytorch/pytorch#180642). Call tritonhost.install() before torch.compile, which applies "
                        "PyTorch's fix, or use torch 2.13."
                    )
