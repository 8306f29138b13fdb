"""How a launch reaches Dynamo: one opaque, graphable call.

Dynamo does not know tritonhost's callables. Rather than teach it (PyTorch does
that with a variable tracker of its own for ``wrap_triton``), a launch inside
``torch.compile`` calls :func:`launch_compiled`, which makes one call marked ``nonstrict_trace``:
Dynamo records it as a single call whose inputs are graph values only (tensors,
numbers, SymInts and the grid's sizes, flat); the kernel, constexprs, None, launch
options and where each value goes are registered at trace time
(``assume_constant_result``) as a :class:`CallSite` and passed by id. Static numbers go
through as values: under Dynamo ``isinstance(size, int)`` is true of a symbolic int
too, so traced code cannot set them apart, and Dynamo bakes the static ones in. AOTAutograd then traces into it,
where the launch becomes a ``tritonhost_kernel_mutation`` node and is
functionalized like any other. ``tritonhost.wrap(kernel)`` written inside the
compiled region is resolved at trace time by :func:`wrapped_in_compiled_region`.
See docs/tracing.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import torch
import torch._dynamo
from torch._dynamo.comptime import comptime
from torch._dynamo.exc import TorchDynamoException, Unsupported
from torch._dynamo.symbolic_convert import InstructionTranslator
from torch._dynamo.variables import functions as dynamo_functions
from torch._dynamo.variables.base import VariableTracker
from torch._dynamo.variables.tensor import TensorVariable

from tritonhost.errors import KernelArgumentError, UnsupportedFeatureError
from tritonhost.host.selection import select
from tritonhost.kernel.grid import grids_per_config
from tritonhost.tracing import side_table as side_table_module
from tritonhost.tracing.capture import (
    GRAPH_VALUE_TYPES,
    TracedTMADescriptor,
    refuse_tensor_tuples,
    trace_launch,
)
from tritonhost.tracing.side_table import TracedKernel, side_table, wrapped_attribute


@attrs.frozen
class CallSite:
    """What one traced launch passes outside the graph, registered at trace time."""

    #: The kernel's side-table id.
    kernel_index: int
    #: Parameters that are no graph values (constexprs, static numbers, None, dtypes...).
    params: Mapping[str, Any]
    #: TMA descriptor parameters, ``name -> (api, block_shape)``: the graph carries the tensor.
    tma: Mapping[str, tuple[str, tuple[int, ...]]]
    #: The parameter each of the first ``len(names)`` graph values is.
    names: tuple[str, ...]
    #: Where the grid's sizes are among the graph values: a tuple of indices (None for a 1
    #: that pads it), or a list of them (one grid per autotune config).
    grid: Any


_call_sites: list[CallSite] = []
_call_sites_lock = threading.Lock()


def _launch_in_compiled_region(call_site: int, *values: Any) -> int:
    site = _call_sites[call_site]
    args = {**dict(zip(site.names, values)), **site.params}
    for name, (api, block_shape) in site.tma.items():
        args[name] = TracedTMADescriptor(args[name], api, block_shape)
    trace_launch(side_table.wrapped(site.kernel_index), _fill_grid(site.grid, values), (), args)
    return 0  # nonstrict_trace needs a graphable result; the launch's effect is the mutation


def _fill_grid(template: Any, values: tuple[Any, ...]) -> Any:
    if isinstance(template, list):
        return [_fill_grid(grid, values) for grid in template]
    return tuple(1 if index is None else values[index] for index in template)


def _unsupported(*args: Any) -> int:
    raise UnsupportedFeatureError(
        f"launching tritonhost kernels inside torch.compile needs torch._dynamo.nonstrict_trace, which "
        f"PyTorch {torch.__version__} lacks; upgrade PyTorch, or launch outside the compiled region"
    )


_nonstrict_trace = getattr(torch._dynamo, "nonstrict_trace", None)
_compiled_launch = _nonstrict_trace(_launch_in_compiled_region) if _nonstrict_trace else _unsupported


@torch.compiler.assume_constant_result
def _graph_positions(kernel_index: int, positional: int, keywords: tuple[str, ...]) -> tuple[bool, ...]:
    """For each value of a launch (``positional`` ones, then ``keywords``), whether it is a kernel
    parameter that is no constexpr, so that the graph may carry it.

    Run for real at trace time, so that Dynamo reads none of the kernel's attributes, and
    guards none: the kernel is guarded by its side-table id where the launch finds it.
    """
    decorated = side_table.wrapped(kernel_index).decorated
    if positional > len(decorated.arg_names):
        # As the launch outside a compiled region says it.
        raise KernelArgumentError(
            f"kernel {decorated.name}() takes {len(decorated.arg_names)} arguments but {positional} were given"
        )
    names = (*decorated.arg_names[:positional], *keywords)
    known = set(decorated.arg_names)
    return tuple(name in known and name not in decorated.constexprs for name in names)


@torch.compiler.assume_constant_result
def _register_call_site(
    kernel_index: int,
    positional: int,
    keywords: tuple[str, ...],
    items: tuple[tuple[int, Any], ...],
    descriptors: tuple[tuple[int, str, tuple[int, ...]], ...],
    positions: tuple[int, ...],
    grid: Any,
) -> int:
    # Run for real at trace time: the values are Python constants of this call site. The
    # backend is selected here too, so a bad TRITONHOST_BACKEND fails with its own message.
    # Values are named here, by position (``positional`` ones, then ``keywords``), for the
    # reason _graph_positions gives.
    select()
    decorated = side_table.wrapped(kernel_index).decorated
    names = (*decorated.arg_names[:positional], *keywords)
    tma = {names[position]: (api, block_shape) for position, api, block_shape in descriptors}
    params = {names[position]: value for position, value in items}
    site = CallSite(kernel_index, params, tma, tuple(names[position] for position in positions), grid)
    with _call_sites_lock:
        _call_sites.append(site)
        return len(_call_sites) - 1


def launch_compiled(
    wrapped: TracedKernel, grid: Any, args: tuple[Any, ...], kwargs: dict[str, Any], dims: int = 3
) -> None:
    """A launch inside a torch.compile region (traced by Dynamo): split, then one opaque call.

    Dynamo traces this function's Python, and flattens the opaque call's inputs with
    PyTorch's pytree, in Python too (twice, on PyTorch 2.13), for every launch: each
    container costs hundreds of bytecode steps. So the call takes one flat sequence of
    graph values (tensors, numbers, the grid's sizes), and everything else goes into one
    registered :class:`CallSite`. A grid's padding (``dims`` of its 3 sizes were given) stays
    out of the call. Values are handled by position; what the kernel's signature says of
    them comes from trace-time functions, so that Dynamo guards none of the kernel's
    attributes (each would be checked on every call of the compiled function).
    """
    index = wrapped.table_index
    keywords = tuple(kwargs)
    graphable = _graph_positions(index, len(args), keywords)
    positions: list[int] = []
    values: list[Any] = []
    constants = []
    descriptors = []
    for position, value in enumerate((*args, *kwargs.values())):
        if isinstance(value, TracedTMADescriptor):  # the tensor goes through the graph
            positions.append(position)
            values.append(value.tensor)
            descriptors.append((position, value.api, value.block_shape))
        elif graphable[position] and isinstance(value, GRAPH_VALUE_TYPES):
            positions.append(position)
            values.append(value)
        else:
            if isinstance(value, tuple):
                # Only here: traced for every launch, the check would cost steps and guards.
                name = (*wrapped.decorated.arg_names[: len(args)], *keywords)[position]
                refuse_tensor_tuples(wrapped.decorated.name, {name: value})
            constants.append((position, value))
    if callable(grid):
        grid, dims = grids_per_config(wrapped.decorated, grid, args, kwargs), 3
    template = _grid_template(grid, values, dims)
    # "+ 0" makes a plain int of the trace-time result: Dynamo cannot guard on the
    # source it keeps for assume_constant_result values, and the call's inputs are guarded.
    call_site = _register_call_site(
        index, len(args), keywords, tuple(constants), tuple(descriptors), tuple(positions), template
    ) + 0
    _compiled_launch(call_site, *values)


def _grid_template(grid: Any, values: list[Any], dims: int) -> Any:
    """Where ``grid``'s first ``dims`` sizes will be among ``values``, to which they are appended;
    None for the 1s that pad it to three."""
    if isinstance(grid, list):  # one grid per autotune config
        return [_grid_template(config_grid, values, dims) for config_grid in grid]
    start = len(values)
    values.extend(grid[:dims])
    return (*range(start, start + dims), *([None] * (3 - dims)))


# --- wrap(kernel) traced by Dynamo -------------------------------------------------------
#
# The route, and why (docs/tracing.md, "wrap() inside a compiled region"). Dynamo hands a
# traced function its arguments as variable trackers, not as Python objects. Where Triton
# is usable it turns a @triton.jit or @triton.autotune kernel into its own
# TritonKernelVariable, which no public hook converts back into the kernel:
# assume_constant_result, nonstrict_trace and substitute_in_graph's constant folding all
# want a Python constant, and that variable is none; nor, on PyTorch 2.11, is the plain
# user-object variable that a @triton.heuristics kernel gets (or any kernel, where Triton
# is not usable). So the kernel is found at trace time with torch._dynamo.comptime, the
# hook PyTorch gives for running code while Dynamo traces: it reads Dynamo's variable for
# the `kernel` argument of wrapped_in_compiled_region and takes the Python object behind
# it, guarded by identity where the kernel came from (a global, a closure cell, a module
# attribute, an input of the compiled function): a TritonKernelVariable's kernel (its
# builder installs the identity guard), any other variable through
# guard_as_python_constant (which installs it). The name of the side-table attribute that
# holds the WrappedKernel goes back to the traced code through an assume_constant_result
# function, and the WrappedKernel is read as that module attribute, as a hoisted wrap is.
#
# Private Dynamo API, all in _kernel_argument, checked against the sources of PyTorch
# 2.11.0 and 2.13.0: ComptimeVar._i_will_not_complain_if_bc_breaks_VariableTracker,
# VariableTracker.realize/.source/.guard_as_python_constant and TritonKernelVariable.kernel.
# Where any of it fails, the wrap is a graph break whose message says to hoist the wrap()
# out of the compiled function (with fullgraph=True, an error with that message).

_HOIST = (
    "hoist the wrap() call out of the compiled function (kernel = tritonhost.wrap(triton_kernel) "
    "at import or before torch.compile, then kernel[grid](...) inside)"
)

# The attribute name found at trace time, for the assume_constant_result call right after.
_resolved = threading.local()
_NOT_READ = object()


def wrapped_in_compiled_region(kernel: Any) -> TracedKernel:
    """``tritonhost.wrap(kernel)`` as Dynamo traces it (see the comment above)."""
    comptime(_resolve_kernel_argument)  # reads the local `kernel` at trace time
    attribute = _take_resolved_attribute() if torch.compiler.is_dynamo_compiling() else None
    if attribute is None:
        # _resolve_kernel_argument broke the graph: this runs in the code after the break,
        # for real or in a frame Dynamo traces anew. The wrap then happens outside Dynamo.
        return _wrap_outside_dynamo(kernel)
    return getattr(side_table_module, attribute)  # type: ignore[no-any-return]


def _resolve_kernel_argument(ctx: Any) -> None:
    # Run by Dynamo at trace time, in the frame of wrapped_in_compiled_region.
    _resolved.attribute = None
    kernel = _kernel_argument(ctx)
    if kernel is not _NOT_READ:
        # Wrapped for real here, which Dynamo could not trace (a lock, inspect.signature).
        _resolved.attribute = wrapped_attribute(side_table.wrapped_for(kernel).table_index)  # NotAKernelError


@torch.compiler.assume_constant_result
def _take_resolved_attribute() -> str | None:
    # Run by Dynamo at trace time, right after _resolve_kernel_argument (None: none was found).
    attribute: str | None = getattr(_resolved, "attribute", None)
    _resolved.attribute = None
    return attribute


def _wrap_for_real(kernel: Any) -> TracedKernel:
    return side_table.wrapped_for(kernel)


# A call Dynamo does not trace: a graph break, then plain Python.
_wrap_outside_dynamo = torch.compiler.disable(_wrap_for_real)


def _kernel_argument(ctx: Any) -> Any:
    """The Python object behind Dynamo's variable for the local ``kernel``, guarded by identity.

    Breaks the graph where it cannot (ctx.graph_break raises; _NOT_READ is never returned then).
    """
    try:
        variable = ctx.get_local("kernel")._i_will_not_complain_if_bc_breaks_VariableTracker().realize()
        if type(variable).__name__ == "TritonKernelVariable":
            return variable.kernel
        if variable.source is not None:
            return variable.guard_as_python_constant()
        problem = f"its kernel was made inside the compiled region ({variable})"
    except Unsupported as error:  # Dynamo refused to model the kernel (an autotune pre_hook...)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        explained = [line.removeprefix("Explanation:").strip() for line in lines if line.startswith("Explanation:")]
        problem = f"Dynamo refused its kernel ({(explained or lines or [type(error).__name__])[0]})"
    except TorchDynamoException:  # Dynamo's own control flow (restarts...): not ours to change
        raise
    except Exception as error:  # noqa: BLE001 - Dynamo internals unlike those of PyTorch 2.11 to 2.13
        problem = f"it cannot read its kernel from Dynamo on PyTorch {torch.__version__} ({error!r})"
    ctx.graph_break(f"tritonhost.wrap() inside a compiled region: {problem}; {_HOIST}")
    return _NOT_READ


# --- kernel[grid] of a kernel Dynamo models, while tritonhost is installed ----------------
#
# Where Triton is usable, Dynamo never calls a kernel's __getitem__: `kernel[grid]` of a
# @triton.jit or @triton.autotune kernel (also `wrap_triton(kernel)[grid]`, which Dynamo
# reads as the kernel itself) goes to its DynamoTritonHOPifier's call_getitem, and the
# launch becomes PyTorch's triton_kernel_wrapper_mutation. So that install() routes these
# launches too, for aot_eager, Inductor and the other backends named below, the singleton's
# call_getitem is replaced, on the instance, by one that traces install's own `kernel[grid]`
# with the kernel's variable as its argument: wrap() then finds the kernel as it does for a
# wrap() written inside a compiled region (above). Removing the instance attribute restores
# PyTorch's method. Only the backends of ROUTED_BACKENDS are routed at the getitem. Inductor
# is among them: it lowers tritonhost's operator as an extern call (tracing/inductor.py), and
# its own path for user kernels has a silent wrong answer on real libraries (an out-of-bounds
# as_strided read, pytorch/pytorch#192219, seen on Liger-Kernel's fused_linear_cross_entropy).
# Not Inductor with a C++ wrapper, which cannot call a Python operator, nor any backend
# tritonhost does not know (it may need PyTorch's operator): a launch on GPU tensors keeps
# PyTorch's operator there. A launch with a tensor on the CPU is routed when it is called
# (call_triton_kernel, where the arguments are known): PyTorch's path would have Inductor
# compile the kernel for the CPU, which Triton cannot do ("0 compatible backends for target
# (cpu)"), while tritonhost's operator runs on the selected backend (the interpreter).
# Private Dynamo API, checked against PyTorch 2.11.0 and 2.13.0:
# torch._dynamo.variables.functions.dynamo_triton_hopifier_singleton.call_getitem(variable,
# args) and .call_triton_kernel(variable, args, kwargs, tx), TritonKernelVariable.grid,
# TensorVariable.device, InstructionTranslator.current_tx, VariableTracker.build,
# OutputGraph.compiler_fn.


def route_modelled_launches(getitem: Callable[[Any, Any], Any] | None) -> bool:
    """Have Dynamo trace ``getitem(kernel, grid)`` for ``kernel[grid]`` of a kernel it models,
    or, given None, its own way again. False where this PyTorch lacks the parts used."""
    try:
        hopifier = dynamo_functions.dynamo_triton_hopifier_singleton
        original = type(hopifier).call_getitem
        original_call = type(hopifier).call_triton_kernel
    except AttributeError:  # pragma: no cover - a PyTorch unlike 2.11 to 2.13
        return False
    if getitem is None:
        hopifier.__dict__.pop("call_getitem", None)
        hopifier.__dict__.pop("call_triton_kernel", None)
        return True

    def routed(tx: Any, variable: Any, grid: Any) -> Any:
        return VariableTracker.build(tx, getitem).call_function(tx, [variable, grid], {})

    def call_getitem(variable: Any, args: Any) -> Any:
        if getattr(variable, "grid", None) is not None or len(args) != 1:
            return original(hopifier, variable, args)  # PyTorch's own error for these
        tx = InstructionTranslator.current_tx()
        if not _runs_tritonhost_operators(getattr(tx.output, "compiler_fn", None)):
            # Inductor, or a backend that may hand the graph to it: PyTorch's operator,
            # unless the call's tensors turn out to be on the CPU (call_triton_kernel).
            launch = original(hopifier, variable, args)
            setattr(launch, _UNROUTED, (variable, args[0]))
            return launch
        return routed(tx, variable, args[0])

    def call_triton_kernel(variable: Any, args: Any, kwargs: Any, tx: Any) -> Any:
        unrouted = getattr(variable, _UNROUTED, None)
        if unrouted is not None and tx is not None and _has_cpu_tensor([*args, *kwargs.values()]):
            return routed(tx, *unrouted).call_function(tx, list(args), dict(kwargs))
        return original_call(hopifier, variable, args, kwargs, tx)

    hopifier.call_getitem = call_getitem  # type: ignore[method-assign]
    hopifier.call_triton_kernel = call_triton_kernel  # type: ignore[method-assign]
    return True


#: The attribute on a launch variable that kept PyTorch's path: its kernel's variable and grid.
_UNROUTED = "_tritonhost_unrouted"


def _has_cpu_tensor(arguments: list[Any]) -> bool:
    """Whether a launch argument (a Dynamo variable) is a tensor on the CPU."""
    for argument in arguments:
        device = getattr(argument, "device", None) if isinstance(argument, TensorVariable) else None
        if isinstance(device, torch.device) and device.type == "cpu":
            return True
    return False


#: Dynamo backends that run tritonhost's operators: those that never hand the graph to Inductor, and
#: Inductor itself, which lowers them as extern calls (unless its wrapper is C++: see below).
ROUTED_BACKENDS = frozenset({"eager", "aot_eager", "aot_eager_decomp_partition", "tritonhost", "inductor"})


def _runs_tritonhost_operators(backend: Any) -> bool:
    """Whether Dynamo's backend is one of :data:`ROUTED_BACKENDS` (Inductor: with a Python wrapper).

    Any other one (``compile_fx`` called by a backend function, a backend of one's own) may
    need PyTorch's operators: launches on GPU tensors keep PyTorch's path there (those on the
    CPU are routed when called; see :func:`route_modelled_launches`).
    """
    # Dynamo wraps the backend: WrapBackendDebug (its __wrapped__) around torch.compile's
    # _TorchCompileWrapper, which names it (compiler_name); DDP puts its DDPOptimizer's
    # bound compile_fn in front (__self__.backend_compile_fn). PyTorch 2.11 and 2.13.
    for _ in range(8):  # a short chain of wrappers, never a cycle in practice
        if backend is None:
            return False
        name = getattr(backend, "compiler_name", None)
        if isinstance(name, str):
            if name == "inductor":
                return not _inductor_wrapper_is_cpp(getattr(backend, "config", None))
            return name in ROUTED_BACKENDS
        inner = getattr(backend, "__wrapped__", None)
        if inner is None:
            inner = getattr(getattr(backend, "__self__", None), "backend_compile_fn", None)
        backend = inner
    return False


def _inductor_wrapper_is_cpp(options: Any) -> bool:
    """Whether Inductor, given torch.compile's ``options`` (its wrapper's ``config``), writes a C++
    wrapper, which cannot call tritonhost's Python operator."""
    if isinstance(options, Mapping) and "cpp_wrapper" in options:
        return bool(options["cpp_wrapper"])
    from torch._inductor import config as inductor_config

    return bool(inductor_config.cpp_wrapper)
