"""Checking that a launch's tensors live where the selected backend can reach them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from tritonhost.errors import DeviceMismatchError


def tensors_of(params: Mapping[str, Any]) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor a launch passes, with the parameter that carries it (tuples and descriptors too)."""
    for name, value in params.items():
        yield from _tensors_in(name, value)


def _tensors_in(name: str, value: Any) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _tensors_in(f"{name}[{i}]", item)
    elif isinstance(getattr(value, "base", None), torch.Tensor):  # a host-side tensor descriptor
        yield f"{name}.base", value.base


def check_devices(params: Mapping[str, Any], device_types: tuple[str, ...], backend: str) -> None:
    """Raise :class:`DeviceMismatchError` naming the first tensor not on one of ``device_types``."""
    for name, tensor in tensors_of(params):
        if tensor.device.type not in device_types:
            wanted = " or ".join(device_types)
            raise DeviceMismatchError(
                f"argument {name!r} is a tensor on {tensor.device}, but backend {backend!r} runs kernels on "
                f"{wanted} tensors. Move it with .to({device_types[0]!r}), or select a backend for "
                f"{tensor.device.type} tensors with TRITONHOST_BACKEND."
            )
