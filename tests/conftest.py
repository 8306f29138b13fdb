"""Shared test set-up: ``gpu`` tests skip unless the cuda backend can run here."""

from __future__ import annotations

from importlib import metadata

import pytest

import tritonhost
from tritonhost.host import discovery


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


@pytest.fixture
def extra_entry_points(monkeypatch):
    """Discovery sees the installed entry points and the ones a test adds."""
    installed = list(metadata.entry_points(group=discovery.ENTRY_POINT_GROUP))
    added: list[metadata.EntryPoint] = []

    def entry_points(group: str) -> list[metadata.EntryPoint]:
        assert group == discovery.ENTRY_POINT_GROUP
        return installed + added

    monkeypatch.setattr(discovery.metadata, "entry_points", entry_points)
    discovery.reset()

    def add(name: str, value: str) -> None:
        added.append(metadata.EntryPoint(name=name, value=value, group=discovery.ENTRY_POINT_GROUP))
        discovery.reset()

    yield add
    monkeypatch.undo()
    discovery.reset()


@pytest.fixture(autouse=True)
def private_tuning_cache(tmp_path, monkeypatch):
    """Each test tunes into a cache folder of its own, never the user's."""
    monkeypatch.setenv("TRITONHOST_CACHE_DIR", str(tmp_path / "tritonhost-cache"))
