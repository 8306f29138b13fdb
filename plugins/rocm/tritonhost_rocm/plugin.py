"""The ROCm backend: Triton's AMD compiler and HIP driver.

Launches through Triton's HIP driver on a ROCm build of PyTorch, where AMD GPUs
appear as ``cuda`` devices. Without AMD hardware it reports itself unusable, and
still compiles: TTIR for the analysis and hsaco code objects for any AMD target
(``tritonhost compile --target hip:gfx942``), with Triton's bundled LLVM.

No AMD GPU has been available to this project: the launch path is Triton's own
(:class:`tritonhost.plugin_api.TritonDriverBackend`, shared with the cuda backend)
and has never run on AMD hardware. What has run is listed in docs/backends/rocm.md.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from tritonhost.plugin_api import (
    GPUTarget,
    ResourceUsage,
    TMADescriptorSpec,
    TritonDriverBackend,
    UnsupportedFeatureError,
    check_devices,
    parse_target,
    stable_descriptor,
)

# The code object's metadata as LLVM's AMDGPU backend prints it in the assembly: a YAML
# document between .amdgpu_metadata and .end_amdgpu_metadata, one "  .key: value" a line.
_METADATA = re.compile(r"\.amdgpu_metadata(.*?)\.end_amdgpu_metadata", re.DOTALL)
_FIELD = re.compile(r"^\s+\.(\w+):\s+(\S+)\s*$", re.MULTILINE)
# LLVM's own occupancy estimate, in waves per SIMD, printed in the kernel's comment block.
_OCCUPANCY = re.compile(r"^\s*;\s*Occupancy:\s*(\d+)", re.MULTILINE)


def read_amdgcn_resources(amdgcn: str, num_warps: int, shared: int) -> ResourceUsage:
    """The resources of the kernel in ``amdgcn`` (Triton's AMDGCN stage), from LLVM's code-object metadata."""
    block = _METADATA.search(amdgcn)
    if block is None:
        raise ValueError("the AMDGCN assembly has no .amdgpu_metadata block; cannot read its resources")
    fields: dict[str, int] = {}
    for key, value in _FIELD.findall(block.group(1)):
        if value.isdigit():
            fields.setdefault(key, int(value))  # the first kernel's: Triton emits one per module
    occupancy = _OCCUPANCY.search(amdgcn)
    spills = fields.get("sgpr_spill_count", 0) + fields.get("vgpr_spill_count", 0)
    return ResourceUsage(
        registers=fields.get("vgpr_count"),
        spills=spills,
        scratch_bytes=fields.get("private_segment_fixed_size"),
        shared_bytes=max(shared, fields.get("group_segment_fixed_size", 0)),
        num_warps=num_warps,
        warp_size=fields.get("wavefront_size", 64),
        occupancy=int(occupancy.group(1)) if occupancy else None,
        occupancy_unit="waves per SIMD" if occupancy else "",
        details=tuple(
            (name, fields[key])
            for name, key in (("sgprs", "sgpr_count"), ("vgprs", "vgpr_count"), ("agprs", "agpr_count"),
                              ("sgpr_spills", "sgpr_spill_count"), ("vgpr_spills", "vgpr_spill_count"))
            if key in fields
        ),
    )


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
        return parse_target(f"hip:{arch}")  # with the arch's wave size: 32 on RDNA, 64 on CDNA

    def resource_usage(self, compiled: Any, target: GPUTarget) -> ResourceUsage:
        metadata = compiled.metadata
        return read_amdgcn_resources(str(compiled.asm["amdgcn"]), int(metadata.num_warps), int(metadata.shared))

    def make_tma_descriptor(self, tensor: torch.Tensor, spec: TMADescriptorSpec) -> object:
        if spec.api != "stable":
            # Triton's experimental 1-D/2-D host descriptors encode NVIDIA's TMA format.
            raise UnsupportedFeatureError(
                "the rocm backend cannot make experimental (NVIDIA TMA) host descriptors: pass a "
                "triton.tools.tensor_descriptor.TensorDescriptor (api='stable'), which Triton's HIP driver "
                "takes, or make the descriptor inside the kernel with tl.make_tensor_descriptor."
            )
        check_devices({"tensor": tensor}, self.device_types, self.name)
        return stable_descriptor(tensor, spec)


#: The plugin object the entry point names.
backend = RocmBackend()
