"""What a backend says of itself, and what the host knows of each installed one."""

from __future__ import annotations

import attrs


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


@attrs.frozen
class BackendStatus:
    """One discovered backend as :func:`tritonhost.backends` reports it.

    ``info`` is None when the plugin could not be loaded or described; ``error``
    then holds the message that names the distribution, the entry point and the
    original exception.
    """

    name: str
    distribution: str
    version: str
    entry_point: str
    info: BackendInfo | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.info is not None and self.info.usable

    @property
    def reason(self) -> str:
        if self.error is not None:
            return self.error
        assert self.info is not None
        return self.info.reason

    @property
    def device_types(self) -> tuple[str, ...]:
        return self.info.device_types if self.info is not None else ()
