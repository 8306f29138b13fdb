"""The torch.compile backend ``tritonhost``: AOTAutograd, then lowering, planning and wrapper generation.

``torch.compile(fn, backend="tritonhost")`` finds this through PyTorch's
``torch_dynamo_backends`` entry point. Dynamo captures the program;
AOTAutograd functionalizes it (kernel launches become
``tritonhost_kernel_functional`` nodes, see tracing/) and splits forward from
backward; each graph is then lowered to the IR, its memory planned, and
generated as a ``torch.fx.GraphModule`` that runs on the selected backend.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch
import torch.fx

from tritonhost.codegen.cuda_graphs import CudaGraphRunner, refusal
from tritonhost.codegen.device_guard import guarded_for
from tritonhost.codegen.memory import MemoryPlan, plan_memory
from tritonhost.codegen.wrapper import generate_wrapper
from tritonhost.compat.aot_autograd import replay_backward_writes
from tritonhost.compat.autograd_function import refuse_forward_aliases
from tritonhost.errors import CompileOptionError
from tritonhost.host.selection import Backend, select
from tritonhost.ir.lowering import lower
from tritonhost.ir.program import Program
from tritonhost.tracing.pytorch_kernels import adopt_pytorch_kernels

log = logging.getLogger("tritonhost.codegen")


@attrs.define
class CompiledWrapper:
    """One generated wrapper, with the IR it came from and its memory plan."""

    module: torch.fx.GraphModule
    program: Program
    plan: MemoryPlan
    #: What runs the wrapper as CUDA graphs, where they were asked for and can be used.
    cuda_graphs: CudaGraphRunner | None = None

    @property
    def code(self) -> str:
        return self.module.code


#: The lists of :func:`capture_wrappers` blocks open now, innermost last. Process-wide, not
#: per thread: AOTAutograd compiles a backward when it first runs, on the autograd
#: engine's thread for the device, not on the thread that opened the block.
_captures: list[list[CompiledWrapper]] = []
_captures_lock = threading.Lock()


@contextlib.contextmanager
def capture_wrappers() -> Iterator[list[CompiledWrapper]]:
    """Collect the wrappers that ``backend="tritonhost"`` generates in this block (forward, then backward)."""
    wrappers: list[CompiledWrapper] = []
    with _captures_lock:
        _captures.append(wrappers)
    try:
        yield wrappers
    finally:
        with _captures_lock:  # by identity: two lists holding the same wrappers are equal
            del _captures[next(i for i, open_list in enumerate(_captures) if open_list is wrappers)]


def compile_graph(
    graph_module: torch.fx.GraphModule, example_inputs: Sequence[Any] = (), *, backend: Backend | None = None
) -> torch.fx.GraphModule:
    """Compile one functionalized graph (as AOTAutograd gives it) into a wrapper ``GraphModule``."""
    return _compile(graph_module, backend or select()).module


def _compile(graph_module: torch.fx.GraphModule, backend: Backend) -> CompiledWrapper:
    adopt_pytorch_kernels(graph_module)  # a triton_op's launch, which AOTAutograd decomposed into PyTorch's form
    program = lower(graph_module)
    plan = plan_memory(program)
    module = generate_wrapper(program, backend)
    log.debug("tritonhost wrapper on %s:\n%s", backend.name, module.code)
    compiled = CompiledWrapper(module, program, plan)
    with _captures_lock:
        if _captures:
            _captures[-1].append(compiled)
    return compiled


def boxed(module: torch.fx.GraphModule, forward: Callable[..., Any] | None = None) -> Callable[[list[Any]], Any]:
    """The wrapper in AOTAutograd's boxed calling convention (one list of arguments).

    Calling ``forward`` (the module's own unless given) directly skips
    ``nn.Module.__call__``'s hook checks and AOTAutograd's own boxing wrapper: a few
    microseconds a call.
    """
    forward = forward or module.forward

    def run(args: list[Any]) -> Any:
        return forward(*args)

    run._boxed_call = True  # type: ignore[attr-defined]
    run.module = module  # type: ignore[attr-defined]
    return run


@attrs.frozen
class BackendOptions:
    """What ``torch.compile(..., backend="tritonhost", mode=..., options=...)`` asks of the backend."""

    #: Run each wrapper as recorded CUDA graphs (codegen/cuda_graphs.py).
    cuda_graphs: bool = False

    @classmethod
    def parse(cls, mode: str | None, options: Mapping[str, Any] | None) -> BackendOptions:
        """The options, or :class:`CompileOptionError` naming what is not understood and what is."""
        if mode not in MODES:
            raise CompileOptionError(
                f'torch.compile(backend="tritonhost") got mode={mode!r}; it understands '
                f"{', '.join(repr(m) for m in MODES if m)} (\"reduce-overhead\" runs the wrappers as CUDA graphs). "
                "max-autotune and the like are Inductor's: tritonhost tunes what @triton.autotune asks for."
            )
        given = dict(options or {})
        unknown = sorted(set(given) - set(OPTIONS))
        if unknown:
            raise CompileOptionError(
                f'torch.compile(backend="tritonhost") got unknown options {unknown}; it understands '
                + ", ".join(f"{name!r} ({what})" for name, what in OPTIONS.items())
            )
        cuda_graphs = given.get("cuda_graphs", mode == "reduce-overhead")
        if not isinstance(cuda_graphs, bool):
            raise CompileOptionError(f"option 'cuda_graphs' is True or False, got {cuda_graphs!r}")
        return cls(cuda_graphs=cuda_graphs)


#: The modes torch.compile may pass (None and "default" mean no mode).
MODES = (None, "default", "reduce-overhead")
#: The options the backend understands, and what each does.
OPTIONS = {"cuda_graphs": "True runs each compiled wrapper as recorded CUDA graphs, like mode=\"reduce-overhead\""}


def _runnable(compiled: CompiledWrapper, graph: torch.fx.GraphModule, backend: Backend, cuda_graphs: bool) -> Callable[[list[Any]], Any]:
    """The wrapper as AOTAutograd calls it: directly, or through recorded CUDA graphs.

    Directly, it is entered on its tensors' device where the machine has several
    (codegen/device_guard.py); a CUDA graph runner captures and replays on that device itself.
    """
    plain = guarded_for(boxed(compiled.module), compiled.program, backend.device)
    if not cuda_graphs:
        return plain
    if backend.device != "cuda":
        log.warning("cuda_graphs was asked for, but backend %r launches on %s: running without CUDA graphs",
                    backend.name, backend.device)
        return plain
    reason = refusal(compiled.program, graph)
    if reason is not None:
        log.warning("a compiled graph runs without CUDA graphs: %s", reason)
        return plain
    compiled.cuda_graphs = CudaGraphRunner(compiled.module.forward, compiled.program)
    return boxed(compiled.module, compiled.cuda_graphs)


def tritonhost_backend(
    graph_module: torch.fx.GraphModule,
    example_inputs: Sequence[Any],
    *,
    mode: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Callable[..., Any]:
    """The ``torch.compile`` backend: ``torch.compile(fn, backend="tritonhost")``.

    ``mode="reduce-overhead"`` or ``options={"cuda_graphs": True}`` runs the wrappers as
    CUDA graphs (codegen/cuda_graphs.py); torch.compile passes both through.
    """
    # Imported here: importing Dynamo's AOT machinery takes time only compiling needs.
    from torch._dynamo.backends.common import aot_autograd

    asked = BackendOptions.parse(mode, options)
    backend = select()  # fail now, with the selection's own message, if no backend can run
    # torch 2.11's Dynamo may have traced an autograd.Function forward whose backward gets
    # zeros (compat/autograd_function.py): too late to fix here, so refused rather than compiled.
    refuse_forward_aliases(graph_module)
    # Launches Dynamo modelled itself (kernel[grid] where Triton can compile, wrap_triton,
    # triton_op) become tritonhost's operators before AOTAutograd functionalizes them.
    adopt_pytorch_kernels(graph_module)

    def compiler(graph: torch.fx.GraphModule, inputs: Sequence[Any]) -> Callable[..., Any]:
        return _runnable(_compile(graph, backend), graph, backend, asked.cuda_graphs)

    aot = aot_autograd(fw_compiler=compiler, bw_compiler=compiler, keep_inference_input_mutations=True)
    # A kernel library's backward may write into the forward's inputs (Liger's SwiGLU
    # does); AOTAutograd traces that replay, which older torch releases reject.
    with replay_backward_writes():
        return aot(graph_module, list(example_inputs))  # type: ignore[no-any-return]
