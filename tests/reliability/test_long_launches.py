"""A large grid on the interpreter is announced, and a slow launch shows its progress."""

from __future__ import annotations

import warnings

import pytest
import torch

import tritonhost
from kernels import add_kernel
from tritonhost_interpreter import progress


def test_a_large_grid_is_announced_before_it_runs(interpreter, monkeypatch):
    monkeypatch.setattr(progress, "WARN_PROGRAMS", 8)
    monkeypatch.setattr(progress, "WARN_PROGRAMS_BATCHED", 8)  # the threshold when programs run as batches
    x, y = torch.randn(64), torch.randn(64)
    out = torch.empty(64)
    with pytest.warns(tritonhost.LongLaunchWarning, match=r"kernel add_kernel launches 16 programs \(grid \(16, 1, 1\)\)"):
        tritonhost.wrap(add_kernel)[(16,)](x, y, out, 64, BLOCK=4)
    torch.testing.assert_close(out, x + y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", tritonhost.LongLaunchWarning)
        tritonhost.wrap(add_kernel)[(8,)](x, y, out, 64, BLOCK=8)  # at the threshold: no warning


def test_a_slow_launch_shows_a_progress_bar(interpreter, monkeypatch, capsys):
    monkeypatch.setattr(progress, "PROGRESS_AFTER_S", 0.0)
    x, y = torch.randn(512), torch.randn(512)
    out = torch.empty(512)
    tritonhost.wrap(add_kernel)[(128,)](x, y, out, 512, BLOCK=4)
    torch.testing.assert_close(out, x + y)
    shown = capsys.readouterr().err
    assert "add_kernel (interpreter)" in shown and "/128" in shown
