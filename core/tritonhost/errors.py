"""The exceptions tritonhost raises.

Every error is a :class:`TritonhostError`, so a caller can catch the project's
failures apart from the kernel's own. Messages say what was wrong and what to do.
"""

from __future__ import annotations


class TritonhostError(Exception):
    """Base class of every error tritonhost raises on purpose."""


class BackendError(TritonhostError):
    """A backend cannot be found, loaded or used."""


class NoBackendError(BackendError):
    """No backend plugin is installed, or none that is usable here."""


class UnknownBackendError(BackendError):
    """``TRITONHOST_BACKEND`` (or an explicit selection) names no installed backend."""


class BackendUnusableError(BackendError):
    """The backend is installed but cannot run here (a GPU backend without a GPU)."""


class PluginLoadError(BackendError):
    """A plugin's entry point failed to import or to describe itself."""


class BackendHookMissingError(BackendError):
    """The selected backend does not implement a hook the call needs."""


class KernelArgumentError(TritonhostError, TypeError):
    """A kernel launch got arguments that do not match the kernel's parameters."""


class GridError(TritonhostError, ValueError):
    """A launch grid is not 1 to 3 non-negative integers."""


class DeviceMismatchError(TritonhostError, ValueError):
    """A tensor lives on a device the selected backend cannot reach."""


class UnsupportedFeatureError(TritonhostError):
    """The installed Triton, torch or backend lacks a feature the call asks for (or gets it wrong)."""


class NotAKernelError(TritonhostError, TypeError):
    """Something that is not a Triton kernel was given where one is needed."""


class AliasingError(TritonhostError, RuntimeError):
    """A traced launch writes a tensor that another argument views differently."""


class AnalysisError(TritonhostError):
    """The kernel analysis could not run at all (no backend generates TTIR for the target)."""


class CompileTargetError(TritonhostError):
    """No installed backend compiles for the target asked (``tritonhost compile --target``, ``compile_for``)."""


class OutOfBoundsError(TritonhostError, IndexError):
    """A kernel accessed memory outside every tensor it was given (found by a checking backend)."""


class CompileOptionError(TritonhostError, ValueError):
    """``torch.compile(backend="tritonhost")`` was given a mode or option it does not understand."""


class AutotuneError(TritonhostError, RuntimeError):
    """No config of an autotuned kernel can run: each failed, for the reason the message lists."""


class LongLaunchWarning(UserWarning):
    """A launch will take long where it runs (a large grid on the CPU interpreter)."""
