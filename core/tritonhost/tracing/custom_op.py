"""``tritonhost.op``: a kernel-backed function as a PyTorch operator, to give it an autograd formula.

The decorated function allocates its outputs and launches kernels through
``tritonhost.wrap``; it becomes a ``torch.library.custom_op``, so
``register_autograd`` gives it a backward and a module built on it trains. The
same function serves as its fake implementation: under FakeTensor mode its
launches are recorded, not run, and its allocations give the outputs' shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


def op(name: str, *, mutates_args: str | Iterable[str] = (), schema: str | None = None) -> Callable[[Any], Any]:
    """Make a kernel-backed function a PyTorch operator named ``name`` (``"namespace::op_name"``).

    The result is a ``torch.library.CustomOpDef``: call it like the function, and
    give it a backward with ``.register_autograd(backward, setup_context=...)``.
    ``mutates_args`` names the arguments the function writes in place, as
    ``torch.library.custom_op`` requires.
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        custom = torch.library.custom_op(name, mutates_args=mutates_args, schema=schema)(fn)
        custom.register_fake(fn)
        return custom

    return decorate
