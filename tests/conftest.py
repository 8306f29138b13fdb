"""Shared test set-up: ``gpu`` tests skip unless the cuda backend can run here."""

from __future__ import annotations

import pytest

import tritonhost


def _cuda_usable() -> bool:
    return any(status.name == "cuda" and status.usable for status in tritonhost.backends())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_usable():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU: the cuda backend is not usable here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def interpreter():
    """Run the test's launches on the interpreter backend, whatever TRITONHOST_BACKEND says."""
    with tritonhost.use_backend("interpreter") as backend:
        yield backend
