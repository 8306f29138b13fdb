"""What a backend plugin may import from tritonhost: this module, and nothing else.

A vendor's backend package imports its tritonhost names from here; the modules
behind them may move between releases, this list does not (see
docs/writing-a-backend.md). The bundled plugins (cuda, rocm, interpreter) keep
to it too, and a test checks that they do.

It holds the contract (the hook marker, the hooks' value types and errors),
the plugin base classes, and the helpers a backend built on Triton needs:
Triton's front end for TTIR, its descriptor APIs, its own GPU launcher, and the
device check that names a misplaced tensor. It sits just above the kernel and
compat layers: it depends on no host, analysis, tracing or compiler code
(tests/test_layers.py checks it).
"""

from __future__ import annotations

from triton.backends.compiler import GPUTarget

from tritonhost.compat.descriptors import experimental_descriptor, stable_descriptor
from tritonhost.compat.frontend import language_lock, make_ttir, parse_target
from tritonhost.contract import (
    BackendInfo,
    CodeObject,
    Grid3,
    Launcher,
    PreparedLaunch,
    ResourceUsage,
    Specialization,
    TMADescriptorSpec,
)
from tritonhost.errors import (
    DeviceMismatchError,
    LongLaunchWarning,
    OutOfBoundsError,
    TritonhostError,
    UnsupportedFeatureError,
)
from tritonhost.kernel.devices import check_devices, tensors_of
from tritonhost.kernel.global_values import globals_key
from tritonhost.kernel.identity import IdentityCache
from tritonhost.kernel.launcher import TritonRuntimeLauncher
from tritonhost.markers import hookimpl
from tritonhost.plugin_base import BackendPlugin, TritonDriverBackend

__all__ = [
    "BackendInfo",
    "BackendPlugin",
    "CodeObject",
    "DeviceMismatchError",
    "GPUTarget",
    "Grid3",
    "IdentityCache",
    "Launcher",
    "LongLaunchWarning",
    "OutOfBoundsError",
    "PreparedLaunch",
    "ResourceUsage",
    "Specialization",
    "TMADescriptorSpec",
    "TritonDriverBackend",
    "TritonRuntimeLauncher",
    "TritonhostError",
    "UnsupportedFeatureError",
    "check_devices",
    "experimental_descriptor",
    "globals_key",
    "hookimpl",
    "language_lock",
    "make_ttir",
    "parse_target",
    "stable_descriptor",
    "tensors_of",
]
