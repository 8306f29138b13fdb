"""A wrapper's buffers allocated as Inductor's wrappers allocate them (compat/allocation.py)."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tritonhost.compat.allocation import _Allocate, allocator_for


class Seen(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def _check(tensor, size, stride, dtype, device):
    assert tensor.shape == size and tensor.stride() == stride and tensor.dtype == dtype and tensor.device == device


def test_cpu_buffers_skip_the_dispatcher_unless_a_mode_must_see_them():
    allocate = allocator_for(torch.device("cpu"))
    assert allocate is allocator_for(torch.device("cpu"))  # one per device: FX names it once
    assert allocate.__name__ == "empty_strided_cpu"
    _check(allocate((4, 6), (1, 4), torch.bfloat16), (4, 6), (1, 4), torch.bfloat16, torch.device("cpu"))
    with Seen() as seen:
        tensor = allocate((3, 5), (5, 1), torch.float32)
    _check(tensor, (3, 5), (5, 1), torch.float32, torch.device("cpu"))
    assert seen.ops == ["aten.empty_strided.default"]


def test_deterministic_mode_gets_its_filled_memory():
    allocate = allocator_for(torch.device("cpu"))
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        tensor = allocate((16,), (1,), torch.float32)
    finally:
        torch.use_deterministic_algorithms(before)
    assert torch.isnan(tensor).all()  # what torch.empty_strided gives there


def test_a_buffer_on_a_device_that_is_not_current_is_allocated_where_the_program_says():
    calls = []

    def fast(size, stride, dtype):
        calls.append(size)
        return torch.empty_strided(size, stride, dtype=dtype)

    current = [0]
    allocate = _Allocate(fast, torch.device("cpu", 0), lambda: current[0])  # an indexed device, as cuda:0
    allocate((2,), (1,), torch.float32)
    current[0] = 1
    tensor = allocate((3,), (1,), torch.float32)
    assert calls == [(2,)] and tensor.shape == (3,)


def test_devices_without_a_fast_function_use_empty_strided():
    assert allocator_for(torch.device("meta")) is None
    assert allocator_for(torch.device("cuda")) is None  # no index: the caller's current device decides


@pytest.mark.gpu
def test_gpu_buffers_are_allocated_on_their_device():
    allocate = allocator_for(torch.device("cuda", 0))
    assert allocate is not None and allocate.__name__ == "empty_strided_cuda_0"
    _check(allocate((8, 3), (1, 8), torch.float16), (8, 3), (1, 8), torch.float16, torch.device("cuda", 0))
    with Seen() as seen:
        allocate((4,), (1,), torch.float32)
    assert seen.ops == ["aten.empty_strided.default"]
