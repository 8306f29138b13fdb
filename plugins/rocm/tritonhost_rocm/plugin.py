"""The ROCm backend: Triton's AMD compiler and HIP driver.

Launches through Triton's HIP driver on a ROCm build of PyTorch, where AMD GPUs
appear as ``cuda`` devices. Without AMD hardware it reports itself unusable. No
AMD GPU has been available to this project yet: the launch path is Triton's own
(:class:`tritonhost.plugin_api.TritonDriverBackend`, shared with the cuda backend)
and untested on AMD hardware.
"""

from __future__ import annotations

import torch

from tritonhost.plugin_api import GPUTarget, TritonDriverBackend


class RocmBackend(TritonDriverBackend):
    """Kernels on AMD GPUs, through Triton's own runtime."""

    name = "rocm"
    triton_backend = "amd"
    driver_label = "HIP"
    target_kind = "hip"
    #: The target analysed for when no AMD GPU is present: CDNA3, as on an MI300X.
    default_target = GPUTarget("hip", "gfx942", 64)
    # ROCm builds of PyTorch expose AMD GPUs under the "cuda" device type.
    device_types = ("cuda",)
    #: AMD-only launch options, also known to Triton's HIP backend.
    launch_options = frozenset({"waves_per_eu", "matrix_instr_nonkdim", "kpack", "schedule_hint"})

    def torch_unusable_reason(self) -> str:
        if torch.version.hip is None:
            return (
                f"this PyTorch ({torch.__version__}) is not a ROCm build; the rocm backend needs PyTorch for "
                "ROCm and an AMD GPU."
            )
        if not torch.cuda.is_available():
            return "no AMD GPU is visible (torch.cuda.is_available() is False): check ROCm and HIP_VISIBLE_DEVICES."
        return ""

    def device_target(self) -> GPUTarget:
        arch = torch.cuda.get_device_properties().gcnArchName.split(":")[0]
        return GPUTarget("hip", arch, 64)


#: The plugin object the entry point names.
backend = RocmBackend()
