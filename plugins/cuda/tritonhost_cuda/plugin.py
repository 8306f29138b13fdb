"""The CUDA backend: Triton's NVIDIA compiler and driver.

Everything a backend on a Triton GPU driver does the same way (launching, timing,
TTIR for the analysis) comes from :class:`tritonhost.plugin_api.TritonDriverBackend`;
this module says what is NVIDIA's: when PyTorch can reach an NVIDIA GPU, the
device's target, and host-side TMA descriptors.
"""

from __future__ import annotations

import torch

from tritonhost.plugin_api import (
    GPUTarget,
    TMADescriptorSpec,
    TritonDriverBackend,
    check_devices,
    experimental_descriptor,
    stable_descriptor,
)


class CudaBackend(TritonDriverBackend):
    """Kernels on NVIDIA GPUs, through Triton's own runtime."""

    name = "cuda"
    triton_backend = "nvidia"
    driver_label = "NVIDIA"
    target_kind = "cuda"
    #: The target analysed for when no NVIDIA GPU is present: Hopper, as on an H100.
    default_target = GPUTarget("cuda", 90, 32)
    device_types = ("cuda",)

    def torch_unusable_reason(self) -> str:
        if torch.version.hip is not None:
            return f"this PyTorch ({torch.__version__}) is a ROCm build; use the rocm backend."
        if not torch.backends.cuda.is_built():
            return (
                f"this PyTorch ({torch.__version__}) is built without CUDA; install a CUDA build of PyTorch "
                "on a machine with an NVIDIA GPU."
            )
        if not torch.cuda.is_available():
            return (
                "no NVIDIA GPU is visible (torch.cuda.is_available() is False): check the driver and "
                "CUDA_VISIBLE_DEVICES."
            )
        return ""

    def device_target(self) -> GPUTarget:
        major, minor = torch.cuda.get_device_capability()
        return GPUTarget("cuda", major * 10 + minor, 32)

    def make_tma_descriptor(self, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object:
        check_devices({"tensor": tensor}, self.device_types, self.name)
        if spec.api == "experimental":
            return experimental_descriptor(tensor, spec)
        return stable_descriptor(tensor, spec)


#: The plugin object the entry point names.
backend = CudaBackend()
