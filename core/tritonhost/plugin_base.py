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

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import triton.backends
from triton.backends.compiler import GPUTarget
from triton.testing import do_bench

from tritonhost.compat.frontend import make_ttir
from tritonhost.contract import BackendInfo, Launcher, Specialization, TMADescriptorSpec
from tritonhost.kernel.launcher import TritonRuntimeLauncher
from tritonhost.markers import hookimpl


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

    def benchmark(self, fn: Callable[[], object]) -> float | None:
        """``tritonhost_benchmark`` for this backend: ``fn``'s median time in milliseconds."""
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

    # The hook implementations: each answers for this backend only, then hands over.

    @hookimpl
    def tritonhost_describe_backend(self) -> BackendInfo:
        return self.describe()

    @hookimpl
    def tritonhost_make_launcher(self, backend: str, kernel: Any) -> Launcher | None:
        return self.make_launcher(kernel) if backend == self.name else None

    @hookimpl
    def tritonhost_benchmark(self, backend: str, fn: Callable[[], object]) -> float | None:
        return self.benchmark(fn) if backend == self.name else None

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
        return TritonRuntimeLauncher(kernel, self.name, self.device_types)

    def benchmark(self, fn: Callable[[], object]) -> float:
        return float(do_bench(fn, return_mode="median"))

    def analysis_target(self) -> GPUTarget:
        return self.default_target if self.unusable_reason() else self.device_target()

    def generate_ttir(self, kernel: Any, specialization: Specialization, target: GPUTarget) -> str | None:
        if target.backend != self.target_kind:
            return None
        return make_ttir(kernel, specialization, target)
