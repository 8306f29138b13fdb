"""AOTAutograd's replay of backward writes to forward inputs, made to trace on every torch.

Kernel libraries write gradients into the tensors they saved in the forward, and
those are often the forward's inputs: Liger-Kernel's SwiGLU and GeGLU backward
kernels store ``da`` and ``db`` over the saved ``a`` and ``b``. AOTAutograd keeps
such a write by replaying it on the forward input (``before.copy_(after)``) while
it traces the joint graph, and checks at run time that the backward does not run
under ``create_graph=True``. Until pytorch/pytorch#178622 that replay ran with
grad mode on, so on a forward input that requires grad (a leaf: a parameter, or an
input the caller made with ``requires_grad=True``) tracing failed with "a leaf
Variable that requires grad is being used in an in-place operation", for every
backend (torch 2.11 has the bug, 2.13 the fix; 2.12 was not checked). :func:`replay_backward_writes`
applies the same fix, no grad for that replay, while tritonhost's own backend
traces, on a torch without it, and while installed (``tritonhost.install()``), for
every AOTAutograd backend.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.torch_version import TorchVersion

# The fixed replay, as PyTorch writes it: the copy inside `with torch.no_grad():`.
_FIXED = re.compile(r"with torch\.no_grad\(\):\s*\n\s*before\.copy_\(after\)")


@functools.cache
def torch_replays_without_grad() -> bool:
    """Whether the installed torch already replays backward writes to forward inputs without grad."""
    if TorchVersion(torch.__version__) >= "2.13":  # has the fix: no need to import AOTAutograd
        return True
    from torch._functorch._aot_autograd import graph_capture_wrappers

    try:
        source = inspect.getsource(graph_capture_wrappers)
    except OSError:  # no source shipped: assume the bug, whose fix below is harmless where it is fixed
        return False
    return _FIXED.search(source) is not None


class _CopyIntoLeafWithoutGrad(TorchFunctionMode):
    """Runs ``Tensor.copy_`` into a leaf that requires grad with grad mode off.

    While AOTAutograd traces, that copy can only be its own replay of a backward
    write: a user's copy into such a leaf under grad mode fails in eager, so Dynamo
    has refused it before AOTAutograd runs.
    """

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.copy_ and torch.is_grad_enabled():
            target = args[0]
            if isinstance(target, torch.Tensor) and target.is_leaf and target.requires_grad:
                with torch.no_grad():
                    return func(*args, **kwargs)
        return func(*args, **kwargs)


@contextlib.contextmanager
def replay_backward_writes() -> Iterator[None]:
    """While AOTAutograd traces in this block, let it replay backward writes to forward inputs that require grad."""
    if torch_replays_without_grad():
        yield
        return
    with _CopyIntoLeafWithoutGrad():
        yield
