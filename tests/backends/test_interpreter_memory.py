"""The batched interpreter's loads and stores as NumPy gathers and scatters (tritonhost_interpreter.memory).

Each access either runs in NumPy with the result Triton's C++ helpers give, or is handed
back (None / False) to those helpers; these tests check both sides of each rule. Whole
kernels through both paths are compared in test_interpreter_batching.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tritonhost_interpreter.memory import ArgumentMemory, argument_spans


def _addresses(tensor: torch.Tensor, elements) -> np.ndarray:
    return (tensor.data_ptr() + np.asarray(elements, dtype=np.uint64) * tensor.element_size()).astype(np.uint64)


def test_a_load_inside_one_argument_gathers_with_the_fill_where_masked():
    x = torch.arange(10, dtype=torch.float32)
    memory = ArgumentMemory(argument_spans([("x", x)]))
    pointers = _addresses(x, [[0, 3, 9], [5, 5, 1]])
    active = np.array([[True, False, True], [True, True, True]])
    pointers[0, 1] = 12345  # a masked-off lane's address is never read
    got = memory.load(pointers, active, np.full((2, 3), -1, np.float32), np.dtype(np.float32))
    np.testing.assert_array_equal(got, [[0, -1, 9], [5, 5, 1]])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int8, torch.int64])
def test_each_element_size(dtype):
    x = torch.arange(8).to(dtype)
    numpy_type = np.dtype(np.uint16) if dtype == torch.bfloat16 else np.dtype(str(dtype).removeprefix("torch."))
    memory = ArgumentMemory(argument_spans([("x", x)]))
    got = memory.load(_addresses(x, [7, 0, 2]), np.ones(3, bool), np.zeros(3, numpy_type), numpy_type)
    np.testing.assert_array_equal(got, x.view(torch.int16 if dtype == torch.bfloat16 else dtype).numpy()[[7, 0, 2]])


def test_accesses_it_does_not_take_go_to_triton():
    x, y = torch.zeros(8), torch.zeros(8)
    memory = ArgumentMemory(argument_spans([("x", x), ("y", y)]))
    every = np.ones(2, bool)
    f32 = np.dtype(np.float32)
    # Across two arguments, outside every argument, one byte off the element grid, bool.
    assert memory.load(np.array([_addresses(x, [0])[0], _addresses(y, [0])[0]]), every, np.zeros(2, f32), f32) is None
    assert memory.load(_addresses(x, [8, 9]), every, np.zeros(2, f32), f32) is None
    assert memory.load(_addresses(x, [0, 1]) + np.uint64(1), every, np.zeros(2, f32), f32) is None
    assert memory.load(_addresses(x, [0, 1]), every, np.zeros(2, bool), np.dtype(bool)) is None
    assert memory.store(_addresses(x, [7, 8]), np.zeros(2, f32), every) is False


def test_a_store_of_distinct_addresses_scatters_the_active_lanes():
    out = torch.zeros(6)
    memory = ArgumentMemory(argument_spans([("out", out)]))
    pointers = _addresses(out, [[4, 0], [2, 5]])  # not in address order: checked distinct another way
    active = np.array([[True, True], [False, True]])
    assert memory.store(pointers, np.array([[1, 2], [3, 4]], np.float32), active)
    torch.testing.assert_close(out, torch.tensor([2.0, 0, 0, 0, 1, 4]))


@pytest.mark.parametrize("size", [4, 1000])  # the bitmap, and the sort for a large argument
def test_a_store_where_two_lanes_meet_goes_to_triton(size):
    out = torch.zeros(size)
    memory = ArgumentMemory(argument_spans([("out", out)]))
    assert memory.store(_addresses(out, [1, 3, 1]), np.ones(3, np.float32), np.ones(3, bool)) is False
    assert memory.store(_addresses(out, [1, 3, 1]), np.ones(3, np.float32), np.array([True, True, False]))
    assert out.sum().item() == 2


def test_a_view_reaches_only_its_own_elements():
    base = torch.arange(10, dtype=torch.float32)
    view = base[2:6]
    memory = ArgumentMemory(argument_spans([("view", view)]))
    f32 = np.dtype(np.float32)
    np.testing.assert_array_equal(memory.load(_addresses(view, [0, 3]), np.ones(2, bool), np.zeros(2, f32), f32), [2, 5])
    assert memory.load(_addresses(view, [4]), np.ones(1, bool), np.zeros(1, f32), f32) is None  # base[6]


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.arange(24, dtype=torch.float32),
        lambda: torch.arange(24, dtype=torch.float32).reshape(4, 6),
        lambda: torch.arange(24, dtype=torch.float32).reshape(4, 6)[:, 1:4],
        lambda: torch.arange(24, dtype=torch.float32).reshape(4, 6).t(),
        lambda: torch.arange(24, dtype=torch.float32).flip(0),
        lambda: torch.arange(24, dtype=torch.int16).reshape(2, 3, 4).permute(2, 0, 1),
    ],
    ids=["flat", "matrix", "columns", "transposed", "flipped", "permuted"],
)
def test_an_extent_spans_exactly_the_elements_of_the_view(make):
    # Extent.of takes a short cut for contiguous tensors; both ways must give the bytes the elements span.
    from tritonhost_interpreter.bounds import Extent

    tensor = make()
    extent = Extent.of("t", tensor)
    size = tensor.element_size()
    offsets = [sum(i * s for i, s in zip(index, tensor.stride())) for index in np.ndindex(*tensor.shape)]
    assert extent.low == tensor.data_ptr() + min(offsets) * size
    assert extent.high == tensor.data_ptr() + (max(offsets) + 1) * size
