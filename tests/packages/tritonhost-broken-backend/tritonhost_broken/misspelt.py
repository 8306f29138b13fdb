"""A backend that misspells a hook name, which the host must not silently ignore."""

from typing import Any

import tritonhost


@tritonhost.hookimpl
def tritonhost_describe_backend() -> tritonhost.BackendInfo:
    return tritonhost.BackendInfo(name="misspelt", device_types=("cpu",), usable=True)


@tritonhost.hookimpl
def tritonhost_make_launcer(backend: str, kernel: Any) -> None:
    return None
