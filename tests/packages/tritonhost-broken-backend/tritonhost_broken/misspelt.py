"""A backend that misspells a hook name, which the host must not silently ignore."""

from typing import Any

from tritonhost.plugin_api import BackendInfo, hookimpl


@hookimpl
def tritonhost_describe_backend() -> BackendInfo:
    return BackendInfo(name="misspelt", device_types=("cpu",), usable=True)


@hookimpl
def tritonhost_make_launcer(backend: str, kernel: Any) -> None:
    return None
