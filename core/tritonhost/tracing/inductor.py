"""Inductor, torch.compile's default backend, runs tritonhost's launches as extern calls.

Inductor lowers each operator of the graph AOTAutograd hands it. PyTorch's user-kernel
operators have lowerings; tritonhost's had none, so ``torch.compile(f)`` of a program
that launches through tritonhost (``tritonhost.wrap``, or any launch while installed
where Dynamo traces it as Python: every launch on a CPU) failed with
"tritonhost_kernel_functional is not an OpOverload".

The lowering here makes each ``tritonhost_kernel_functional`` node one extern
(fallback) kernel of Inductor's wrapper, which calls the operator as eager code does: it
clones the tensors the kernel writes and launches on the selected backend (the CPU
interpreter, a GPU plugin). Inductor still generates and fuses the PyTorch operations
around it and plans their memory. Not Inductor's own ``UserDefinedTritonKernel``: that
launches through Triton's driver, which a CPU lacks and which would bypass the selected
backend.

What keeps it correct:

- **Strides.** A kernel indexes memory through the strides its launch passed, and those
  became constants when the launch was traced; Inductor may pick another layout for an
  intermediate. Every tensor reaches the call with exactly the strides it had when traced.
- **No stale ids.** The node refers to the kernel by its id in this process's side table.
  Inductor's FX graph cache refuses graphs that hold a higher-order operator not marked
  cacheable (ours is not), so no compiled graph reaches another process.

Registered when needed, since importing Inductor's lowering costs about 0.9 s on a 2-core
CPU: Inductor's compile imports it before AOTAutograd traces the graph, and tracing a
tritonhost node registers the lowering where it is loaded
(:func:`tritonhost.tracing.hops.lower_in_inductor_if_loaded`).

Limits: Inductor's C++ wrapper (``cpp_wrapper``, AOTInductor) cannot call a Python
operator, and Inductor does not reinplace these calls (each written tensor is cloned, as
``aot_eager`` does without tritonhost's re-inplacing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch._inductor import ir
from torch._inductor.lowering import lowerings, register_lowering
from torch._inductor.virtualized import V
from torch._ops import HigherOrderOperator


def _traced_value(value: Any) -> Any:
    """The example value an FX argument had when traced (a FakeTensor for a tensor)."""
    return value.meta.get("val") if isinstance(value, torch.fx.Node) else value


def _with_traced_strides(value: Any, traced: Any) -> Any:
    if isinstance(value, ir.IRNode) and isinstance(traced, torch.Tensor):
        return ir.ExternKernel.require_exact_strides(value, traced.stride())
    return value


def _as_tensor_box(node: Any) -> Any:
    # PyTorch 2.13's IR nodes wrap themselves (wrap_for_lowering); 2.11's are boxed.
    wrap = getattr(node, "wrap_for_lowering", None)
    if wrap is not None:
        return wrap()
    return ir.TensorBox.create(node) if isinstance(node, ir.IRNode) else node


def _lowering(operator: HigherOrderOperator) -> Any:
    def lower(
        *,
        kernel_idx: int,
        constant_args_idx: int,
        grid: Any,
        kwargs: Mapping[str, Any],
        tensors_to_clone: Sequence[str],
        same_tensor: Sequence[Sequence[str]],
    ) -> dict[str, Any]:
        node = V.graph.current_node
        traced_kwargs: Mapping[str, Any] = node.kwargs["kwargs"] if node is not None else {}  # type: ignore[assignment]
        fixed = {
            name: _with_traced_strides(value, _traced_value(traced_kwargs.get(name)))
            for name, value in kwargs.items()
        }
        outputs: Any = ir.FallbackKernel.create(  # a dict of outputs, as the operator returns
            operator,
            kernel_idx=kernel_idx,
            constant_args_idx=constant_args_idx,
            grid=grid,
            kwargs=fixed,
            tensors_to_clone=list(tensors_to_clone),
            same_tensor=[list(group) for group in same_tensor],
        )
        return {name: _as_tensor_box(output) for name, output in outputs.items()}

    return lower


def register(operator: HigherOrderOperator) -> None:
    """Give Inductor a lowering of ``operator`` (tritonhost_kernel_functional); idempotent."""
    if operator not in lowerings:
        register_lowering(operator, type_promotion_kind=None)(_lowering(operator))
