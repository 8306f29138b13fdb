"""Triton's front end (Python AST to TTIR) as the installed release calls it.

Generating TTIR needs no GPU: only a target (``GPUTarget``) and the compiler
backend Triton bundles for it. ``ASTSource.make_ir``'s arity changed across 3.x
releases; the difference is decided here, once, at import.
"""

from __future__ import annotations

import atexit
import inspect
import threading
from typing import Any

import triton
from triton._C.libtriton import ir
from triton.backends.compiler import GPUTarget
from triton.compiler import make_backend
from triton.compiler.compiler import ASTSource
from triton.runtime.jit import JITFunction

from tritonhost.contract import Specialization
from tritonhost.kernel.identity import IdentityCache

_MAKE_IR_TAKES_TARGET = "target" in inspect.signature(ASTSource.make_ir).parameters
#: Held while Triton's front end generates TTIR, and by any backend while it patches
#: ``triton.language`` process-wide (Triton's interpreter does, for a launch): code
#: generation must never see those patches, or TTIR of a healthy kernel comes out broken.
#: Reentrant, so a backend holding it may call code that generates TTIR.
language_lock = threading.RLock()
_backends: dict[tuple[str, object, int], Any] = {}


_prepared_by_backend: dict[tuple[str, object, int], tuple[Any, Any, Any, Any]] = {}


def _prepared(target: GPUTarget, backend: Any) -> tuple[Any, Any, Any, Any]:
    key = (target.backend, target.arch, target.warp_size)
    prepared = _prepared_by_backend.get(key)
    if prepared is None:
        # Said explicitly: Triton 3.9 warns on an options parse that leaves fp fusion to its
        # default. Fusion happens after TTIR, so the analysis is the same either way.
        options = backend.parse_options({"enable_fp_fusion": True})
        context = ir.context()
        ir.load_dialects(context)
        backend.load_dialects(context)
        prepared = (options, context, backend.get_codegen_implementation(options), backend.get_module_map())
        _prepared_by_backend[key] = prepared
    return prepared


@atexit.register
def _release_contexts() -> None:
    # Free the MLIR contexts before Triton's bindings are torn down, which would
    # otherwise report them as leaked.
    _prepared_by_backend.clear()


def _backend(target: GPUTarget) -> Any:
    key = (target.backend, target.arch, target.warp_size)
    backend = _backends.get(key)
    if backend is None:
        backend = _backends[key] = make_backend(target)
    return backend


_jit_copies: IdentityCache[JITFunction] = IdentityCache()


def as_jit_function(kernel: Any) -> JITFunction:
    """``kernel`` as a JITFunction: an InterpretedFunction (``TRITON_INTERPRET=1``) is re-wrapped."""
    if isinstance(kernel, JITFunction):
        return kernel
    return _jit_copies.get_or_make(kernel, lambda k: JITFunction(k.fn))


def make_ttir(kernel: Any, specialization: Specialization, target: GPUTarget) -> str:
    """The TTIR of ``kernel`` (a JITFunction or InterpretedFunction) for ``target``, as text, before any optimization pass.

    ``specialization`` gives every parameter's Triton type string (``"*fp32"``,
    ``"i32"``, ``"constexpr"``...) and the constexpr values. No specialization
    attributes are passed: the TTIR holds for every argument value.
    """
    backend = _backend(target)
    source = ASTSource(
        as_jit_function(kernel),
        specialization.signature_dict(),
        constexprs=specialization.constexpr_dict(),
        attrs={},
    )
    # Generations are serialized (Triton's code generator keeps module-level state), so
    # one MLIR context per target backend is reused: loading the dialects into a new
    # one costs about half a millisecond.
    with language_lock:
        options, context, codegen, module_map = _prepared(target, backend)
        if _MAKE_IR_TAKES_TARGET:
            module = source.make_ir(target, options, codegen, module_map, context)
        else:
            module = source.make_ir(options, codegen, module_map, context)
        return str(module)


def parse_target(text: str) -> GPUTarget:
    """``cuda:90`` or ``hip:gfx942`` as a GPUTarget with the target's warp size.

    The warp size is 32 for CUDA and AMD's RDNA (gfx10, gfx11, gfx12), 64 for AMD's
    CDNA and GCN (gfx90a, gfx942...), as Triton's AMD backend compiles for them.
    """
    backend, _, arch = text.partition(":")
    backend, arch = backend.strip().lower(), arch.strip().lower()
    if backend == "cuda" and arch.isdigit():
        return GPUTarget("cuda", int(arch), 32)
    if backend in ("hip", "rocm") and arch.startswith("gfx"):
        return GPUTarget("hip", arch, 32 if arch.startswith(("gfx10", "gfx11", "gfx12")) else 64)
    raise ValueError(f"unknown target {text!r}: write cuda:<capability> (cuda:90) or hip:<arch> (hip:gfx942)")


def format_target(target: GPUTarget) -> str:
    return f"{target.backend}:{target.arch}"


__all__ = ["GPUTarget", "format_target", "make_ttir", "parse_target", "triton"]
