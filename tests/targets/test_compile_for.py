"""Code objects for targets this machine does not have: hsaco for AMD, cubin for NVIDIA, on the CPU.

Every code object here is compiled by Triton's own toolchains (LLVM's AMDGPU backend,
NVIDIA's ptxas) through the plugins' ``tritonhost_compile`` hook, and read back:
the ELF machine of the binary, the kernel's symbol, its warps and wave size, its
shared memory or LDS, its registers. No AMD GPU has ever been in reach of this
project: nothing here says an hsaco runs, only that it is the one Triton would load.
"""

from __future__ import annotations

import logging
import re
import struct

import pytest
import torch
from triton.backends.compiler import GPUTarget

import tritonhost
from kernels import descriptor_copy_kernel
from target_kernels import matmul, row_sum, scaled_add
from tritonhost.analysis.cli_args import parse_value
from tritonhost.compat.compile import target_warp_size
from tritonhost.compat.frontend import parse_target
from tritonhost.host import discovery
from tritonhost.plugin_api import TritonRuntimeLauncher

EM_CUDA, EM_AMDGPU = 190, 224  # ELF e_machine of a cubin and of an hsaco
TARGETS = ["hip:gfx942", "hip:gfx1100", "cuda:90"]


def meta(*shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype, device="meta")


def elf_machine(binary: bytes) -> int:
    assert binary[:4] == b"\x7fELF", "not an ELF object"
    return int(struct.unpack_from("<H", binary, 18)[0])


def launch_args(kernel, dtype):
    if kernel is scaled_add:
        return (meta(8192, dtype=dtype), meta(8192, dtype=dtype), meta(8192, dtype=dtype), 0.5, 8192)
    if kernel is row_sum:
        return (meta(64, 4096, dtype=dtype), meta(64), 4096, 4096)
    return (meta(512, 256, dtype=dtype), meta(256, 512, dtype=dtype), meta(512, 512, dtype=dtype),
            512, 512, 256, 256, 512, 512)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("kernel", "dtype"), [(scaled_add, torch.bfloat16), (scaled_add, torch.float32),
                                               (row_sum, torch.float32), (matmul, torch.float16)],
                         ids=["elementwise-bf16", "elementwise-fp32", "reduction-fp32", "matmul-fp16"])
def test_one_code_object_per_config_with_its_metadata(kernel, dtype, target):
    codes = tritonhost.compile_for(kernel, *launch_args(kernel, dtype), target=target)
    configs = kernel.configs
    assert len(codes) == len(configs)
    amd = target.startswith("hip")
    wave = 32 if target in ("hip:gfx1100", "cuda:90") else 64
    for code, config in zip(codes, configs):
        assert code.name == kernel.fn.__name__ and code.target == target
        assert code.binary_kind == ("hsaco" if amd else "cubin")
        assert elf_machine(code.binary) == (EM_AMDGPU if amd else EM_CUDA)
        assert code.name.encode() in code.binary  # the symbol a loader looks up
        usage = code.resources
        assert (usage.num_warps, usage.warp_size) == (config.num_warps, wave)
        assert usage.registers is not None and 0 < usage.registers <= 512
        options = dict(code.options)
        assert options["num_warps"] == config.num_warps
        if amd:
            # waves_per_eu reached LLVM: it is in the options and, on CDNA, bounds the occupancy.
            assert options["waves_per_eu"] == config.kwargs["waves_per_eu"]
            assert usage.spills == 0 and usage.scratch_bytes == 0
            assert usage.occupancy_unit == "waves per SIMD" and usage.occupancy is not None
            if target == "hip:gfx942" and config.kwargs["waves_per_eu"]:
                assert usage.occupancy <= config.kwargs["waves_per_eu"]
            # LLVM spells the triple its own way per release; the processor ends it.
            assert re.search(rf'\.amdgcn_target "[^"]*-{target[4:]}"', code.stage("asm"))
        else:
            assert "waves_per_eu" not in options  # dropped: NVIDIA's compiler has no such option
            assert usage.occupancy_unit == "warps per SM" and 0 < usage.occupancy <= 64  # type: ignore[operator]
            assert f".target sm_{target[5:]}" in code.stage("asm")
        block = ", ".join(f"{k}={v}" for k, v in config.kwargs.items())
        assert code.config.startswith(block) and f"num_warps={config.num_warps}" in code.config
        if kernel is matmul:
            assert usage.shared_bytes > 0  # the tiles of tl.dot go through shared memory / LDS
        if kernel is row_sum and config.num_warps > 1:
            assert usage.shared_bytes > 0  # tl.sum across warps goes through shared memory / LDS
        for stage in ("ttir", "ttgir", "llir"):
            assert code.name in code.stage(stage)


def test_ttgir_records_the_wave_size_the_target_has():
    (wave64, *_), (wave32, *_) = (tritonhost.compile_for(scaled_add, *launch_args(scaled_add, torch.float32),
                                                          target=t) for t in ("hip:gfx942", "hip:gfx1100"))
    assert '"ttg.threads-per-warp" = 64' in wave64.stage("ttgir")
    assert '"ttg.threads-per-warp" = 32' in wave32.stage("ttgir")


@pytest.mark.parametrize("arch", ["gfx90a", "gfx942", "gfx950", "gfx1030", "gfx1100", "gfx1200"])
def test_the_wave_size_of_a_target_is_the_one_triton_compiles_with(arch):
    assert parse_target(f"hip:{arch}").warp_size == target_warp_size("hip", arch)


def test_launch_options_and_constexprs_pass_as_for_a_launch():
    (code,) = tritonhost.compile_for(
        row_sum.fn, meta(64, 4096), meta(64), 4096, 4096, BLOCK=512, num_warps=2, waves_per_eu=3, target="hip:gfx90a"
    )
    assert (code.resources.num_warps, dict(code.options)["waves_per_eu"], code.config) == (2, 3, "")


def test_the_kernel_arguments_are_checked_as_for_a_launch():
    with pytest.raises(tritonhost.KernelArgumentError, match="is missing 'n'"):
        tritonhost.compile_for(scaled_add, meta(16), meta(16), meta(16), 1.0, target="cuda:90")


def test_a_target_no_backend_compiles_for_is_named():
    with pytest.raises(tritonhost.CompileTargetError, match=r"no installed backend compiles scaled_add for xpu:pvc"):
        tritonhost.compile_for(scaled_add, *launch_args(scaled_add, torch.float32), target=GPUTarget("xpu", "pvc", 32))


def test_an_option_the_target_does_not_take_is_dropped_with_one_debug_line(caplog):
    with caplog.at_level(logging.DEBUG, logger="tritonhost.compile"):
        (code,) = tritonhost.compile_for(row_sum.fn, meta(8, 64), meta(8), 64, 64, BLOCK=64, waves_per_eu=2,
                                         matrix_instr_nonkdim=16, target="cuda:80")
    assert "waves_per_eu" not in dict(code.options)
    dropped = [r.getMessage() for r in caplog.records if "dropped option" in r.getMessage()]
    assert dropped == ["cuda: dropped option waves_per_eu=2, which cuda targets do not take",
                       "cuda: dropped option matrix_instr_nonkdim=16, which cuda targets do not take"]


def test_the_triton_runtime_launcher_drops_foreign_options_once_per_kernel(caplog):
    launcher = TritonRuntimeLauncher(row_sum.fn, "cuda", ("cuda",), frozenset({"num_warps"}))
    with caplog.at_level(logging.DEBUG, logger="tritonhost.launch"):
        assert launcher._options({"num_warps": 4, "kpack": 2}) == {"num_warps": 4}
        assert launcher._options({"num_warps": 8, "kpack": 2}) == {"num_warps": 8}
    assert [r.getMessage() for r in caplog.records] == [
        "row_sum on cuda: dropped launch option kpack=2, which this backend's compiler does not take"
    ]


def test_the_gpu_backends_accept_their_own_options_and_not_the_others():
    plugins = discovery.registry().plugins
    rocm = plugins["rocm"].tritonhost_make_launcher(backend="rocm", kernel=row_sum.fn)
    cuda = plugins["cuda"].tritonhost_make_launcher(backend="cuda", kernel=row_sum.fn)
    amd_options = {"waves_per_eu": 2, "matrix_instr_nonkdim": 16, "kpack": 2, "num_stages": 2, "schedule_hint": "none"}
    assert rocm._options(amd_options) == amd_options
    assert cuda._options(amd_options) == {"num_stages": 2}


def test_amd_options_in_configs_and_launches_run_on_the_interpreter():
    with tritonhost.use_backend("interpreter"):
        x, y = torch.randn(3000), torch.randn(3000)
        out = torch.empty(3000)
        tritonhost.wrap(scaled_add)[lambda meta: (triton_cdiv(3000, meta["BLOCK"]),)](x, y, out, 2.0, 3000)
        torch.testing.assert_close(out, 2 * x + y)
        out.zero_()
        tritonhost.wrap(scaled_add.fn)[(3,)](x, y, out, 2.0, 3000, BLOCK=1024, waves_per_eu=2, kpack=2,
                                              matrix_instr_nonkdim=16, num_warps=4)
        torch.testing.assert_close(out, 2 * x + y)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def test_a_host_descriptor_kernel_compiles_for_amd_targets_without_tma():
    desc = parse_value("f32[256,256]@[64,64]")
    for target in ("hip:gfx942", "hip:gfx1100"):
        (code,) = tritonhost.compile_for(descriptor_copy_kernel, desc, desc, BLOCK_M=64, BLOCK_N=64, target=target)
        assert code.binary_kind == "hsaco" and code.name == "descriptor_copy_kernel"


def test_rocm_refuses_experimental_descriptors_naming_the_alternative():
    spec = tritonhost.TMADescriptorSpec("experimental", (16,), dims=(64,), element_size=4)
    plugin = discovery.registry().plugins["rocm"]
    with pytest.raises(tritonhost.UnsupportedFeatureError, match=r"rocm backend.*tl\.make_tensor_descriptor"):
        plugin.tritonhost_make_tma_descriptor(backend="rocm", tensor=torch.zeros(64), spec=spec)
