"""A vendor's backend package, built and installed from tests/packages, found through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import triton

import tritonhost
from kernels import add_kernel, autotuned_scale_kernel


def _status(name):
    return next(s for s in tritonhost.backends() if s.name == name)


def _gpu_backend():
    """The GPU backend ``auto`` prefers to any third-party one, if this machine has one."""
    return next((s.name for s in tritonhost.backends() if s.name in ("cuda", "rocm") and s.usable), None)


def test_example_backend_is_discovered(third_party):
    status = _status("example")
    assert status.usable
    assert (status.distribution, status.version) == ("tritonhost-example-backend", "1.2.3")
    assert status.entry_point == "tritonhost.backends:example = tritonhost_example.plugin"
    assert status.device_types == ("cpu",)


def test_auto_prefers_a_third_party_backend_to_the_interpreter(third_party, monkeypatch):
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    assert tritonhost.current_backend() == (_gpu_backend() or "example")


def test_example_backend_selected_by_environment_runs_kernels(third_party, monkeypatch):
    from tritonhost_example.plugin import LAUNCHES

    monkeypatch.setenv("TRITONHOST_BACKEND", "example")
    assert tritonhost.current_backend() == "example"
    x, y = torch.randn(20), torch.randn(20)
    out = torch.empty_like(x)
    tritonhost.wrap(add_kernel)[(2,)](x, y, out, 20, BLOCK=16, example_tag="first")
    torch.testing.assert_close(out, x + y)
    assert LAUNCHES[-1] == ("add_kernel", (2, 1, 1), "first")

    # Autotuning times configs through the example's own benchmark hook.
    out2 = torch.empty_like(x)
    tritonhost.wrap(autotuned_scale_kernel)[lambda m: (triton.cdiv(20, m["BLOCK"]),)](x, out2, 2.0, 20)
    torch.testing.assert_close(out2, 2 * x)
    assert [launch[0] for launch in LAUNCHES].count("autotuned_scale_kernel") == 3 + 1


def test_vendor_option_passes_on_every_backend_while_its_plugin_is_installed(third_party):
    x, y = torch.randn(8), torch.randn(8)
    out = torch.empty_like(x)
    with tritonhost.use_backend("interpreter"):
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, 8, BLOCK=8, example_tag="ignored here")
        torch.testing.assert_close(out, x + y)
        with pytest.raises(tritonhost.KernelArgumentError, match="'exampel_tag'.*Did you mean 'example_tag'"):
            tritonhost.wrap(add_kernel)[(1,)](x, y, out, 8, BLOCK=8, exampel_tag="typo")


def test_unusable_third_party_backend(third_party, monkeypatch):
    monkeypatch.setenv("TRITONHOST_EXAMPLE_DEVICE_PRESENT", "0")
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    from tritonhost.host import discovery

    discovery.reset()
    assert not _status("example").usable
    assert tritonhost.current_backend() == (_gpu_backend() or "interpreter")
    monkeypatch.setenv("TRITONHOST_BACKEND", "example")
    with pytest.raises(tritonhost.BackendUnusableError, match="no example device is attached"):
        tritonhost.current_backend()


def test_plugin_that_fails_to_import_is_reported_and_others_still_load(third_party, monkeypatch):
    status = _status("broken")
    assert not status.usable and status.info is None
    for part in (
        "tritonhost-broken-backend",
        "tritonhost.backends:broken = tritonhost_broken.plugin",
        "ModuleNotFoundError",
        "tritonhost_vendor_sdk",
        "pip uninstall tritonhost-broken-backend",
    ):
        assert part in status.error
    assert _status("interpreter").usable and _status("example").usable
    monkeypatch.setenv("TRITONHOST_BACKEND", "broken")
    with pytest.raises(tritonhost.PluginLoadError, match="failed to load"):
        tritonhost.current_backend()


def test_misspelt_hook_is_reported(third_party):
    status = _status("misspelt")
    assert status.error is not None
    assert "tritonhost_make_launcer" in status.error and "tritonhost-broken-backend" in status.error


def test_cli_lists_third_party_and_broken_backends(third_party):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(third_party), os.environ.get("PYTHONPATH", "")])}
    env.pop("TRITONHOST_BACKEND", None)
    result = subprocess.run(
        [sys.executable, "-m", "tritonhost", "backends"], capture_output=True, text=True, env=env, check=True
    )
    lines = result.stdout.splitlines()
    example = next(line for line in lines if " example " in line)
    assert "tritonhost-example-backend" in example and "1.2.3" in example
    selected = _gpu_backend() or "example"
    assert next(line for line in lines if f" {selected} " in line).startswith("*")
    broken = next(line for line in lines if " broken " in line)
    assert "broken" in broken.split() and "ModuleNotFoundError" in broken
    assert f"selected: {selected} (TRITONHOST_BACKEND=auto)" in result.stdout


def test_hook_a_backend_does_not_implement_is_named(third_party):
    missing = pytest.raises(tritonhost.BackendHookMissingError, match="does not implement tritonhost_make_tma_descriptor")
    with tritonhost.use_backend("example"), missing:
        tritonhost.make_tma_descriptor(torch.zeros(8, 8), (4, 4))
