"""Backend plugins as objects: the per-backend check said once, and the backend every Triton GPU driver shares.

A plugin module of plain hook functions (see :mod:`tritonhost.hookspecs`) repeats
``if backend != NAME: return None`` in every hook. A :class:`BackendPlugin`
says it once: its hook implementations answer for :attr:`BackendPlugin.name`
only and hand over to plain methods without the ``backend`` argument, which a
subclass overrides for the hooks it supports. Publish an instance under the
entry point (``example = "package.plugin:backend"``).

:class:`TritonDriverBackend` is what NVIDIA's and AMD's backends share: launch
through Triton's own runtime on its driver, time configs with
``triton.testing.do_bench``, analyse the TTIR of the device's target. A
subclass names the driver, the target kind, the default target, and says when
the installed PyTorch cannot use the device.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import triton.backends
from triton.backends.compiler import GPUTarget
from triton.testing import do_bench

from tritonhost.compat.compile import compile_kernel, stage_names, triton_backend
from tritonhost.compat.frontend import format_target, make_ttir
from tritonhost.compat.options import backend_launch_options, split_options
from tritonhost.contract import (
    BackendInfo,
    CodeObject,
    Launcher,
    ResourceUsage,
    Specialization,
    TMADescriptorSpec,
)
from tritonhost.kernel.launcher import TritonRuntimeLauncher
from tritonhost.markers import hookimpl

logger = logging.getLogger("tritonhost.compile")


def _takes_budgets(benchmark: Callable[..., object]) -> bool:
    """Whether a plugin's ``benchmark`` override takes ``warmup`` and ``rep`` (those written before do not)."""
    try:
        parameters = inspect.signature(benchmark).parameters
    except (TypeError, ValueError):  # a builtin or C callable: assume today's signature
        return True
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return True
    return "warmup" in parameters and "rep" in parameters


class BackendPlugin:
    """One backend's hook implementations, as methods of one object.

    Set :attr:`name` and implement :meth:`describe`; override the methods of the
    optional hooks the backend supports. A method left as it is returns None,
    which the host reads as "not supported" (see each hook in
    :mod:`tritonhost.hookspecs`).
    """

    #: The backend's name: the value of ``TRITONHOST_BACKEND`` that selects it.
    name: ClassVar[str]

    def describe(self) -> BackendInfo:
        """``tritonhost_describe_backend``: what this backend is, and whether it runs here."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement describe()")

    def make_launcher(self, kernel: Any) -> Launcher | None:
        """``tritonhost_make_launcher`` for this backend."""
        return None

    def benchmark(self, fn: Callable[[], object], warmup: int | None = None, rep: int | None = None) -> float | None:
        """``tritonhost_benchmark`` for this backend: ``fn``'s median time in milliseconds.

        ``warmup`` and ``rep`` are the kernel's budgets in milliseconds, or None for the
        backend's own way. An override written before they existed may take ``fn`` alone:
        the hook then calls it without them.
        """
        return None

    def make_tma_descriptor(self, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object | None:
        """``tritonhost_make_tma_descriptor`` for this backend."""
        return None

    def specialize_args(self, kernel: Any, args: Mapping[str, Any]) -> Specialization | None:
        """``tritonhost_specialize_args`` for this backend (None: the host's default typing)."""
        return None

    def analysis_target(self) -> GPUTarget | None:
        """``tritonhost_analysis_target`` for this backend."""
        return None

    def generate_ttir(self, kernel: Any, specialization: Specialization, target: GPUTarget) -> str | None:
        """``tritonhost_generate_ttir`` for this backend, for the targets it compiles for."""
        return None

    def compile(
        self, kernel: Any, params: Mapping[str, Any], options: Mapping[str, Any], target: GPUTarget
    ) -> CodeObject | None:
        """``tritonhost_compile`` for this backend, for the targets it compiles for."""
        return None

    # The hook implementations: each answers for this backend only, then hands over.

    @hookimpl
    def tritonhost_describe_backend(self) -> BackendInfo:
        return self.describe()

    @hookimpl
    def tritonhost_make_launcher(self, backend: str, kernel: Any) -> Launcher | None:
        return self.make_launcher(kernel) if backend == self.name else None

    @hookimpl
    def tritonhost_benchmark(
        self, backend: str, fn: Callable[[], object], warmup: int | None, rep: int | None
    ) -> float | None:
        if backend != self.name:
            return None
        if (warmup is None and rep is None) or not _takes_budgets(self.benchmark):
            return self.benchmark(fn)
        return self.benchmark(fn, warmup=warmup, rep=rep)

    @hookimpl
    def tritonhost_make_tma_descriptor(self, backend: str, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object | None:
        return self.make_tma_descriptor(tensor, spec) if backend == self.name else None

    @hookimpl
    def tritonhost_specialize_args(self, backend: str, kernel: Any, args: Mapping[str, Any]) -> Specialization | None:
        return self.specialize_args(kernel, args) if backend == self.name else None

    @hookimpl
    def tritonhost_analysis_target(self, backend: str) -> GPUTarget | None:
        return self.analysis_target() if backend == self.name else None

    @hookimpl
    def tritonhost_generate_ttir(
        self, backend: str, kernel: Any, specialization: Specialization, target: GPUTarget
    ) -> str | None:
        return self.generate_ttir(kernel, specialization, target) if backend == self.name else None

    @hookimpl
    def tritonhost_compile(
        self, backend: str, kernel: Any, params: Mapping[str, Any], options: Mapping[str, Any], target: GPUTarget
    ) -> CodeObject | None:
        return self.compile(kernel, params, options, target) if backend == self.name else None

    def __repr__(self) -> str:
        return f"<tritonhost backend plugin {self.name!r} ({type(self).__module__})>"


class TritonDriverBackend(BackendPlugin):
    """A backend that runs kernels through one of Triton's own GPU drivers.

    Triton compiles on first use and caches binaries, as for ``kernel[grid](...)``
    (:class:`~tritonhost.kernel.launcher.TritonRuntimeLauncher`); configs are timed
    with ``triton.testing.do_bench``; the analysis reads the TTIR of the device's
    target, or of :attr:`default_target` on a machine without the device.
    """

    #: The key of Triton's backend (``triton.backends.backends``) whose driver launches kernels.
    triton_backend: ClassVar[str]
    #: The driver's name in messages ("NVIDIA", "HIP").
    driver_label: ClassVar[str]
    #: ``GPUTarget.backend`` of the targets this backend compiles for ("cuda", "hip").
    target_kind: ClassVar[str]
    #: The target analysed for when the device is absent.
    default_target: ClassVar[GPUTarget]
    #: The torch device types its kernels take.
    device_types: ClassVar[tuple[str, ...]] = ("cuda",)
    #: Launch options of this vendor that no Triton backend bundled everywhere knows.
    launch_options: ClassVar[frozenset[str]] = frozenset()

    def torch_unusable_reason(self) -> str:
        """Why the installed PyTorch cannot reach this backend's devices, or "" when it can."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement torch_unusable_reason()")

    def device_target(self) -> GPUTarget:
        """The target of the current device (called only when the backend is usable)."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement device_target()")

    def unusable_reason(self) -> str:
        """Why kernels cannot run on this backend here, or "" when they can."""
        reason = self.torch_unusable_reason()
        if reason:
            return reason
        triton_backend = triton.backends.backends.get(self.triton_backend)
        if triton_backend is None or not triton_backend.driver.is_active():
            return f"the installed Triton has no active {self.driver_label} driver."
        return ""

    def describe(self) -> BackendInfo:
        reason = self.unusable_reason()
        return BackendInfo(
            name=self.name,
            device_types=self.device_types,
            usable=not reason,
            reason=reason,
            launch_options=self.launch_options,
        )

    def make_launcher(self, kernel: Any) -> Launcher:
        return TritonRuntimeLauncher(
            kernel, self.name, self.device_types, backend_launch_options(self.triton_backend)
        )

    def benchmark(self, fn: Callable[[], object], warmup: int | None = None, rep: int | None = None) -> float:
        # Unset budgets take do_bench's own defaults, as Triton's Autotuner leaves them.
        budgets = {name: value for name, value in (("warmup", warmup), ("rep", rep)) if value is not None}
        return float(do_bench(fn, return_mode="median", **budgets))

    def analysis_target(self) -> GPUTarget:
        return self.default_target if self.unusable_reason() else self.device_target()

    def generate_ttir(self, kernel: Any, specialization: Specialization, target: GPUTarget) -> str | None:
        if target.backend != self.target_kind:
            return None
        return make_ttir(kernel, specialization, target)

    def compile(
        self, kernel: Any, params: Mapping[str, Any], options: Mapping[str, Any], target: GPUTarget
    ) -> CodeObject | None:
        if target.backend != self.target_kind:
            return None
        accepted = backend_launch_options(self.triton_backend)
        kept, dropped = split_options(options, accepted)
        for option, value in dropped.items():
            logger.debug("%s: dropped option %s=%r, which %s targets do not take", self.name, option, value,
                         self.target_kind)
        compiled = compile_kernel(kernel, params, kept, target)
        binary_kind = str(triton_backend(target).binary_ext)
        stages = [(name, str(compiled.asm[name])) for name in stage_names(compiled, binary_kind)]
        # The assembly is named after its language in Triton's pipeline (ptx, amdgcn); "asm" names it for any target.
        asm_name = stages[-1][0] if stages and stages[-1][0] not in ("ttir", "ttgir", "llir") else None
        stages = [("asm" if name == asm_name else name, text) for name, text in stages]
        metadata = compiled.metadata
        return CodeObject(
            name=str(metadata.name),
            target=format_target(target),
            binary_kind=binary_kind,
            binary=bytes(compiled.asm[binary_kind]),
            stages=tuple(stages),
            resources=self.resource_usage(compiled, target),
            options=tuple(sorted(
                (k, v) for k, v in metadata._asdict().items() if k in accepted and isinstance(v, (int, str, bool))
            )),
        )

    def resource_usage(self, compiled: Any, target: GPUTarget) -> ResourceUsage:
        """What ``compiled`` (Triton's ``CompiledKernel``) takes of a device of ``target``.

        This base reads only Triton's own metadata (shared memory, warps); a vendor's
        backend overrides it to read its binary or assembly for registers and spills.
        """
        metadata = compiled.metadata
        return ResourceUsage(
            registers=None,
            spills=None,
            scratch_bytes=None,
            shared_bytes=int(metadata.shared),
            num_warps=int(metadata.num_warps),
            warp_size=int(getattr(metadata, "warp_size", target.warp_size)),
        )
