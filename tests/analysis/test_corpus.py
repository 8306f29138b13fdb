"""The analysis gives the exact read and write sets of every kernel in the corpus, on CPU."""

from __future__ import annotations

import pytest

import tritonhost
from corpus import CASES, INEXACT, INEXACT_REASONS


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_exact_sets(case):
    args, kwargs = case.make_args()
    result = tritonhost.analyze(case.kernel, *args, **kwargs)
    assert result.exact, result.reason
    assert result.written == case.written
    assert result.read == case.read


@pytest.mark.parametrize("case", INEXACT, ids=[case.name for case in INEXACT])
def test_fallback_names_the_reason(case, caplog):
    args, kwargs = case.make_args()
    with caplog.at_level("WARNING", logger="tritonhost.analysis.analyzer"):
        result = tritonhost.analyze(case.kernel, *args, **kwargs)
    assert not result.exact
    assert INEXACT_REASONS[case.name] in result.reason
    assert result.written == case.written and result.read == case.read  # every tensor argument


@pytest.mark.parametrize("target", ["cuda:90", "cuda:80", "hip:gfx942"])
def test_every_target_gives_the_same_sets(target):
    case = next(c for c in CASES if c.name == "runtime_flag")
    args, kwargs = case.make_args()
    result = tritonhost.analysis.analyze_call(case.kernel, args, kwargs, target=target)
    assert result.target == target
    assert (result.written, result.read, result.exact) == (case.written, case.read, True)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_amd_targets_give_the_sets_nvidia_targets_give(case):
    """The whole corpus for MI300 (hip:gfx942): the same written and read sets as for cuda:90."""
    args, kwargs = case.make_args()
    amd = tritonhost.analysis.analyze_call(case.kernel, args, kwargs, target="hip:gfx942")
    nvidia = tritonhost.analysis.analyze_call(case.kernel, args, kwargs, target="cuda:90")
    assert amd.target == "hip:gfx942" and amd.exact, amd.reason
    assert (amd.written, amd.read) == (nvidia.written, nvidia.read) == (case.written, case.read)
