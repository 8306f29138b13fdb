"""Kernel arguments written on a command line: ``x_ptr=f32[1024]``, ``n=1024``, ``desc=f32[64,64]@[32,32]``."""

from __future__ import annotations

import re
from typing import Any

import torch
from triton.tools.tensor_descriptor import TensorDescriptor

DTYPES = {
    "f64": torch.float64, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
    "i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8, "u8": torch.uint8,
    "bool": torch.bool, "i1": torch.bool, "f8e4m3": torch.float8_e4m3fn, "f8e5m2": torch.float8_e5m2,
}
_TENSOR = re.compile(r"^(?P<dtype>\w+)\[(?P<shape>[\d,x ]*)\](?:@\[(?P<block>[\d,x ]+)\])?$")


def _shape(text: str) -> list[int]:
    return [int(part) for part in re.split(r"[,x ]+", text.strip()) if part]


def parse_value(text: str) -> Any:
    """A scalar or tensor argument. Tensors are meta tensors: the analysis reads only their dtype."""
    text = text.strip()
    match = _TENSOR.match(text)
    if match:
        dtype = DTYPES.get(match["dtype"])
        if dtype is None:
            raise ValueError(f"unknown dtype {match['dtype']!r} in {text!r}; one of {', '.join(DTYPES)}")
        shape = _shape(match["shape"])
        tensor = torch.empty(shape, dtype=dtype, device="meta")
        if match["block"] is None:
            return tensor
        block = _shape(match["block"])
        if len(block) != len(shape):
            raise ValueError(f"block shape {block} must have one size per dimension of {shape}")
        strides = [int(s) for s in tensor.stride()]
        return TensorDescriptor(tensor, shape, strides, block)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    raise ValueError(
        f"cannot read argument value {text!r}: write a tensor as DTYPE[SHAPE] (f32[1024], f16[64,64]), "
        "a descriptor as DTYPE[SHAPE]@[BLOCK], or an int, float, true, false or none"
    )


def parse_assignment(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), parse_value(value)
