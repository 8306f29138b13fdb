"""``tritonhost.make_tma_descriptor``: a TMA descriptor over a tensor, made by the selected backend or traced."""

from __future__ import annotations

from typing import Literal

import torch

from tritonhost.contract import spec_for
from tritonhost.host.selection import select
from tritonhost.tracing.capture import TracedTMADescriptor, is_tracing


def make_tma_descriptor(
    tensor: torch.Tensor, block_shape: tuple[int, ...] | list[int], *, api: Literal["stable", "experimental"] = "stable"
) -> object:
    """A TMA descriptor over ``tensor`` for the selected backend, to pass as a kernel argument.

    With the default stable API this is Triton's ``TensorDescriptor`` over the
    whole tensor; ``api="experimental"`` asks for Triton's older descriptors.
    Inside ``make_fx``, ``torch.export`` or ``torch.compile`` it returns a
    :class:`TracedTMADescriptor`, which a launch accepts in the descriptor's place.
    """
    if torch.compiler.is_compiling() or is_tracing():
        return TracedTMADescriptor(tensor, api, tuple(int(b) for b in block_shape))
    return select().make_tma_descriptor(tensor, spec_for(tensor, api, block_shape))
