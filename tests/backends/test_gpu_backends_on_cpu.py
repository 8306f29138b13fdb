"""What of the cuda and rocm backends runs without a GPU: descriptions, targets, TTIR, launch guards, errors.

The launches themselves run only on GPU machines (the ``gpu`` tests). No AMD GPU has
been available to this project: nothing here says the rocm backend launches on one.
"""

from __future__ import annotations

import pytest
import torch
from triton import knobs

import tritonhost
from kernels import add_kernel
from tritonhost.compat import descriptors
from tritonhost.compat.direct_launch import DirectLaunch, _signature_of
from tritonhost.host import discovery
from tritonhost.plugin_api import GPUTarget, TMADescriptorSpec, TritonRuntimeLauncher
from tritonhost.plugin_api import Specialization as Spec

ADD = Spec(signature=(("x_ptr", "*fp32"), ("y_ptr", "*fp32"), ("out_ptr", "*fp32"), ("n_elements", "i32"),
                      ("BLOCK", "constexpr")), constexprs=((4, 64),))


def _plugin(name):
    return discovery.registry().plugins[name]


def _gpu_here(name):
    return any(s.name == name and s.usable for s in tritonhost.backends())


@pytest.mark.parametrize(
    ("name", "target", "other"),
    [("cuda", GPUTarget("cuda", 90, 32), GPUTarget("hip", "gfx942", 64)),
     ("rocm", GPUTarget("hip", "gfx942", 64), GPUTarget("cuda", 90, 32))],
)
def test_ttir_for_its_own_targets_only(name, target, other):
    plugin = _plugin(name)
    ttir = plugin.tritonhost_generate_ttir(backend=name, kernel=add_kernel, specialization=ADD, target=target)
    assert "tt.func public @add_kernel" in ttir and "tt.store" in ttir
    assert plugin.tritonhost_generate_ttir(backend=name, kernel=add_kernel, specialization=ADD, target=other) is None


def test_rocm_without_amd_hardware_says_why_and_analyses_for_mi300():
    if _gpu_here("rocm"):
        pytest.skip("an AMD GPU is usable here")
    plugin = _plugin("rocm")
    info = plugin.tritonhost_describe_backend()
    assert not info.usable and "ROCm build" in info.reason
    assert {"waves_per_eu", "kpack"} <= info.launch_options <= discovery.registry().launch_options()
    assert plugin.tritonhost_analysis_target(backend="rocm") == GPUTarget("hip", "gfx942", 64)
    with pytest.raises(tritonhost.BackendUnusableError, match="rocm"):
        tritonhost.select("rocm")


def test_rocm_makes_triton_runtime_launchers_and_stable_descriptors_of_gpu_tensors_only():
    plugin = _plugin("rocm")
    launcher = plugin.tritonhost_make_launcher(backend="rocm", kernel=add_kernel)
    assert isinstance(launcher, TritonRuntimeLauncher)
    assert (launcher.backend, launcher.device_types) == ("rocm", ("cuda",))
    spec = TMADescriptorSpec("stable", (16,))
    with pytest.raises(tritonhost.DeviceMismatchError, match="backend 'rocm' runs kernels on cuda tensors"):
        plugin.tritonhost_make_tma_descriptor(backend="rocm", tensor=torch.zeros(64), spec=spec)


def test_cuda_refuses_a_host_tensor_for_a_descriptor():
    with pytest.raises(tritonhost.DeviceMismatchError, match="argument 'tensor' is a tensor on cpu"):
        _plugin("cuda").tritonhost_make_tma_descriptor(
            backend="cuda", tensor=torch.zeros(64, 64), spec=TMADescriptorSpec("stable", (16, 16))
        )


@pytest.mark.skipif(descriptors.HAS_EXPERIMENTAL, reason="this Triton still has experimental descriptors")
def test_experimental_descriptors_are_refused_by_triton_releases_without_them():
    spec = TMADescriptorSpec("experimental", (16,), dims=(64,), element_size=4)
    with pytest.raises(tritonhost.UnsupportedFeatureError, match=r"no experimental TMA descriptors.*api='stable'"):
        descriptors.experimental_descriptor(torch.zeros(64), spec)


def test_the_triton_runtime_launcher_names_a_host_tensor():
    if _gpu_here("cuda"):
        pytest.skip("a GPU is usable here: host tensors are tested by the gpu tests")
    launcher = TritonRuntimeLauncher(add_kernel, "cuda", ("cuda",))
    x = torch.zeros(64)
    params = {"x_ptr": x, "y_ptr": x, "out_ptr": x, "n_elements": 64, "BLOCK": 64}
    with pytest.raises(tritonhost.DeviceMismatchError, match="argument 'x_ptr' is a tensor on cpu.*backend 'cuda'"):
        launcher((1, 1, 1), params, {})


# --- the prepared direct launch: its guards and its call, without a binary to run -------------


class _Binary:
    """What DirectLaunch.compile finds by compiling, given by hand: the binary's launcher records its calls."""

    function = "function"
    packed_metadata = "packed metadata"

    def __init__(self, calls):
        self.run = lambda *args: calls.append(args)

    def launch_metadata(self, grid, stream, *values):
        return ("metadata", grid, stream)


def _prepared(calls, checks, device=0):
    return DirectLaunch(checks, (), _Binary(calls), lambda: device, lambda dev: 1234, 0)


def test_signature_of_follows_what_triton_specializes_on():
    aligned = torch.zeros(64)
    assert _signature_of(aligned) == (torch.float32, True)
    assert _signature_of(aligned[1:]) == (torch.float32, False)  # 4 bytes off a 16-byte boundary
    assert _signature_of(1) == (True, False, True)
    assert _signature_of(32) == (False, True, True)
    assert _signature_of(2**40) == (False, True, False)  # needs 64 bits
    assert _signature_of(0.5) is float


def test_a_prepared_launch_passes_the_grid_stream_and_values_in_order():
    calls = []
    x = torch.zeros(64)
    launch = _prepared(calls, ((0, _signature_of(x)), (3, _signature_of(64))))
    assert launch((4, 2, 1), [x, x, x, 64, 64])
    (call,) = calls
    assert call[:9] == (4, 2, 1, 1234, "function", "packed metadata", None, None, None)  # no hooks set
    assert call[9:] == (x, x, x, 64, 64)


class _RaisingPointer(torch.Tensor):
    """A tensor subclass whose data_ptr() raises, as a tensor without storage does."""

    def data_ptr(self):
        raise RuntimeError("this tensor has no storage")


_DECLINED = {
    "misaligned tensor": lambda x: [x[1:], x, x, 64, 64],
    "second tensor misaligned": lambda x: [x, x, x[1:], 64, 64],
    "aligned where compiled misaligned": lambda x: [x, x, x, 64, 64],
    "size not divisible by 16": lambda x: [x, x, x, 65, 64],
    "size 1": lambda x: [x, x, x, 1, 64],
    "size needing 64 bits": lambda x: [x, x, x, 2**40, 64],
    "another dtype": lambda x: [x.half(), x, x, 64, 64],
    "not a tensor": lambda x: [[0.0] * 64, x, x, 64, 64],
    "a numpy array": lambda x: [x.numpy(), x, x, 64, 64],
    "data_ptr raises": lambda x: [x.as_subclass(_RaisingPointer), x, x, 64, 64],
}


@pytest.mark.parametrize("values", sorted(_DECLINED))
def test_a_prepared_launch_declines_arguments_of_another_specialization(values):
    x = torch.zeros(64)
    calls = []
    # Compiled for: values[0] and values[1] aligned, values[2] misaligned only in the one
    # case that says so, values[3] a 32-bit int divisible by 16.
    third = x[1:] if values == "aligned where compiled misaligned" else x
    checks = ((0, _signature_of(x)), (1, _signature_of(x)), (2, _signature_of(third)), (3, _signature_of(64)))
    launch = _prepared(calls, checks)
    assert launch((1, 1, 1), [x, x, third, 64, 64]) and len(calls) == 1  # what it was compiled for
    assert not launch((1, 1, 1), _DECLINED[values](x)) and len(calls) == 1


def test_a_prepared_launch_takes_tensor_subclasses_as_triton_does():
    calls = []
    x = torch.zeros(64)
    weight = torch.nn.Parameter(torch.zeros(64))
    launch = _prepared(calls, ((0, _signature_of(x)), (1, _signature_of(x))))
    assert launch((1, 1, 1), [x, weight]) and calls[0][9:] == (x, weight)


def test_a_prepared_launch_runs_in_a_context_read_before():
    calls, read = [], []
    launch = DirectLaunch((), (), _Binary(calls), lambda: read.append("device") or 0, lambda dev: 1234, 0)
    assert launch.context() == (0, 1234) and read == ["device"]
    assert launch((1, 1, 1), [], (0, 999)) and calls[0][3] == 999 and read == ["device"]  # nothing read again
    assert not launch((1, 1, 1), [], (1, 999)) and len(calls) == 1  # a context of another device


def test_a_prepared_launch_declines_on_another_device():
    calls = []
    assert not _prepared(calls, (), device=1)((1, 1, 1), []) and not calls


def _launched_with_hook(chain):
    """The binary's call of a prepared launch made while a hook is in ``chain``."""
    calls = []
    launch = _prepared(calls, ())
    hook = lambda metadata: None
    chain.add(hook)
    try:
        assert launch((2, 1, 1), [])
    finally:
        chain.remove(hook)
    (call,) = calls
    return call


def test_a_prepared_launch_calls_a_set_launch_hook():
    call = _launched_with_hook(knobs.runtime.launch_enter_hook)
    assert call[6] == ("metadata", (2, 1, 1), 1234) and call[7] is knobs.runtime.launch_enter_hook
    assert call[8] is None  # the exit chain is empty: no hook to call


def test_an_exit_hook_alone_gets_the_launch_metadata_as_with_triton():
    # Triton's run builds the metadata whenever a hook is set; an exit hook (a profiler's
    # end of a range) reads it too.
    call = _launched_with_hook(knobs.runtime.launch_exit_hook)
    assert call[6] == ("metadata", (2, 1, 1), 1234)
    assert call[7] is None and call[8] is knobs.runtime.launch_exit_hook


# --- the prepared launch calls Triton's C launch function where that is the same launch -------


def _cuda_launcher(calls, global_scratch=0, profile_scratch=0):
    """Triton's own CudaLauncher class, its C function replaced by a recorder (__init__ would build it for a GPU)."""
    from triton.backends.nvidia.driver import CudaLauncher

    launcher = object.__new__(CudaLauncher)
    launcher.launch = lambda *args: calls.append(args)
    launcher.global_scratch_size, launcher.profile_scratch_size = global_scratch, profile_scratch
    launcher.launch_cooperative_grid, launcher.launch_pdl = False, True
    return launcher


@pytest.mark.parametrize(
    ("version", "scratch", "direct"),
    [("3.6.0", (0, 0), True), ("3.6.1+git1234", (0, 0), True), ("3.9.0", (0, 0), False),
     ("3.6.0", (256, 0), False), ("3.6.0", (0, 64), False), ("local", (0, 0), False)],
)
def test_the_c_launch_is_used_only_for_a_checked_layout_and_no_scratch(version, scratch, direct):
    from tritonhost.compat.direct_launch import c_launch_of

    launcher = _cuda_launcher([], *scratch)
    assert (c_launch_of(launcher, version) is launcher.launch) is direct
    assert c_launch_of(lambda *args: None, "3.6.0") is None  # not Triton's CUDA launcher


def test_a_prepared_launch_gives_the_c_launch_what_the_cuda_launcher_would(monkeypatch):
    import triton

    from tritonhost.compat import direct_launch

    # Triton 3.6's CudaLauncher.__call__(g0, g1, g2, stream, function, *args) calls
    # launch(g0, g1, g2, stream, function, cooperative, pdl, global_scratch, profile_scratch, *args).
    monkeypatch.setattr(direct_launch, "C_LAUNCH_VERSIONS", (tuple(int(p) for p in triton.__version__.split(".")[:2]),))
    calls = []
    binary = _Binary([])
    binary.run = _cuda_launcher(calls)
    x = torch.zeros(64)
    launch = DirectLaunch(((0, _signature_of(x)),), (), binary, lambda: 0, lambda dev: 1234, 0)
    assert launch((4, 2, 1), [x, x, x, 64, 64])
    (call,) = calls
    assert call[:13] == (4, 2, 1, 1234, "function", False, True, None, None, "packed metadata", None, None, None)
    assert call[13:] == (x, x, x, 64, 64)
    assert not launch((4, 2, 1), [x[1:], x, x, 64, 64]) and len(calls) == 1
