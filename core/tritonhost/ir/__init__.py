"""The compiler's intermediate representation: layouts, buffers, TMA descriptors, kernels, programs."""

from tritonhost.ir.buffers import Buffer, ComputedBuffer, FallbackOutput, InputBuffer, MutationOutput
from tritonhost.ir.layout import FixedLayout, FlexibleLayout, MutationLayout, NonOwningLayout
from tritonhost.ir.nodes import Allocate, FallbackKernel, UserDefinedTritonKernel
from tritonhost.ir.program import ConstantInput, Program, SymbolInput
from tritonhost.ir.tma import TMADescriptor

__all__ = [
    "Allocate",
    "Buffer",
    "ComputedBuffer",
    "ConstantInput",
    "FallbackKernel",
    "FallbackOutput",
    "FixedLayout",
    "FlexibleLayout",
    "InputBuffer",
    "MutationLayout",
    "MutationOutput",
    "NonOwningLayout",
    "Program",
    "SymbolInput",
    "TMADescriptor",
    "UserDefinedTritonKernel",
]
