"""The launch keyword arguments the installed Triton's backends understand.

A launch may carry options that are not kernel parameters (``num_warps``,
``num_stages``, AMD's ``waves_per_eu``...). Code written for one vendor passes
them everywhere, so every option any of Triton's backends knows is accepted on
every backend (:func:`triton_launch_options`); a backend then passes on only
the ones its own compiler takes (:func:`backend_launch_options`) and drops the
others. The sets are read from the options dataclasses of the backends bundled
with the installed Triton, so they follow Triton's releases.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Collection, Mapping
from typing import Any

import triton.backends

# Triton's launch path reads these itself, outside any backend's options class.
_RUNTIME_OPTIONS = frozenset({"debug", "num_warps", "num_stages", "num_ctas", "maxnreg", "ir_override"})
# Fields that describe the target, not the launch: never passed by a user.
_NOT_OPTIONS = frozenset({"backend_name", "arch", "warp_size", "supported_fp8_dtypes",
                          "deprecated_fp8_dot_operand_dtypes", "allowed_dot_input_precisions"})


@functools.cache
def backend_launch_options(triton_backend: str) -> frozenset[str]:
    """The launch options of one of Triton's bundled backends (``"nvidia"``, ``"amd"``); empty if absent."""
    backend = triton.backends.backends.get(triton_backend)
    if backend is None:
        return frozenset()
    module = sys.modules.get(backend.compiler.__module__)
    names = set(_RUNTIME_OPTIONS)
    if module is not None:
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if name.endswith("Options") and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__:
                names.update(field.name for field in dataclasses.fields(cls))
    return frozenset(names - _NOT_OPTIONS)


@functools.cache
def triton_launch_options() -> frozenset[str]:
    """Every launch option of every backend bundled with the installed Triton."""
    names = set(_RUNTIME_OPTIONS)
    for key in triton.backends.backends:
        names.update(backend_launch_options(key))
    return frozenset(names)


def split_options(
    options: Mapping[str, Any], accepted: Collection[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` as ``(kept, dropped)``: those in ``accepted`` (all where it is None), and the rest.

    The rest are another vendor's (AMD's ``waves_per_eu`` on NVIDIA): meaningless to this
    compiler, so the caller drops them, and says so in a DEBUG line.
    """
    kept: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    for name, value in options.items():
        (kept if accepted is None or name in accepted else dropped)[name] = value
    return kept, dropped
