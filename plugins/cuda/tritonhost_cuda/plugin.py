"""The CUDA backend: Triton's NVIDIA compiler and driver.

Everything a backend on a Triton GPU driver does the same way (launching, timing,
TTIR for the analysis) comes from :class:`tritonhost.plugin_api.TritonDriverBackend`;
this module says what is NVIDIA's: when PyTorch can reach an NVIDIA GPU, the
device's target, host-side TMA descriptors, and what a cubin takes of an SM.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from typing import Any, NamedTuple

import torch
from triton import knobs

from tritonhost.plugin_api import (
    GPUTarget,
    ResourceUsage,
    TMADescriptorSpec,
    TritonDriverBackend,
    check_devices,
    experimental_descriptor,
    stable_descriptor,
)

logger = logging.getLogger("tritonhost.compile")

# cuobjdump -res-usage prints one line per function: "REG:26 STACK:0 SHARED:0 LOCAL:0 ...".
_RESOURCES = re.compile(r"REG:(\d+)\s+STACK:(\d+)\s+SHARED:(\d+)\s+LOCAL:(\d+)")


class SMLimits(NamedTuple):
    """One compute capability's per-SM limits, from NVIDIA's CUDA C++ Programming Guide (table 21)."""

    max_warps: int
    max_blocks: int
    shared_bytes: int  # shared memory a multiprocessor can give its blocks


#: The targets whose occupancy this backend can compute; others report None.
SM_LIMITS = {
    80: SMLimits(64, 32, 167936),
    86: SMLimits(48, 16, 102400),
    87: SMLimits(48, 16, 167936),
    89: SMLimits(48, 24, 102400),
    90: SMLimits(64, 32, 233472),
    100: SMLimits(64, 32, 233472),
    120: SMLimits(48, 32, 102400),
}
_REGISTERS_PER_SM = 65536
_REGISTER_GRANULE = 256  # registers are allocated per warp in units of 256
_RESERVED_SHARED_PER_BLOCK = 1024  # the CUDA runtime's own, from sm_80 on


def occupancy_warps(arch: int, registers: int, shared: int, num_warps: int) -> int | None:
    """Resident warps per SM for a kernel, as NVIDIA's occupancy calculator counts them; None for an unknown arch."""
    limits = SM_LIMITS.get(arch)
    if limits is None:
        return None
    per_warp = -(-max(registers, 1) * 32 // _REGISTER_GRANULE) * _REGISTER_GRANULE
    blocks = min(
        limits.max_blocks,
        limits.max_warps // num_warps,
        _REGISTERS_PER_SM // per_warp // num_warps,
        limits.shared_bytes // (shared + _RESERVED_SHARED_PER_BLOCK),
    )
    return blocks * num_warps


def _cuobjdump() -> str:
    return str(knobs.nvidia.cuobjdump.path)


def read_cubin_resources(cubin: bytes) -> tuple[int, int, int, int] | None:
    """(registers, stack, shared, local) bytes of the kernel in ``cubin``, from Triton's bundled cuobjdump."""
    with tempfile.TemporaryDirectory(prefix="tritonhost-cubin-") as directory:
        path = os.path.join(directory, "kernel.cubin")
        with open(path, "wb") as file:
            file.write(cubin)
        try:
            done = subprocess.run(
                [_cuobjdump(), "-res-usage", path], check=False, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            logger.debug("cuda: cuobjdump could not read the cubin's resources: %s", exc)
            return None
    found = _RESOURCES.search(done.stdout)
    if done.returncode != 0 or found is None:
        logger.debug("cuda: cuobjdump -res-usage gave no resources (exit %s): %s", done.returncode, done.stderr.strip())
        return None
    registers, stack, shared, local = (int(group) for group in found.groups())
    return registers, stack, shared, local


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

    def resource_usage(self, compiled: Any, target: GPUTarget) -> ResourceUsage:
        metadata = compiled.metadata
        num_warps, shared = int(metadata.num_warps), int(metadata.shared)
        read = read_cubin_resources(bytes(compiled.asm["cubin"]))
        if read is None:
            return super().resource_usage(compiled, target)
        registers, stack, static_shared, local = read
        shared = max(shared, static_shared)
        arch = int(str(target.arch).rstrip("af"))  # sm_90a's limits are sm_90's
        occupancy = occupancy_warps(arch, registers, shared, num_warps)
        return ResourceUsage(
            registers=registers,
            # The cubin records the local memory spills go to, not a count of spilled registers.
            spills=None,
            scratch_bytes=local,
            shared_bytes=shared,
            num_warps=num_warps,
            warp_size=32,
            occupancy=occupancy,
            occupancy_unit="warps per SM" if occupancy is not None else "",
            details=(("stack_bytes", stack), ("local_bytes", local)),
        )


#: The plugin object the entry point names.
backend = CudaBackend()
