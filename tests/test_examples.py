"""The README's quickstart runs and its kernels match PyTorch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_matches_pytorch_on_the_interpreter():
    env = {key: value for key, value in os.environ.items() if key != "TRITONHOST_BACKEND"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "running on backend 'interpreter'" in result.stdout
    assert result.stdout.count("  ok   ") == 4
    assert "launch_add_kernel(" in result.stdout  # the generated wrapper is shown
    assert "all kernels match PyTorch" in result.stdout
