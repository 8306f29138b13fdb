"""The CUDA backend's hook implementations: Triton's NVIDIA compiler and driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from tritonhost import BackendInfo, TMADescriptorSpec, hookimpl
from tritonhost.compat.descriptors import experimental_descriptor, stable_descriptor
from tritonhost.runtime.devices import check_devices
from tritonhost.runtime.launcher import TritonRuntimeLauncher

NAME = "cuda"
DEVICE_TYPES = ("cuda",)


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
