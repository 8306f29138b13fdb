"""The ROCm backend's hook implementations.

Launches through Triton's HIP driver on a ROCm build of PyTorch, where AMD GPUs
appear as ``cuda`` devices. Without AMD hardware it reports itself unusable. No
AMD GPU has been available to this project yet: the launch path is Triton's own
and untested here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from triton.backends.compiler import GPUTarget

from tritonhost import BackendInfo, hookimpl
from tritonhost.analysis.specialization import Specialization
from tritonhost.compat.frontend import make_ttir
from tritonhost.runtime.launcher import TritonRuntimeLauncher

NAME = "rocm"
# ROCm builds of PyTorch expose AMD GPUs under the "cuda" device type.
DEVICE_TYPES = ("cuda",)
#: The target analysed for when no AMD GPU is present: CDNA3, as on an MI300X.
DEFAULT_TARGET = GPUTarget("hip", "gfx942", 64)
#: AMD-only launch options, also known to Triton's HIP backend.
LAUNCH_OPTIONS = frozenset({"waves_per_eu", "matrix_instr_nonkdim", "kpack", "schedule_hint"})


def unusable_reason() -> str:
    """Why kernels cannot run on an AMD GPU here, or "" when they can."""
    if torch.version.hip is None:
        return (
            f"this PyTorch ({torch.__version__}) is not a ROCm build; the rocm backend needs PyTorch for ROCm "
            "and an AMD GPU."
        )
    if not torch.cuda.is_available():
        return "no AMD GPU is visible (torch.cuda.is_available() is False): check ROCm and HIP_VISIBLE_DEVICES."
    from triton.backends import backends

    amd = backends.get("amd")
    if amd is None or not amd.driver.is_active():
        return "the installed Triton has no active HIP driver."
    return ""


@hookimpl
def tritonhost_describe_backend() -> BackendInfo:
    reason = unusable_reason()
    return BackendInfo(
        name=NAME, device_types=DEVICE_TYPES, usable=not reason, reason=reason, launch_options=LAUNCH_OPTIONS
    )


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
def tritonhost_analysis_target(backend: str) -> GPUTarget | None:
    if backend != NAME:
        return None
    if not unusable_reason():
        arch = torch.cuda.get_device_properties().gcnArchName.split(":")[0]
        return GPUTarget("hip", arch, 64)
    return DEFAULT_TARGET


@hookimpl
def tritonhost_generate_ttir(
    backend: str, kernel: Any, specialization: Specialization, target: GPUTarget
) -> str | None:
    if backend != NAME or target.backend != "hip":
        return None
    return make_ttir(kernel, specialization, target)
