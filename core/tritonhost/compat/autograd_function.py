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
installed (``tritonhost.install()``), on a torch without it.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.torch_version import TorchVersion

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
