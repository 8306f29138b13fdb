"""The pytest plugin: ``--tritonhost-backend`` and the ``tritonhost_backend`` fixture, as a user's suite uses them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TEST = '''
import torch
import triton
import triton.language as tl
import tritonhost


@triton.jit
def double(x_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(x_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 2, mask=mask)


def test_double(tritonhost_backend):
    assert tritonhost.current_backend() == tritonhost_backend.name
    x = torch.arange(10.0, device=tritonhost_backend.device)
    tritonhost.wrap(double)[(1,)](x, 10, BLOCK=16)
    assert x.tolist() == [2.0 * i for i in range(10)]
    print("RAN ON", tritonhost_backend.name)
'''


@pytest.fixture
def user_suite(pytester, monkeypatch):
    monkeypatch.delenv("TRITONHOST_BACKEND", raising=False)
    pytester.makepyfile(test_user=USER_TEST)
    return pytester


def test_named_backend(user_suite):
    result = user_suite.runpytest_subprocess("--tritonhost-backend", "interpreter", "-v", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_double?backend=interpreter? RAN ON interpreter*"])


def test_all_usable_backends(user_suite):
    import tritonhost

    usable = [s.name for s in tritonhost.backends() if s.usable]
    result = user_suite.runpytest_subprocess("--tritonhost-backend", "all", "-v")
    result.assert_outcomes(passed=len(usable))
    for name in usable:
        result.stdout.fnmatch_lines([f"*test_double?backend={name}? PASSED*"])


def test_default_follows_the_environment(user_suite, monkeypatch):
    monkeypatch.setenv("TRITONHOST_BACKEND", "interpreter")
    result = user_suite.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*backend=interpreter*PASSED*"])


def test_unknown_backend_is_a_usage_error(user_suite):
    result = user_suite.runpytest_subprocess("--tritonhost-backend", "nonsense")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tritonhost-backend*names no installed backend*"])


def test_all_says_which_backends_it_leaves_out(user_suite):
    import tritonhost

    unusable = [s.name for s in tritonhost.backends() if not s.usable]
    if not unusable:
        pytest.skip("every installed backend is usable here")
    result = user_suite.runpytest_subprocess("--tritonhost-backend", "all", "-v")
    result.stdout.fnmatch_lines([f"tritonhost: --tritonhost-backend all leaves out*{unusable[0]} (*"])


def test_an_unusable_backend_names_the_option_given(user_suite):
    import tritonhost

    unusable = next((s.name for s in tritonhost.backends() if not s.usable), None)
    if unusable is None:
        pytest.skip("every installed backend is usable here")
    result = user_suite.runpytest_subprocess("--tritonhost-backend", unusable)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--tritonhost-backend {unusable}: backend {unusable!r} is installed but cannot run*"])


def test_the_plugin_loads_nothing_until_used(pytester):
    """pytest loads the plugin in every run of every project: it must not import PyTorch or Triton."""
    pytester.makepyfile(test_other="""
        import sys

        def test_nothing_heavy_was_imported():
            assert "tritonhost_pytest" in sys.modules  # the plugin is loaded...
            loaded = {"torch", "triton", "tritonhost"} & set(sys.modules)
            assert not loaded, loaded  # ...and nothing behind it
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
