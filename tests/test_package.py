"""Importing tritonhost changes nothing around it: no environment variable, no log output unasked."""

from __future__ import annotations

import subprocess
import sys


def test_import_leaves_the_environment_and_logging_alone():
    check = """
import logging, os
before = dict(os.environ)
import tritonhost
from tritonhost.analysis import analyze  # the analysis' front end too
assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("tritonhost").handlers)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
