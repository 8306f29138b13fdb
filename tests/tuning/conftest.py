"""Fixtures of the tuning tests."""

from __future__ import annotations

import pytest

import tritonhost
from tritonhost.host import discovery


@pytest.fixture
def timed(monkeypatch):
    """The interpreter timing configs on the CPU; one record per benchmark: the runs made and the budget asked."""
    monkeypatch.setenv("TRITONHOST_INTERPRETER_BENCHMARK", "1")
    discovery.reset()
    records: list[dict] = []
    with tritonhost.use_backend("interpreter") as backend:
        assert backend.info.times_kernels
        benchmark = backend.benchmark

        def spy(fn, **budget):
            record = {"runs": 0, "budget": budget}
            records.append(record)

            def counted():
                record["runs"] += 1
                fn()

            return benchmark(counted, **budget)

        monkeypatch.setattr(backend, "benchmark", spy)
        yield records
    monkeypatch.delenv("TRITONHOST_INTERPRETER_BENCHMARK")
    discovery.reset()
