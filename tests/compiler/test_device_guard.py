"""A compiled wrapper is entered on its tensors' device (codegen/device_guard.py).

On the CPU: which device a program's tensors name, and the switch and restore around a
call, with a stand-in for a second device (this machine has none). With two GPUs (``gpu``
tests, skipped on one): a compiled function runs on its inputs' GPU whatever device is
current, and the caller's device is current again after it.
"""

from __future__ import annotations

import pytest
import torch
import triton

import tritonhost
from kernels import add_kernel
from tritonhost.codegen.backend import capture_wrappers
from tritonhost.codegen.device_guard import device_of, guarded_for, on_device


def _add_twice(x, y):
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[(triton.cdiv(x.numel(), 1024),)](x, y, out, x.numel(), BLOCK=1024)
    again = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[(triton.cdiv(x.numel(), 1024),)](out, y, again, x.numel(), BLOCK=1024)
    return again


class _Devices:
    """Two devices' current index, as ``torch.cuda`` keeps it, with each switch recorded."""

    def __init__(self, current: int) -> None:
        self.current = current
        self.switches: list[int] = []

    def device_count(self) -> int:
        return 2

    def current_device(self) -> int:
        return self.current

    def set_device(self, device: int) -> None:
        self.switches.append(device)
        self.current = device


def test_a_call_switches_to_the_device_and_back():
    devices = _Devices(current=0)
    seen = []
    guarded = on_device(lambda args: seen.append(devices.current) or args[0], 1, devices)
    assert guarded([5]) == 5
    assert seen == [1] and devices.current == 0 and devices.switches == [1, 0]
    assert guarded._boxed_call  # AOTAutograd calls it with one list


def test_a_call_on_the_current_device_switches_nothing():
    devices = _Devices(current=1)
    on_device(lambda args: None, 1, devices)([])
    assert devices.switches == []


def test_a_failing_call_gives_the_callers_device_back():
    devices = _Devices(current=0)

    def fails(args):
        raise ValueError("the launch failed")

    with pytest.raises(ValueError, match="the launch failed"):
        on_device(fails, 1, devices)([])
    assert devices.current == 0


def test_a_program_on_the_cpu_names_no_gpu_and_is_not_guarded(interpreter):
    x, y = torch.randn(2048), torch.randn(2048)
    with capture_wrappers() as wrappers:
        torch.testing.assert_close(torch.compile(_add_twice, backend="tritonhost")(x, y), x + 2 * y)
    (wrapper,) = wrappers
    assert device_of(wrapper.program, "cuda") is None

    def run(args):
        return args

    assert guarded_for(run, wrapper.program, "cuda") is run


def _gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.gpu
@pytest.mark.skipif(_gpus() < 2, reason="needs two GPUs (nvidia-h100-x2); not run on one")
def test_a_compiled_function_runs_on_its_inputs_gpu():
    with tritonhost.use_backend("cuda"):
        compiled = torch.compile(_add_twice, backend="tritonhost")
        for device in ("cuda:1", "cuda:0", "cuda:1"):  # the same code object, compiled per device
            x, y = torch.randn(4096, device=device), torch.randn(4096, device=device)
            torch.cuda.set_device(0)
            torch.testing.assert_close(compiled(x, y), x + 2 * y)
            assert torch.cuda.current_device() == 0  # the caller's device, given back
        with torch.cuda.device(1):  # another device current, inputs on device 0
            x, y = torch.randn(4096, device="cuda:0"), torch.randn(4096, device="cuda:0")
            torch.testing.assert_close(compiled(x, y), x + 2 * y)
            assert torch.cuda.current_device() == 1
