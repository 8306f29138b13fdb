"""Triton's whole compiler for an explicit target, with no driver and no GPU.

``triton.compile`` needs only a ``GPUTarget``: the backends bundled with Triton
carry their own toolchains (ptxas for NVIDIA, LLVM's AMDGPU backend and linker
for AMD). What a launch adds before compiling (binding the arguments, typing
them, and the value specialization: 16-byte alignment, divisibility by 16,
equal-to-1) lives in private parts of ``JITFunction`` that take a backend
object but no driver. They are called here, once, so that a code object
compiled here is the one a launch with the same arguments would compile, and
the next Triton release that moves them breaks one module.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import triton
from triton import knobs
from triton.backends.compiler import GPUTarget
from triton.compiler import make_backend
from triton.compiler.compiler import ASTSource
from triton.runtime.jit import JITFunction, create_function_from_signature

from tritonhost.compat.frontend import as_jit_function

_lock = threading.Lock()
_backends: dict[tuple[str, object, int], Any] = {}
_binders: dict[tuple[int, str, object, int], tuple[JITFunction, Any]] = {}


def triton_backend(target: GPUTarget) -> Any:
    """Triton's compiler backend for ``target`` (``make_backend``), made once per target."""
    key = (target.backend, target.arch, target.warp_size)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = make_backend(target)
        return backend


def target_warp_size(kind: str, arch: str | int) -> int:
    """The warp (wave) size Triton's backend compiles with for ``kind:arch`` (64 on AMD's CDNA, 32 on RDNA)."""
    backend = triton_backend(GPUTarget(kind, arch, 32))
    return int(getattr(backend.parse_options({}), "warp_size", 32))


def _binder(jit: JITFunction, target: GPUTarget, backend: Any) -> Any:
    key = (id(jit), target.backend, target.arch, target.warp_size)
    with _lock:
        found = _binders.get(key)
        if found is None or found[0] is not jit:
            found = _binders[key] = (jit, create_function_from_signature(jit.signature, jit.params, backend))
        return found[1]


def compile_kernel(kernel: Any, params: Mapping[str, Any], options: Mapping[str, Any], target: GPUTarget) -> Any:
    """Compile ``kernel`` for ``target`` as a launch with ``params`` and ``options`` would.

    ``params`` binds every kernel parameter by name (constexprs included); tensors
    may be meta or fake tensors, as only their dtype and (zero) address are read,
    which specializes pointers as 16-byte aligned, as PyTorch's allocations are.
    ``options`` holds only options the target's backend takes. Returns Triton's
    ``CompiledKernel``, whose ``asm`` holds every stage and the binary; nothing is
    loaded onto a device.
    """
    jit = as_jit_function(kernel)
    backend = triton_backend(target)
    run_options = {**options, "debug": options.get("debug", jit.debug) or knobs.runtime.debug}
    binder = _binder(jit, target, backend)
    bound_args, specialization, _ = binder(**params, **run_options)
    parsed, signature, constexprs, attrs = jit._pack_args(backend, run_options, bound_args, specialization, None)
    source = ASTSource(jit, signature, constexprs, attrs)
    return triton.compile(source, target=target, options=parsed.__dict__)


def stage_names(compiled: Any, binary_kind: str) -> list[str]:
    """The stages of ``compiled`` in pipeline order, without the source and the binary."""
    return [name for name in compiled.asm if name not in ("source", binary_kind)]
