"""Autotuning on the interpreter skips configs that cannot compile, as on a GPU, and says so when none can."""

from __future__ import annotations

import pytest
import torch
import triton

import autotune_kernels as k
import tritonhost
from tritonhost.host import discovery


@pytest.fixture(params=["first config", "timed"])
def tuning(request, monkeypatch, interpreter):
    """The interpreter taking the first usable config, or timing them (TRITONHOST_INTERPRETER_BENCHMARK=1)."""
    if request.param == "timed":
        monkeypatch.setenv("TRITONHOST_INTERPRETER_BENCHMARK", "1")
        discovery.reset()
    with tritonhost.use_backend("interpreter") as backend:
        yield backend
    discovery.reset()


def _grid(meta):
    return (triton.cdiv(40, meta["BLOCK"]),)


def test_a_config_failing_a_static_assert_is_skipped(tuning):
    x = torch.arange(40.0)
    out = torch.zeros(40)
    tritonhost.wrap(k.scale_wide_blocks)[_grid](x, out, 40)
    torch.testing.assert_close(out, x * 3, rtol=0, atol=0)
    (chooser,) = tritonhost.wrap(k.scale_wide_blocks).runner().choosers.values()
    (chosen,) = chooser.cache.values()
    assert chosen.kwargs["BLOCK"] >= 16


def test_no_config_that_runs_is_one_error_listing_each(tuning):
    x = torch.arange(40.0)
    with pytest.raises(tritonhost.AutotuneError) as raised:
        tritonhost.wrap(k.scale_impossible)[_grid](x, torch.zeros(40), 40)
    message = str(raised.value)
    assert "none of its 3 autotune configs can run" in message
    for block in (8, 16, 32):
        assert f"BLOCK={block}" in message
    assert message.count("BLOCK must exceed 64") == 3
