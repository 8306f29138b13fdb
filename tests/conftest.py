"""Shared test set-up: ``gpu`` tests skip unless the cuda backend can run here, ``rocm`` tests unless rocm can."""

from __future__ import annotations

import zlib
from importlib import metadata

import pytest
import torch

import tritonhost
from tritonhost.host import discovery

#: Marker -> (the backend it needs, why the test skips without it).
_NEEDS = {
    "gpu": ("cuda", "needs an NVIDIA GPU: the cuda backend is not usable here"),
    "rocm": ("rocm", "needs an AMD GPU: the rocm backend is not usable here (none has been in reach of this project)"),
}


def _usable(name: str) -> bool:
    return any(status.name == name and status.usable for status in tritonhost.backends())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, (backend, reason) in _NEEDS.items():
        marked = [item for item in items if item.get_closest_marker(marker) is not None]
        if marked and not _usable(backend):
            for item in marked:
                item.add_marker(pytest.mark.skip(reason=reason))


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


@pytest.fixture(autouse=True)
def seeded(request):
    """Each test draws the same random inputs on every run and every xdist worker.

    The seed comes from the test's id, so tests still differ from one another, and a failure
    on one set of inputs is a failure every time rather than one CI run in a hundred.
    """
    torch.manual_seed(zlib.crc32(request.node.nodeid.encode()))
