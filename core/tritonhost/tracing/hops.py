"""The two higher-order operators a traced kernel launch becomes.

``tritonhost_kernel_mutation`` launches a kernel that writes its tensor
arguments in place, as eager code does. Functionalization rewrites it into
``tritonhost_kernel_functional``, which clones only the tensors the kernel
writes (from :func:`tritonhost.analyze`; every tensor when the analysis is not
exact), launches on the clones, and returns them by parameter name; the graph
then treats the originals as replaced by those clones.

Each operator has implementations for eager execution (through the selected
backend), FakeTensor mode and the Meta key (no kernel runs), proxy tracing
(``make_fx``) and functionalization. Both names differ from PyTorch's own
operators, which stay registered beside them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch._C import DispatchKey
from torch._higher_order_ops.utils import redirect_to_mode
from torch._ops import HigherOrderOperator
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.proxy_tensor import (
    ProxyTorchDispatchMode,
    disable_proxy_modes_tracing,
    track_tensor_tree,
)
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils.checkpoint import _CachedTorchDispatchMode, _CachingTorchDispatchMode
from triton.tools.tensor_descriptor import TensorDescriptor

from tritonhost.analysis import analyze_call
from tritonhost.contract import spec_for
from tritonhost.errors import AliasingError
from tritonhost.host.selection import select
from tritonhost.kernel.grid import pick_config_grid
from tritonhost.tracing.side_table import side_table

#: The grids a node carries: one per choice of autotune configs (a single one for other
#: kernels), or None when the grid is a function kept in the side table.
NodeGrids = Sequence[Sequence[Any]] | None


class TritonhostKernelMutation(HigherOrderOperator):
    """Launch a kernel that may write its tensor arguments in place. Returns None."""

    def __init__(self) -> None:
        super().__init__("tritonhost_kernel_mutation")

    def __call__(  # type: ignore[override]
        self, *, kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: dict[str, Any]
    ) -> None:
        return super().__call__(  # type: ignore[no-any-return]
            kernel_idx=kernel_idx, constant_args_idx=constant_args_idx, grid=grid, kwargs=kwargs
        )


class TritonhostKernelFunctional(HigherOrderOperator):
    """Launch a kernel on clones of ``tensors_to_clone``; return the clones by parameter name.

    Each written parameter gets a clone of its own, whatever tensor objects arrive:
    a graph pass (AOTAutograd's common-subexpression elimination) may merge two
    equal allocations into one tensor after functionalization. Only the
    parameters of one group of ``same_tensor``, recorded when the launch was
    functionalized because the program passed them one tensor, share a clone.
    """

    def __init__(self) -> None:
        super().__init__("tritonhost_kernel_functional")

    def __call__(  # type: ignore[override]
        self,
        *,
        kernel_idx: int,
        constant_args_idx: int,
        grid: NodeGrids,
        kwargs: dict[str, Any],
        tensors_to_clone: list[str],
        same_tensor: list[list[str]] | None = None,
    ) -> dict[str, Any]:
        return super().__call__(  # type: ignore[no-any-return]
            kernel_idx=kernel_idx,
            constant_args_idx=constant_args_idx,
            grid=grid,
            kwargs=kwargs,
            tensors_to_clone=tensors_to_clone,
            same_tensor=same_tensor or [],
        )


tritonhost_kernel_mutation = TritonhostKernelMutation()
tritonhost_kernel_functional = TritonhostKernelFunctional()

# Non-reentrant activation checkpointing (torch.utils.checkpoint) traces the checkpointed
# function under its own dispatch modes, which refuse an operator they have no rule for
# ("no rule registered for HigherOrderOperator ... _CachingTorchDispatchMode"). PyTorch
# gives its triton_kernel_wrapper_mutation the same rule: the modes pass the launch on.
for _mode in (_CachingTorchDispatchMode, _CachedTorchDispatchMode):
    redirect_to_mode(tritonhost_kernel_mutation, _mode)


def launch_eagerly(kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: Mapping[str, Any]) -> None:
    """Run the launch a node stands for, on the selected backend."""
    constants = side_table.constants(constant_args_idx)
    wrapped = side_table.wrapped(kernel_idx)
    if constants.tma:
        backend = select()
        kwargs = dict(kwargs)
        for name, (api, block_shape) in constants.tma.items():
            kwargs[name] = backend.make_tma_descriptor(kwargs[name], spec_for(kwargs[name], api, block_shape))
    if grid is None:
        launch_grid = constants.grid
    else:
        launch_grid = pick_config_grid(wrapped.decorated, [tuple(int(size) for size in g) for g in grid])
    wrapped[launch_grid](**kwargs, **constants.params, **constants.options)


def written_tensors(kernel_idx: int, constant_args_idx: int, kwargs: Mapping[str, Any]) -> list[str]:
    """The tensor arguments the launch writes, as the analysis finds them."""
    constants = side_table.constants(constant_args_idx)
    params = {**kwargs, **constants.params}
    for name, (api, block_shape) in constants.tma.items():
        if api == "stable":  # typed as the descriptor it becomes (a FakeTensor base is fine)
            params[name] = TensorDescriptor.from_tensor(kwargs[name], list(block_shape))
    result = analyze_call(side_table.wrapped(kernel_idx).kernel, (), params)
    return [name for name in result.written if isinstance(kwargs.get(name), torch.Tensor)]


def clone_with_strides(tensor: torch.Tensor) -> torch.Tensor:
    """A copy with the same sizes and strides: kernels index memory through the strides they are given."""
    out = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype, device=tensor.device)
    return out.copy_(tensor)


def same_tensor_groups(kwargs: Mapping[str, Any], written: Sequence[str]) -> list[list[str]]:
    """Groups of parameters passed one tensor object, each holding a written one, in parameter order.

    Asked where the launch is functionalized, while the program's tensors are still
    the objects it passed: later passes may merge distinct tensors.
    """
    groups = []
    for name in written:
        target = kwargs[name]
        group = [other for other, value in kwargs.items() if value is target]
        if len(group) > 1 and group not in groups:
            groups.append(group)
    return groups


def plan_clones(
    kwargs: Mapping[str, Any], written: Sequence[str], same_tensor: Sequence[Sequence[str]], clone: Any
) -> dict[str, Any]:
    """The launch's arguments with each written parameter on a clone: its own, or its group's."""
    group_of = {name: index for index, group in enumerate(same_tensor) for name in group}
    clones: dict[Any, Any] = {}
    launched = dict(kwargs)
    for name in written:
        key = ("group", group_of[name]) if name in group_of else ("param", name)
        if key not in clones:
            clones[key] = clone(kwargs[name])
        launched[name] = clones[key]
    for name, index in group_of.items():  # the group's read-only members read the clone
        launched[name] = clones[("group", index)]  # every recorded group holds a written parameter
    return launched


def check_aliasing(kernel: str, kwargs: Mapping[str, Any], written: Sequence[str]) -> None:
    """Refuse a written tensor that shares memory with another argument, unless it is the same tensor.

    One tensor passed twice works: the clone stands for both. Two different views
    of one storage cannot keep eager semantics once the written one is cloned.
    """
    for name in written:
        target = kwargs[name]
        storage = StorageWeakRef(target.untyped_storage())
        for other_name, other in kwargs.items():
            if other_name == name or not isinstance(other, torch.Tensor) or other is target:
                continue
            if StorageWeakRef(other.untyped_storage()) == storage:
                raise AliasingError(
                    f"kernel {kernel}: arguments {name!r} and {other_name!r} are "
                    f"different views of the same memory and the kernel writes {name!r}; a traced program "
                    "cannot keep eager semantics for that. Pass the same tensor for both, or clone one of them "
                    "before the launch."
                )


# --- mutation ---------------------------------------------------------------------------------


@tritonhost_kernel_mutation.py_impl(DispatchKey.CompositeExplicitAutograd)
def _mutation_dense(*, kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: dict[str, Any]) -> None:
    launch_eagerly(kernel_idx, constant_args_idx, grid, kwargs)


@tritonhost_kernel_mutation.py_impl(FakeTensorMode)
def _mutation_fake(
    mode: FakeTensorMode, *, kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: dict[str, Any]
) -> None:
    return None  # fake tensors hold no data; metadata does not change


@tritonhost_kernel_mutation.py_impl(DispatchKey.Meta)
def _mutation_meta(*, kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: dict[str, Any]) -> None:
    return None


def lower_in_inductor_if_loaded() -> None:
    """Give Inductor its lowering of ``tritonhost_kernel_functional`` once Inductor is loaded.

    Called where a node of these operators is traced: Inductor's compile has imported
    its lowering module by then, and a program that never runs Inductor does not pay
    for importing it (about 0.9 s).
    """
    global _lowered_in_inductor
    if not _lowered_in_inductor and "torch._inductor.lowering" in sys.modules:
        from tritonhost.tracing.inductor import register

        register(tritonhost_kernel_functional)
        _lowered_in_inductor = True


_lowered_in_inductor = False


def _trace(mode: ProxyTorchDispatchMode, operator: HigherOrderOperator, node_kwargs: dict[str, Any]) -> Any:
    lower_in_inductor_if_loaded()
    with disable_proxy_modes_tracing():
        out = operator(**node_kwargs)
    proxy_kwargs = pytree.tree_map(mode.tracer.unwrap_proxy, node_kwargs)  # type: ignore[union-attr]
    proxy = mode.tracer.create_proxy("call_function", operator, (), proxy_kwargs, name=operator.__name__)
    return track_tensor_tree(out, proxy, constant=None, tracer=mode.tracer)


@tritonhost_kernel_mutation.py_impl(ProxyTorchDispatchMode)
def _mutation_proxy(
    mode: ProxyTorchDispatchMode, *, kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: dict[str, Any]
) -> None:
    _trace(
        mode,
        tritonhost_kernel_mutation,
        {"kernel_idx": kernel_idx, "constant_args_idx": constant_args_idx, "grid": grid, "kwargs": kwargs},
    )


@tritonhost_kernel_mutation.py_functionalize_impl
def _mutation_functionalize(
    ctx: Any, *, kernel_idx: int, constant_args_idx: int, grid: NodeGrids, kwargs: dict[str, Any]
) -> None:
    unwrapped = ctx.unwrap_tensors(kwargs)
    written = written_tensors(kernel_idx, constant_args_idx, unwrapped)
    check_aliasing(side_table.wrapped(kernel_idx).decorated.name, unwrapped, written)
    with ctx.redispatch_to_next():
        outputs = tritonhost_kernel_functional(
            kernel_idx=kernel_idx,
            constant_args_idx=constant_args_idx,
            grid=grid,
            kwargs=unwrapped,
            tensors_to_clone=written,
            same_tensor=same_tensor_groups(kwargs, written),
        )
    for name, value in outputs.items():
        original = kwargs[name]
        ctx.replace(original, value)
        ctx.mark_mutation_hidden_from_autograd(original)
        ctx.commit_update(original)
        ctx.sync(original)


# --- functional -------------------------------------------------------------------------------


@tritonhost_kernel_functional.py_impl(DispatchKey.CompositeExplicitAutograd)
def _functional_dense(
    *,
    kernel_idx: int,
    constant_args_idx: int,
    grid: NodeGrids,
    kwargs: dict[str, Any],
    tensors_to_clone: list[str],
    same_tensor: list[list[str]],
) -> dict[str, Any]:
    launched = plan_clones(kwargs, tensors_to_clone, same_tensor, clone_with_strides)
    launch_eagerly(kernel_idx, constant_args_idx, grid, launched)
    return {name: launched[name] for name in tensors_to_clone}


def _outputs_without_launch(
    kwargs: dict[str, Any], tensors_to_clone: list[str], same_tensor: list[list[str]]
) -> dict[str, Any]:
    # Fake and meta tensors hold no data: the outputs are the clones, shaped and shared as eager's.
    launched = plan_clones(kwargs, tensors_to_clone, same_tensor, clone_with_strides)
    return {name: launched[name] for name in tensors_to_clone}


@tritonhost_kernel_functional.py_impl(FakeTensorMode)
def _functional_fake(
    mode: FakeTensorMode,
    *,
    kernel_idx: int,
    constant_args_idx: int,
    grid: NodeGrids,
    kwargs: dict[str, Any],
    tensors_to_clone: list[str],
    same_tensor: list[list[str]],
) -> dict[str, Any]:
    # A py_impl rather than register_fake: PyTorch 2.11's fake-tensor path for
    # registered fakes expects a tuple, and this operator returns a dict.
    with mode:
        return _outputs_without_launch(kwargs, tensors_to_clone, same_tensor)


@tritonhost_kernel_functional.py_impl(DispatchKey.Meta)
def _functional_meta(
    *,
    kernel_idx: int,
    constant_args_idx: int,
    grid: NodeGrids,
    kwargs: dict[str, Any],
    tensors_to_clone: list[str],
    same_tensor: list[list[str]],
) -> dict[str, Any]:
    return _outputs_without_launch(kwargs, tensors_to_clone, same_tensor)


@tritonhost_kernel_functional.py_impl(ProxyTorchDispatchMode)
def _functional_proxy(
    mode: ProxyTorchDispatchMode,
    *,
    kernel_idx: int,
    constant_args_idx: int,
    grid: NodeGrids,
    kwargs: dict[str, Any],
    tensors_to_clone: list[str],
    same_tensor: list[list[str]],
) -> dict[str, Any]:
    return _trace(  # type: ignore[no-any-return]
        mode,
        tritonhost_kernel_functional,
        {
            "kernel_idx": kernel_idx,
            "constant_args_idx": constant_args_idx,
            "grid": grid,
            "kwargs": kwargs,
            "tensors_to_clone": tensors_to_clone,
            "same_tensor": same_tensor,
        },
    )


@tritonhost_kernel_functional.py_functionalize_impl
def _functional_functionalize(
    ctx: Any,
    *,
    kernel_idx: int,
    constant_args_idx: int,
    grid: NodeGrids,
    kwargs: dict[str, Any],
    tensors_to_clone: list[str],
    same_tensor: list[list[str]],
) -> dict[str, Any]:
    unwrapped = ctx.unwrap_tensors(kwargs)
    with ctx.redispatch_to_next():
        outputs = tritonhost_kernel_functional(
            kernel_idx=kernel_idx,
            constant_args_idx=constant_args_idx,
            grid=grid,
            kwargs=unwrapped,
            tensors_to_clone=tensors_to_clone,
            same_tensor=same_tensor,
        )
        return ctx.wrap_tensors(outputs)  # type: ignore[no-any-return]


# Keys these operators need no behaviour for: let dispatch pass through them.
for _operator in (tritonhost_kernel_mutation, tritonhost_kernel_functional):
    for _key in (
        DispatchKey.PythonDispatcher,
        DispatchKey.PythonTLSSnapshot,
        DispatchKey.ADInplaceOrView,
        DispatchKey.BackendSelect,
        DispatchKey.AutocastCPU,
        DispatchKey.AutocastCUDA,
        DispatchKey.AutogradCPU,
        DispatchKey.AutogradCUDA,
    ):
        _operator.fallthrough(_key)
