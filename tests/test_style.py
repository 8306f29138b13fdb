"""The code stays ruff- and mypy-clean, as the house style asks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "core/tritonhost",
    "core/tritonhost_pytest",
    "plugins/cuda/tritonhost_cuda",
    "plugins/rocm/tritonhost_rocm",
    "plugins/interpreter/tritonhost_interpreter",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff():
    pytest.importorskip("ruff", reason="ruff is installed by scripts/setup")
    result = _run("ruff", "check", "core", "plugins", "tests", "bench", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy():
    pytest.importorskip("mypy", reason="mypy is installed by scripts/setup")
    result = _run("mypy", *PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr
