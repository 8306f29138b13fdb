"""Library-style kernels: checked against PyTorch on the interpreter (CPU) and on a GPU,
and analysed exactly."""

from __future__ import annotations

import pytest
import torch

import tritonhost
from library_cases import CASES, EPS


def _run_and_check(case, device: str) -> None:
    torch.manual_seed(0)
    setup = case.setup(device)
    tritonhost.wrap(case.kernel)[setup.grid](*setup.args, **setup.kwargs)
    for got, expected in zip(setup.outputs(), setup.expected, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_on_the_interpreter(case, interpreter):
    _run_and_check(case, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_on_the_gpu(case):
    with tritonhost.use_backend("cuda"):
        _run_and_check(case, "cuda")


NORMS = [case for case in CASES if any(arg is EPS for arg in case.setup("cpu").args)]


@pytest.mark.parametrize("case", NORMS, ids=[c.name for c in NORMS])
def test_a_norm_with_another_eps_fails_the_comparison(case, interpreter):
    """The inputs make eps matter: the same kernel given eps / 10 must not pass as correct."""
    torch.manual_seed(0)
    setup = case.setup("cpu")
    args = tuple(EPS / 10 if arg is EPS else arg for arg in setup.args)
    tritonhost.wrap(case.kernel)[setup.grid](*args, **setup.kwargs)
    with pytest.raises(AssertionError):
        for got, expected in zip(setup.outputs(), setup.expected, strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_analysis_is_exact(case):
    setup = case.setup("cpu")
    result = tritonhost.analyze(case.kernel, *setup.args, **setup.kwargs)
    assert result.exact, result.reason
    assert result.written == case.written
    assert result.read == case.read
