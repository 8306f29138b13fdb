"""The CUDA backend's hook implementations: Triton's NVIDIA compiler and driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from triton.backends.compiler import GPUTarget

from tritonhost import BackendInfo, TMADescriptorSpec, hookimpl
from tritonhost.analysis.specialization import Specialization
from tritonhost.compat.descriptors import experimental_descriptor, stable_descriptor
from tritonhost.compat.frontend import make_ttir
from tritonhost.runtime.devices import check_devices
from tritonhost.runtime.launcher import TritonRuntimeLauncher

NAME = "cuda"
DEVICE_TYPES = ("cuda",)
#: The target analysed for when no NVIDIA GPU is present: Hopper, as on an H100.
DEFAULT_TARGET = GPUTarget("cuda", 90, 32)


def unusable_reason() -> str:
    """Why kernels cannot run on an NVIDIA GPU here, or "" when they can."""
    if torch.version.hip is not None:
        return f"this PyTorch ({torch.__version__}) is a ROCm build; use the rocm backend."
    if not torch.backends.cuda.is_built():
        return (
            f"this PyTorch ({torch.__version__}) is built without CUDA; install a CUDA build of PyTorch "
            "on a machine with an NVIDIA GPU."
        )
    if not torch.cuda.is_available():
        return "no NVIDIA GPU is visible (torch.cuda.is_available() is False): check the driver and CUDA_VISIBLE_DEVICES."
    from triton.backends import backends

    nvidia = backends.get("nvidia")
    if nvidia is None or not nvidia.driver.is_active():
        return "the installed Triton has no active NVIDIA driver."
    return ""


@hookimpl
def tritonhost_describe_backend() -> BackendInfo:
    reason = unusable_reason()
    return BackendInfo(name=NAME, device_types=DEVICE_TYPES, usable=not reason, reason=reason)


@hookimpl
def tritonhost_make_launcher(backend: str, kernel: Any) -> TritonRuntimeLauncher | None:
    if backend != NAME:
        return None
    return TritonRuntimeLauncher(kernel, NAME, DEVICE_TYPES)


@hookimpl
def tritonhost_benchmark(backend: str, fn: Callable[[], object]) -> float | None:
    if backend != NAME:
        return None
    import triton.testing

    return float(triton.testing.do_bench(fn, return_mode="median"))


@hookimpl
def tritonhost_make_tma_descriptor(backend: str, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object | None:
    if backend != NAME:
        return None
    check_devices({"tensor": tensor}, DEVICE_TYPES, NAME)
    if spec.api == "experimental":
        return experimental_descriptor(tensor, spec)
    return stable_descriptor(tensor, spec)


@hookimpl
def tritonhost_analysis_target(backend: str) -> GPUTarget | None:
    if backend != NAME:
        return None
    if not unusable_reason():
        major, minor = torch.cuda.get_device_capability()
        return GPUTarget("cuda", major * 10 + minor, 32)
    return DEFAULT_TARGET


@hookimpl
def tritonhost_generate_ttir(
    backend: str, kernel: Any, specialization: Specialization, target: GPUTarget
) -> str | None:
    if backend != NAME or target.backend != "cuda":
        return None
    return make_ttir(kernel, specialization, target)
