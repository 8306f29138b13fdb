"""The value types of the backend contract: what the hooks of :mod:`tritonhost.hookspecs` take and return.

This module and :mod:`tritonhost.errors` and :mod:`tritonhost.markers` are the
ground floor of tritonhost: they import no other tritonhost module, and every
other layer, the backend plugins included, may import them. Behaviour (selecting
a backend, tracing, launching) lives in the layers above.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

import attrs
import torch

#: A launch grid after normalization: three program counts, padded with 1s.
Grid3 = tuple[int, int, int]


@attrs.frozen
class BackendInfo:
    """A backend's description of itself, returned by ``tritonhost_describe_backend``.

    ``usable`` says whether kernels can run on this machine now; when it is False,
    ``reason`` says why in a sentence a user can act on.
    """

    name: str
    device_types: tuple[str, ...]
    usable: bool
    reason: str = ""
    #: Launch keyword arguments this backend understands besides the kernel's own
    #: parameters (``num_warps``...). Options of every Triton backend are always
    #: accepted; a plugin lists only the ones Triton does not know.
    launch_options: frozenset[str] = frozenset()
    #: Whether the autotuner should time configs on this backend. When False it
    #: takes the first config left after pruning, as timing would mean nothing.
    times_kernels: bool = True


class Launcher(Protocol):
    """Runs one kernel: ``launcher(grid, params, options)``.

    ``grid`` is three ints; ``params`` binds every kernel parameter by name
    (constexprs included); ``options`` holds launch options such as ``num_warps``.
    Made once per kernel by a backend's ``tritonhost_make_launcher`` hook and
    called on every launch, so it should do as little as it can.

    A launcher may also have ``prepare(params, options, varying) -> PreparedLaunch | None``:
    the generated wrapper of a compiled program calls one launch site with the same
    kinds of arguments every time, and asks for it once, on its first launch, to skip
    per-call work.

    It may also have ``compile_ahead(calls) -> None``, with ``calls`` a sequence of
    ``(params, options)`` as a launch would pass them: compile every one of their
    binaries, at once where it can, and launch none. The autotuner asks this before it
    times a kernel's configs, one call per config. It must not raise for a config that
    does not compile: that config's own launch raises, and the autotuner rules it out.
    """

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None: ...


class PreparedLaunch(Protocol):
    """A launch made ready for arguments like ``params`` (see :class:`Launcher`'s ``prepare``).

    ``prepared(grid, values)`` takes every parameter's value in signature order,
    launches and returns True, or returns False without launching when the
    values need another specialization (then call the launcher itself).

    It may also have ``context() -> object``: what each launch reads of the process's
    state (for a GPU, the current device and its current stream). The generated wrapper
    of a compiled program calls it once before its first prepared launch, and again after
    any operation that is not a launch, and passes what it returned to every prepared
    launch of the same backend in between: ``prepared(grid, values, context)``, which
    launches in that context, or declines when its binary is not for it. Without
    ``context`` each launch reads the state itself, and is called with two arguments.
    """

    def __call__(self, grid: Grid3, values: Sequence[Any]) -> bool: ...


@attrs.frozen
class Specialization:
    """A kernel's parameter types and constexpr values for one analysis.

    Returned by ``tritonhost_specialize_args`` and handed to
    ``tritonhost_generate_ttir``. It specializes no runtime value (no
    divisibility, no equal-to-1 folding), so TTIR generated from it holds for
    every launch with the same types.
    """

    #: ``(parameter, Triton type)`` for every parameter, in order; constexprs typed "constexpr".
    #: A tuple argument's type is the tuple of its elements' types (``("*fp32", "i32")``).
    signature: tuple[tuple[str, Any], ...]
    #: ``(parameter index, value)`` of every constexpr parameter; a constexpr inside a tuple
    #: argument has the path of indices to it instead (``((0, 1), None)``).
    constexprs: tuple[tuple[int | tuple[int, ...], Any], ...]

    def signature_dict(self) -> dict[str, Any]:
        return dict(self.signature)

    def constexpr_dict(self) -> dict[tuple[int, ...], Any]:
        return {(index,) if isinstance(index, int) else tuple(index): value for index, value in self.constexprs}

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable key: the types and the constexpr values."""
        return (self.signature, tuple((i, _hashable(v)) for i, v in self.constexprs))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _ints(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _optional_ints(values: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if values is None else _ints(values)


def _positive(instance: object, attribute: attrs.Attribute, value: tuple[int, ...] | None) -> None:
    if value is not None and (not value or any(int(v) <= 0 for v in value)):
        raise ValueError(f"{attribute.name} must be a non-empty tuple of positive ints, got {value!r}")


@attrs.frozen
class TMADescriptorSpec:
    """How to turn a tensor into a TMA descriptor argument (``tritonhost_make_tma_descriptor``).

    ``api="stable"`` makes a ``triton.tools.tensor_descriptor.TensorDescriptor``
    over the tensor's own shape and strides with ``block_shape``.
    ``api="experimental"`` uses Triton's older 1-D/2-D host descriptors, which
    also need the global ``dims`` (outermost first) and the ``element_size``;
    only Triton releases that still ship ``triton.tools.experimental_descriptor``
    have them.
    """

    api: Literal["stable", "experimental"]
    block_shape: tuple[int, ...] = attrs.field(converter=_ints, validator=_positive)
    dims: tuple[int, ...] | None = attrs.field(default=None, converter=_optional_ints, validator=_positive)
    element_size: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.api not in ("stable", "experimental"):
            raise ValueError(f"api must be 'stable' or 'experimental', got {self.api!r}")
        if self.api == "experimental":
            if self.dims is None or self.element_size is None:
                raise ValueError("an experimental TMA descriptor needs dims and element_size")
            if len(self.dims) not in (1, 2) or len(self.block_shape) != len(self.dims):
                raise ValueError("experimental TMA descriptors are 1-D or 2-D, with one block dim per dim")


def spec_for(tensor: torch.Tensor, api: str, block_shape: Iterable[int]) -> TMADescriptorSpec:
    """The spec of a descriptor over the whole of ``tensor`` (dims and element size read off it)."""
    if api == "experimental":
        return TMADescriptorSpec("experimental", block_shape, dims=tensor.shape, element_size=tensor.element_size())
    return TMADescriptorSpec(api, block_shape)  # type: ignore[arg-type]


@attrs.frozen
class ResourceUsage:
    """What one compiled kernel takes of a device, read from its code object without running it.

    A field is None where the backend cannot say for that target. Register and
    memory figures are per thread (CUDA) or per lane (AMD) unless named otherwise.
    """

    #: Vector registers per thread (NVIDIA registers, AMD VGPRs plus AGPRs).
    registers: int | None
    #: Registers spilled to memory: AMD's spilled SGPRs and VGPRs. None where the
    #: toolchain reports bytes of local memory instead (see ``scratch_bytes``).
    spills: int | None
    #: Per-thread local (CUDA) or private/scratch (AMD) memory in bytes: where spills go.
    scratch_bytes: int | None
    #: Shared memory (CUDA) or LDS (AMD) per block, in bytes, static and dynamic.
    shared_bytes: int
    num_warps: int
    #: Threads per warp (wave): 32, or 64 on AMD's CDNA targets.
    warp_size: int
    #: Resident warps (waves) at once, in :attr:`occupancy_unit`; None where unknown.
    occupancy: int | None = None
    #: What :attr:`occupancy` counts ("warps per SM", "waves per SIMD").
    occupancy_unit: str = ""
    #: Vendor details under their vendor's names (``sgprs``, ``stack_bytes``...).
    details: tuple[tuple[str, int], ...] = ()


@attrs.frozen
class CodeObject:
    """A kernel compiled for one target, returned by ``tritonhost_compile``.

    ``binary`` is what the target's driver loads (a cubin, an hsaco); ``stages``
    holds each intermediate form as text, by the names of Triton's pipeline
    (``ttir``, ``ttgir``, ``llir``, and ``asm`` for PTX or AMDGCN).
    """

    #: The kernel's symbol in the binary.
    name: str
    #: The target, as ``tritonhost compile --target`` takes it (``cuda:90``, ``hip:gfx942``).
    target: str
    #: The binary's kind and usual file suffix: ``cubin``, ``hsaco``.
    binary_kind: str
    binary: bytes = attrs.field(repr=lambda value: f"<{len(value)} bytes>")
    stages: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    resources: ResourceUsage
    #: The compile options as the backend took them (``num_warps``, ``waves_per_eu``...).
    options: tuple[tuple[str, Any], ...] = ()
    #: The autotune config this object was compiled with, readably; "" for none.
    config: str = ""

    def stage(self, name: str) -> str:
        """One intermediate form by name; ``KeyError`` names the ones there are."""
        for key, text in self.stages:
            if key == name:
                return text
        raise KeyError(f"no stage {name!r}; this code object has {', '.join(k for k, _ in self.stages)}")
