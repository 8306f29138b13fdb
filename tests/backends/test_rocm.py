"""The rocm backend on a real AMD GPU (tests marked rocm; skipped without one).

No AMD GPU has been in reach of this project: these tests have never run. They say what
a first run on an MI-series or Radeon GPU must show, and are kept so that it can be shown.
"""

from __future__ import annotations

import pytest
import torch
import triton

import tritonhost
from kernels import add_kernel
from target_kernels import scaled_add

pytestmark = pytest.mark.rocm


@pytest.fixture
def rocm():
    with tritonhost.use_backend("rocm") as backend:
        yield backend


def test_a_plain_launch_and_amd_options(rocm):
    x, y = torch.randn(3000, device="cuda"), torch.randn(3000, device="cuda")
    out = torch.full_like(x, float("nan"))
    tritonhost.wrap(add_kernel)[(triton.cdiv(3000, 256),)](x, y, out, 3000, BLOCK=256, waves_per_eu=2, kpack=2)
    torch.testing.assert_close(out, x + y)
    scaled = torch.empty_like(x)
    tritonhost.wrap(scaled_add)[lambda meta: (triton.cdiv(3000, meta["BLOCK"]),)](x, y, scaled, 2.0, 3000)
    torch.testing.assert_close(scaled, 2 * x + y)


def test_compile_for_the_device_gives_the_code_object_a_launch_loads(rocm):
    x, y = torch.randn(4096, device="cuda"), torch.randn(4096, device="cuda")
    out = torch.empty_like(x)
    compiled = add_kernel[(32,)](x, y, out, 4096, BLOCK=128, num_warps=4)
    arch = torch.cuda.get_device_properties().gcnArchName.split(":")[0]
    (code,) = tritonhost.compile_for(add_kernel, x, y, out, 4096, BLOCK=128, num_warps=4, target=f"hip:{arch}")
    assert code.binary == compiled.asm["hsaco"]
    assert code.resources.warp_size == compiled.metadata.warp_size
