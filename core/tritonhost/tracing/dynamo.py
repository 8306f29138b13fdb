"""How a launch reaches Dynamo: one opaque, graphable call.

Dynamo does not know tritonhost's callables. Rather than teach it (PyTorch does
that with a variable tracker of its own for ``wrap_triton``), a launch inside
``torch.compile`` calls :func:`compiled_launch`, marked ``nonstrict_trace``:
Dynamo records it as a single call whose inputs are graph values only (tensors,
numbers, SymInts, the kernel's side-table id, grids evaluated per autotune
config); constexprs, None and launch options are registered at trace time
(``assume_constant_result``) and passed by id. AOTAutograd then traces into it,
where the launch becomes a ``tritonhost_kernel_mutation`` node and is
functionalized like any other. ``tritonhost.wrap`` is marked
``assume_constant_result``: Dynamo runs it at trace time and keeps the result.
See docs/tracing.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch._dynamo

from tritonhost.errors import UnsupportedFeatureError
from tritonhost.host.selection import select
from tritonhost.tracing.entry import GRAPH_VALUE_TYPES, grids_per_config, trace_launch
from tritonhost.tracing.side_table import Constants, side_table

if TYPE_CHECKING:
    from tritonhost.runtime.wrapper import WrappedKernel



def _launch_in_compiled_region(
    wrapped_index: int, constants_index: int, grid: Any, graph_args: dict[str, Any]
) -> int:
    constants = side_table.constants(constants_index).params
    trace_launch(side_table.wrapped(wrapped_index), grid, (), {**graph_args, **constants})
    return 0  # nonstrict_trace needs a graphable result; the launch's effect is the mutation


def _unsupported(*args: Any) -> int:
    raise UnsupportedFeatureError(
        f"launching tritonhost kernels inside torch.compile needs torch._dynamo.nonstrict_trace, which "
        f"PyTorch {torch.__version__} lacks; upgrade PyTorch, or launch outside the compiled region"
    )


_nonstrict_trace = getattr(torch._dynamo, "nonstrict_trace", None)
_compiled_launch = _nonstrict_trace(_launch_in_compiled_region) if _nonstrict_trace else _unsupported


@torch.compiler.assume_constant_result
def _register_constants(items: tuple[tuple[str, Any], ...]) -> int:
    # Run for real at trace time: the values are Python constants of this call site. The
    # backend is selected here too, so a bad TRITONHOST_BACKEND fails with its own message.
    select()
    return side_table.add_constants(Constants(params=dict(items), options={}))


def launch_compiled(wrapped: WrappedKernel, grid: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A launch inside a torch.compile region (traced by Dynamo): split, then one opaque call."""
    model = wrapped.model
    params = dict(zip(model.arg_names, args))
    params.update(kwargs)
    graph_args = {}
    constants = []
    for name, value in params.items():
        if name in model.constexprs or name not in model.arg_names or not isinstance(value, GRAPH_VALUE_TYPES):
            constants.append((name, value))
        else:
            graph_args[name] = value
    if callable(grid):
        grid = grids_per_config(model, grid, args, kwargs)
    # "+ 0" makes a plain int of the trace-time result: Dynamo cannot guard on the
    # source it keeps for assume_constant_result values, and the call's inputs are guarded.
    constants_index = _register_constants(tuple(constants)) + 0
    _compiled_launch(wrapped.table_index, constants_index, grid, graph_args)


def _mark_wrap_for_dynamo() -> None:
    # wrap() imports this module before its first compile-time lookup, so the mark is in
    # place before Dynamo meets the call.
    from tritonhost.runtime import wrapper

    torch.compiler.assume_constant_result(wrapper._wrapped_attribute)


_mark_wrap_for_dynamo()
