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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import torch
import torch.fx

from tritonhost.codegen.memory import MemoryPlan, plan_memory
from tritonhost.codegen.wrapper import generate_wrapper
from tritonhost.compat.aot_autograd import replay_backward_writes
from tritonhost.host.selection import Backend, select
from tritonhost.ir.lowering import lower
from tritonhost.ir.program import Program
from tritonhost.tracing.pytorch_kernels import adopt_pytorch_kernels

log = logging.getLogger("tritonhost.codegen")


@attrs.frozen
class CompiledWrapper:
    """One generated wrapper, with the IR it came from and its memory plan."""

    module: torch.fx.GraphModule
    program: Program
    plan: MemoryPlan

    @property
    def code(self) -> str:
        return self.module.code


_capture = threading.local()


@contextlib.contextmanager
def capture_wrappers() -> Iterator[list[CompiledWrapper]]:
    """Collect the wrappers that ``backend="tritonhost"`` generates in this block (forward, then backward)."""
    previous = getattr(_capture, "wrappers", None)
    wrappers: list[CompiledWrapper] = []
    _capture.wrappers = wrappers
    try:
        yield wrappers
    finally:
        _capture.wrappers = previous


def compile_graph(
    graph_module: torch.fx.GraphModule, example_inputs: Sequence[Any] = (), *, backend: Backend | None = None
) -> torch.fx.GraphModule:
    """Compile one functionalized graph (as AOTAutograd gives it) into a wrapper ``GraphModule``."""
    backend = backend or select()
    adopt_pytorch_kernels(graph_module)  # a triton_op's launch, which AOTAutograd decomposed into PyTorch's form
    program = lower(graph_module)
    plan = plan_memory(program)
    module = generate_wrapper(program, backend)
    log.debug("tritonhost wrapper on %s:\n%s", backend.name, module.code)
    wrappers = getattr(_capture, "wrappers", None)
    if wrappers is not None:
        wrappers.append(CompiledWrapper(module, program, plan))
    return module


def boxed(module: torch.fx.GraphModule) -> Callable[[list[Any]], Any]:
    """The wrapper in AOTAutograd's boxed calling convention (one list of arguments).

    Calling ``forward`` directly skips ``nn.Module.__call__``'s hook checks and
    AOTAutograd's own boxing wrapper: a few microseconds a call.
    """
    forward = module.forward

    def run(args: list[Any]) -> Any:
        return forward(*args)

    run._boxed_call = True  # type: ignore[attr-defined]
    run.module = module  # type: ignore[attr-defined]
    return run


def tritonhost_backend(graph_module: torch.fx.GraphModule, example_inputs: Sequence[Any]) -> Callable[..., Any]:
    """The ``torch.compile`` backend: ``torch.compile(fn, backend="tritonhost")``."""
    # Imported here: importing Dynamo's AOT machinery takes time only compiling needs.
    from torch._dynamo.backends.common import aot_autograd

    backend = select()  # fail now, with the selection's own message, if no backend can run
    # Launches Dynamo modelled itself (kernel[grid] where Triton can compile, wrap_triton,
    # triton_op) become tritonhost's operators before AOTAutograd functionalizes them.
    adopt_pytorch_kernels(graph_module)

    def compiler(graph: torch.fx.GraphModule, inputs: Sequence[Any]) -> Callable[..., Any]:
        return boxed(compile_graph(graph, inputs, backend=backend))

    aot = aot_autograd(fw_compiler=compiler, bw_compiler=compiler, keep_inference_input_mutations=True)
    # A kernel library's backward may write into the forward's inputs (Liger's SwiGLU
    # does); AOTAutograd traces that replay, which older torch releases reject.
    with replay_backward_writes():
        return aot(graph_module, list(example_inputs))  # type: ignore[no-any-return]
