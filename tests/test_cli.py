"""The ``tritonhost`` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tritonhost


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("tritonhost")
    full_env = {key: value for key, value in os.environ.items() if key != "TRITONHOST_BACKEND"}
    full_env.update(env)
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=full_env, check=False)


def test_backends_table():
    result = _run("backends")
    assert result.returncode == 0, result.stderr
    header, rule, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "DISTRIBUTION", "VERSION", "DEVICES", "USABLE", "WHY", "NOT"]
    assert set(rule) <= {"-", " "}
    names = [row.split()[1] if row.startswith("*") else row.split()[0] for row in rows if row.strip()][:3]
    assert names == ["cuda", "rocm", "interpreter"]
    selected = next(row for row in rows if row.startswith("*"))
    assert tritonhost.current_backend() in selected
    assert f"selected: {tritonhost.current_backend()} (TRITONHOST_BACKEND=auto)" in result.stdout


def test_backends_with_an_unknown_selection_still_lists():
    result = _run("backends", TRITONHOST_BACKEND="nonsense")
    assert result.returncode == 0
    assert "interpreter" in result.stdout
    assert "selected: none. TRITONHOST_BACKEND='nonsense' names no installed backend" in result.stdout


def test_backends_with_no_plugin():
    result = _run("backends", TRITONHOST_DISABLE_PLUGINS="*")
    assert result.returncode == 1
    assert "no tritonhost backend is installed" in result.stdout


def test_version_and_usage():
    assert _run("--version").stdout.strip() == f"tritonhost {tritonhost.__version__}"
    result = _run()
    assert result.returncode == 2 and "backends" in result.stderr
