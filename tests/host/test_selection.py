"""Selecting a backend with TRITONHOST_BACKEND, use_backend() and auto."""

from __future__ import annotations

import pytest
import torch

import tritonhost
from kernels import relu_inplace_kernel
from tritonhost.host.selection import auto_order
from tritonhost.host.status import BackendInfo, BackendStatus


def test_auto_selects_the_interpreter_on_a_cpu_only_machine(monkeypatch):
    if any(s.name in ("cuda", "rocm") and s.usable for s in tritonhost.backends()):
        pytest.skip("a GPU backend is usable here, so auto prefers it")
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    assert tritonhost.current_backend() == "interpreter"
    monkeypatch.setenv("TRITONHOST_BACKEND", "auto")
    assert tritonhost.current_backend() == "interpreter"


def test_environment_names_a_backend(monkeypatch):
    monkeypatch.setenv("TRITONHOST_BACKEND", " Interpreter ")
    assert tritonhost.current_backend() == "interpreter"


def test_unknown_backend_lists_the_installed_ones(monkeypatch):
    monkeypatch.setenv("TRITONHOST_BACKEND", "nonsense")
    with pytest.raises(tritonhost.UnknownBackendError) as info:
        tritonhost.current_backend()
    message = str(info.value)
    assert "TRITONHOST_BACKEND='nonsense' names no installed backend" in message
    for name in ("cuda", "rocm", "interpreter"):
        assert f"- {name} (tritonhost-{name} " in message
    # A launch reports the same error rather than a deep failure.
    with pytest.raises(tritonhost.UnknownBackendError):
        tritonhost.wrap(relu_inplace_kernel)[(1,)](torch.zeros(4), 4)


def test_gpu_backend_without_a_gpu_says_why(monkeypatch):
    cuda = next(s for s in tritonhost.backends() if s.name == "cuda")
    if cuda.usable:
        pytest.skip("an NVIDIA GPU is usable here")
    assert "PyTorch" in cuda.reason or "GPU" in cuda.reason
    monkeypatch.setenv("TRITONHOST_BACKEND", "cuda")
    with pytest.raises(tritonhost.BackendUnusableError, match="'cuda' is installed but cannot run here") as info:
        tritonhost.current_backend()
    assert cuda.reason in str(info.value) and "usable here: interpreter" in str(info.value)


def test_rocm_reports_itself_unusable_without_amd_hardware():
    rocm = next(s for s in tritonhost.backends() if s.name == "rocm")
    if torch.version.hip is None:
        assert not rocm.usable and "not a ROCm build" in rocm.reason


def test_use_backend_overrides_the_environment_and_restores_it(monkeypatch):
    monkeypatch.setenv("TRITONHOST_BACKEND", "nonsense")
    with tritonhost.use_backend("interpreter") as backend:
        assert backend.name == "interpreter" and backend.device == "cpu"
        assert tritonhost.current_backend() == "interpreter"
    with pytest.raises(tritonhost.UnknownBackendError):
        tritonhost.current_backend()


def test_no_plugin_installed(monkeypatch, fresh_discovery):
    monkeypatch.setenv("TRITONHOST_DISABLE_PLUGINS", "*")
    from tritonhost.host import discovery

    discovery.reset()
    assert tritonhost.backends() == ()
    with pytest.raises(tritonhost.NoBackendError, match="no tritonhost backend is installed.*pip install plugins/interpreter"):
        tritonhost.current_backend()
    with pytest.raises(tritonhost.NoBackendError):
        tritonhost.wrap(relu_inplace_kernel)[(1,)](torch.zeros(4), 4)


def test_disabling_some_plugins(monkeypatch, fresh_discovery):
    monkeypatch.setenv("TRITONHOST_DISABLE_PLUGINS", "cuda, rocm")
    from tritonhost.host import discovery

    discovery.reset()
    assert [s.name for s in tritonhost.backends()] == ["interpreter"]


def _status(name: str, usable: bool = True) -> BackendStatus:
    info = BackendInfo(name=name, device_types=("cpu",), usable=usable)
    return BackendStatus(name=name, distribution=f"d-{name}", version="1", entry_point="e", info=info)


def test_auto_order_is_cuda_rocm_third_party_interpreter():
    statuses = tuple(_status(n) for n in ("interpreter", "zeta", "rocm", "alpha", "cuda"))
    assert [s.name for s in auto_order(statuses)] == ["cuda", "rocm", "alpha", "zeta", "interpreter"]


def test_a_repeated_selection_follows_every_change_of_what_it_reads(monkeypatch, fresh_discovery):
    from tritonhost.host import discovery
    from tritonhost.host.selection import select

    monkeypatch.setenv("TRITONHOST_BACKEND", "interpreter")
    first = select()
    assert select() is first and first.name == "interpreter"  # the second is the reused one
    monkeypatch.setenv("TRITONHOST_BACKEND", "nonsense")
    with pytest.raises(tritonhost.UnknownBackendError):
        select()
    with tritonhost.use_backend("interpreter"):
        assert select().name == "interpreter"
    with pytest.raises(tritonhost.UnknownBackendError):
        select()
    monkeypatch.setenv("TRITONHOST_BACKEND", "interpreter")
    assert select() is first
    discovery.reset()  # a new registry: its own Backend objects
    again = select()
    assert again is not first and again.name == "interpreter" and select() is again
