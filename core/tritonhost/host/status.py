"""What the host knows of each installed backend: its origin, and its description or load error."""

from __future__ import annotations

import attrs

from tritonhost.contract import BackendInfo


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
    #: True when another plugin claims the same backend name; neither is used then.
    conflict: bool = False

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
