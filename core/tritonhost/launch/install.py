"""``tritonhost.install()``: existing Triton code, unchanged, launched through tritonhost.

Code people already have launches kernels with Triton's syntax
(``kernel[grid](...)``), with PyTorch's ``torch.library.wrap_triton(kernel)[grid](...)``,
or inside ``@torch.library.triton_op`` functions (which use ``wrap_triton``). While
tritonhost is installed, every one of those launches goes through
``tritonhost.wrap(kernel)[grid](...)`` instead: on the selected backend (the CPU
interpreter on a machine without a GPU), with tritonhost's analysis and
operators when PyTorch traces the program (make_fx, torch.export, and
torch.compile where Dynamo traces the launch as Python).

Installing replaces two methods, and uninstalling puts them back:
``KernelInterface.__getitem__`` (the base of ``JITFunction``, ``Autotuner`` and
``Heuristics``), and the call of PyTorch's ``TraceableTritonKernelWrapper``.
tritonhost itself launches through ``JITFunction.run``, which stays Triton's.

Where Dynamo models Triton kernels itself (a machine with a GPU), a
``kernel[grid]`` launch inside ``torch.compile`` never reaches
``__getitem__``: Dynamo would record PyTorch's own ``triton_kernel_wrapper_mutation``
for it. Installing therefore also has Dynamo trace the same ``kernel[grid]`` as
installed Python does (``tracing.dynamo.route_modelled_launches``), so that the
graphs of backends that run tritonhost's operators (aot_eager, Inductor with its Python
wrapper...) hold them. That needs Dynamo imported, which takes a second or so: it is done where
Dynamo is imported already or a GPU is present (elsewhere Dynamo does not model
kernels). Graphs compiled before installing keep what they recorded.

On a torch without pytorch/pytorch#178622 (2.11 has the bug), installing also lets
every AOTAutograd backend (aot_eager, Inductor, ...) trace a backward that writes into
the forward's inputs, as kernel libraries' backwards do: it applies PyTorch's own fix,
no grad for AOTAutograd's replay of that write, around ``AotAutograd.__call__``
(``compat/aot_autograd.py``; ``backend="tritonhost"`` applies it installed or not).

On a torch without pytorch/pytorch#180921 (2.11 has the bug), installing also has Dynamo
filter, from the outputs of an ``autograd.Function`` forward it traces, the tensors that
alias what the forward returns (``compat/autograd_function.py``). Without it, a forward
that saves ``o`` and returns ``o.to(dtype)`` where that is a no-op, as most of
flash-linear-attention's do in fp32, gets zero gradients under ``torch.compile``, with every
backend. Only installing can apply it: Dynamo has traced the forward before any backend runs.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

import torch
from triton.runtime.jit import KernelInterface

from tritonhost.compat.aot_autograd import replay_backward_writes, torch_replays_without_grad
from tritonhost.compat.autograd_function import dynamo_filters_forward_aliases, filter_forward_aliases
from tritonhost.launch.wrap import LaunchCall, wrap

if TYPE_CHECKING:
    from torch._dynamo.backends.common import AotAutograd
    from torch._higher_order_ops.triton_kernel_wrap import TraceableTritonKernelWrapper

_lock = threading.Lock()
_installs = 0
_originals: dict[str, Any] = {}


def _kernel_getitem(kernel: Any, grid: Any) -> LaunchCall:
    """``kernel[grid]`` while installed: the launch tritonhost.wrap(kernel)[grid] makes."""
    return wrap(kernel)[grid]


def _pytorch_wrapper() -> type[TraceableTritonKernelWrapper]:
    """The class of ``torch.library.wrap_triton(kernel)``."""
    # Imported when installing: its module brings sympy and PyTorch's symbolic shapes, about
    # 0.7 s of `import tritonhost` on a 2-core CPU, for the programs that never install.
    from torch._higher_order_ops.triton_kernel_wrap import TraceableTritonKernelWrapper

    return TraceableTritonKernelWrapper


def _wrapper_call(wrapper: TraceableTritonKernelWrapper, *args: Any, **kwargs: Any) -> Any:
    """``wrap_triton(kernel)[grid](...)`` while installed."""
    if wrapper.grid is None:
        raise TypeError("a wrap_triton kernel is launched on a grid: wrap_triton(kernel)[grid](...)")
    grid: Any = wrapper.grid
    return wrap(wrapper.kernel)[grid](*args, **kwargs)


def _aot_autograd() -> type[AotAutograd] | None:
    """The class of Dynamo's AOTAutograd backends where this torch needs the backward-write fix, else None."""
    if torch_replays_without_grad():
        return None
    # Imported only on a torch without the fix (2.11, 2.12): importing Dynamo takes a second or so.
    from torch._dynamo.backends.common import AotAutograd

    return AotAutograd


def _aot_call_replaying_backward_writes(original: Any) -> Any:
    """``AotAutograd.__call__`` while installed: PyTorch's, tracing under :func:`replay_backward_writes`."""

    def call(self: AotAutograd, graph_module: torch.fx.GraphModule, example_inputs: Any, **kwargs: Any) -> Any:
        with replay_backward_writes():
            return original(self, graph_module, example_inputs, **kwargs)

    return call


class Installation:
    """What :func:`install` returns: ``uninstall()`` undoes it, and it is also a context manager.

    Installs nest: the methods go back to Triton's and PyTorch's when the last
    installation still in force is uninstalled.
    """

    def __init__(self) -> None:
        self.active = True

    def uninstall(self) -> None:
        """Give launches back to Triton and PyTorch (once every nested installation is undone)."""
        global _installs
        with _lock:
            if not self.active:
                return
            self.active = False
            _installs -= 1
            if _installs == 0:
                KernelInterface.__getitem__ = _originals.pop("getitem")  # type: ignore[method-assign]
                _pytorch_wrapper().__call__ = _originals.pop("call")  # type: ignore[method-assign]
                patched_aot = _originals.pop("aot", None)
                if patched_aot is not None:
                    aot_class, aot_call = patched_aot
                    aot_class.__call__ = aot_call
                undo_filter = _originals.pop("forward aliases", None)
                if undo_filter is not None:
                    undo_filter()
                if _originals.pop("dynamo", False):
                    from tritonhost.tracing.dynamo import route_modelled_launches

                    route_modelled_launches(None)

    def __enter__(self) -> Installation:  # noqa: PYI034 - Installation is not meant to be subclassed
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        return f"<tritonhost installation, {'in force' if self.active else 'undone'}>"


def install() -> Installation:
    """Route every Triton kernel launch in this process through tritonhost, until undone.

    ``kernel[grid](...)`` of a ``@triton.jit``, ``@triton.autotune`` or
    ``@triton.heuristics`` kernel, ``torch.library.wrap_triton(kernel)[grid](...)``
    and the launches inside ``@torch.library.triton_op`` functions then run on the
    backend ``TRITONHOST_BACKEND`` selects, eager or traced. Returns an
    :class:`Installation`; ``with tritonhost.install(): ...`` undoes it on exit.
    """
    global _installs
    with _lock:
        if _installs == 0:
            # What may fail (importing Dynamo) comes first: a failed install patches nothing.
            wrapper_class = _pytorch_wrapper()
            aot_class = _aot_autograd()
            dynamo_filters_forward_aliases()  # imports Dynamo on a torch before 2.13
            routed = False
            if _dynamo_may_model_kernels():
                from tritonhost.tracing.dynamo import route_modelled_launches

                routed = route_modelled_launches(_kernel_getitem)
            _originals["dynamo"] = routed
            _originals["forward aliases"] = filter_forward_aliases()
            _originals["getitem"] = KernelInterface.__getitem__
            _originals["call"] = wrapper_class.__call__
            KernelInterface.__getitem__ = _kernel_getitem  # type: ignore[assignment, method-assign]
            wrapper_class.__call__ = _wrapper_call  # type: ignore[assignment, method-assign]
            if aot_class is not None:
                _originals["aot"] = (aot_class, aot_class.__call__)
                aot_class.__call__ = _aot_call_replaying_backward_writes(aot_class.__call__)  # type: ignore[method-assign]
        _installs += 1
    return Installation()


def _dynamo_may_model_kernels() -> bool:
    """Whether Dynamo is imported already, or a GPU is here (then Dynamo models kernels when
    it traces): where neither holds, installing need not import Dynamo."""
    if "torch._dynamo" in sys.modules:
        return True
    # Not Triton's driver: asking it for its target initializes CUDA, after which a forked
    # child cannot use CUDA. torch.cuda.is_available() (CUDA and ROCm) leaves CUDA as it is.
    xpu = getattr(torch, "xpu", None)
    return torch.cuda.is_available() or bool(xpu is not None and xpu.is_available())


def installed() -> bool:
    """Whether launches go through tritonhost now."""
    return _installs > 0
