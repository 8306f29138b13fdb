"""Backends published as plugin objects (``BackendPlugin`` instances) rather than modules of hook functions."""

from __future__ import annotations

import pytest
import torch

import tritonhost
from kernels import add_kernel
from plugin_objects import LAUNCHES
from tritonhost.host import discovery
from tritonhost.plugin_api import BackendPlugin


def _status(name):
    return next(s for s in tritonhost.backends() if s.name == name)


def test_a_plugin_object_is_discovered_selected_and_launches(extra_entry_points):
    extra_entry_points("recording", "plugin_objects:backend")
    assert _status("recording").usable
    x, y = torch.randn(8), torch.randn(8)
    out = torch.zeros(8)
    with tritonhost.use_backend("recording"):
        tritonhost.wrap(add_kernel)[(3,)](x, y, out, 8, BLOCK=4)
    assert LAUNCHES[-1] == ("add_kernel", (3, 1, 1))
    assert torch.equal(out, torch.full((8,), 7.0))


def test_a_plugin_object_answers_only_for_its_own_name(extra_entry_points):
    extra_entry_points("recording", "plugin_objects:backend")
    hook = discovery.registry().manager.hook
    recording = hook.tritonhost_make_launcher(backend="recording", kernel=add_kernel)
    interpreter = hook.tritonhost_make_launcher(backend="interpreter", kernel=add_kernel)
    assert type(recording).__name__ == "RecordingLauncher"
    assert type(interpreter).__name__ == "InterpreterLauncher"
    # Hooks the object leaves alone answer None, which the host reports as missing.
    assert hook.tritonhost_analysis_target(backend="recording") is None
    with pytest.raises(tritonhost.BackendHookMissingError, match="tritonhost_make_tma_descriptor"):
        tritonhost.select("recording").make_tma_descriptor(torch.zeros(4, 4), tritonhost.TMADescriptorSpec("stable", (2, 2)))


def test_an_entry_point_naming_the_class_is_reported_with_the_fix(extra_entry_points):
    extra_entry_points("recording", "plugin_objects:RecordingBackend")
    status = _status("recording")
    assert not status.usable
    assert "names the class RecordingBackend" in status.error
    assert "plugin object (an instance)" in status.error
    with pytest.raises(tritonhost.PluginLoadError, match="names the class"):
        tritonhost.select("recording")


def test_an_entry_point_naming_something_else_is_reported(extra_entry_points):
    extra_entry_points("recording", "plugin_objects:not_a_plugin")
    assert "must name a module of hook implementations or a plugin object" in _status("recording").error


@pytest.mark.parametrize("name", ["cuda", "rocm", "interpreter"])
def test_bundled_backends_are_plugin_objects_answering_for_themselves(name):
    plugin = discovery.registry().plugins[name]
    assert plugin.name == name
    others = {"cuda", "rocm", "interpreter", "recording"} - {name}
    for other in others:
        assert plugin.tritonhost_make_launcher(backend=other, kernel=add_kernel) is None
        assert plugin.tritonhost_analysis_target(backend=other) is None
    assert plugin.tritonhost_analysis_target(backend=name) is not None


def test_describe_must_be_implemented():
    class Nameless(BackendPlugin):
        name = "nameless"

    with pytest.raises(NotImplementedError, match="must implement describe"):
        Nameless().tritonhost_describe_backend()


def test_two_plugins_claiming_one_name_are_never_resolved_quietly(extra_entry_points, monkeypatch):
    # "aaa" sorts before "interpreter": entry-point order would have let the impostor win.
    extra_entry_points("aaa", "plugin_objects:impostor")
    claims = [s for s in tritonhost.backends() if s.name == "interpreter"]
    assert len(claims) == 2 and all(s.conflict and not s.usable for s in claims)
    assert "tritonhost-interpreter" in claims[0].error and "plugin_objects:impostor" in claims[0].error
    with pytest.raises(tritonhost.PluginLoadError, match="claimed by 2 plugins") as raised:
        tritonhost.select("interpreter")
    assert "uninstall all but one" in str(raised.value)
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    if not any(s.usable and s.name in ("cuda", "rocm") for s in tritonhost.backends()):
        with pytest.raises(tritonhost.PluginLoadError, match="auto: backend name 'interpreter' is claimed"):
            tritonhost.select()
    x, y, out = torch.randn(4), torch.randn(4), torch.zeros(4)
    with pytest.raises(tritonhost.PluginLoadError), tritonhost.use_backend("interpreter"):
        tritonhost.wrap(add_kernel)[(1,)](x, y, out, 4, BLOCK=4)
    assert torch.equal(out, torch.zeros(4)), "no plugin ran the launch"


def test_auto_prefers_a_usable_cuda_to_the_interpreter(extra_entry_points, monkeypatch):
    monkeypatch.setenv("TRITONHOST_DISABLE_PLUGINS", "cuda")  # the bundled one, unusable here
    extra_entry_points("stand-in-cuda", "plugin_objects:usable_cuda")
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    assert {s.name for s in tritonhost.backends() if s.usable} >= {"cuda", "interpreter"}
    assert tritonhost.select().name == "cuda"
    assert tritonhost.current_backend() == "cuda"
