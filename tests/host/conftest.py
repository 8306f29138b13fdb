"""Fixtures that build and install the third-party backend packages in tests/packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tritonhost.host import discovery

PACKAGES = Path(__file__).resolve().parent.parent / "packages"


@pytest.fixture(scope="session")
def third_party_site(tmp_path_factory) -> Path:
    """A site directory holding tritonhost-example-backend and tritonhost-broken-backend, built with pip."""
    site = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("src")
    for package in ("tritonhost-example-backend", "tritonhost-broken-backend"):
        # Build from a copy, so parallel test workers never share a build folder.
        source = shutil.copytree(PACKAGES / package, sources / package)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--target", str(site), str(source)],
            check=True,
        )
    return site


@pytest.fixture
def third_party(third_party_site, monkeypatch) -> Path:
    """The third-party packages importable and discoverable for the duration of one test."""
    monkeypatch.syspath_prepend(str(third_party_site))
    discovery.reset()
    yield third_party_site
    monkeypatch.undo()
    discovery.reset()


@pytest.fixture
def fresh_discovery():
    """Discovery run again before and after the test, for tests that change the environment."""
    discovery.reset()
    yield
    discovery.reset()
