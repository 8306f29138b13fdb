"""How a launch reaches Dynamo: one opaque, graphable call.

Dynamo does not know tritonhost's callables. Rather than teach it (PyTorch does
that with a variable tracker of its own for ``wrap_triton``), a launch inside
``torch.compile`` calls :func:`compiled_launch`, marked ``nonstrict_trace``:
Dynamo records it as a single call whose inputs are graph values only (tensors,
numbers, SymInts, the kernel's side-table id, grids evaluated per autotune
config), and AOTAutograd then traces into it,
where the launch becomes a ``tritonhost_kernel_mutation`` node and is
functionalized like any other. ``tritonhost.wrap`` is marked
``assume_constant_result``: Dynamo runs it at trace time and keeps the result.
See docs/tracing.md.
"""

from __future__ import annotations

from typing import Any

import torch
import torch._dynamo

from tritonhost.tracing.entry import trace_launch
from tritonhost.tracing.side_table import side_table


def _launch_in_compiled_region(wrapped_index: int, grid: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    trace_launch(side_table.wrapped(wrapped_index), grid, args, kwargs)
    return 0  # nonstrict_trace needs a graphable result; the launch's effect is the mutation


compiled_launch = torch._dynamo.nonstrict_trace(_launch_in_compiled_region)
is_compiling = torch.compiler.is_compiling
