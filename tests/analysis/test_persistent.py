"""The persistent analysis cache (analysis/persistent.py): kept across processes, never trusted blindly."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import triton
import triton.language as tl

import tritonhost
from corpus import copy, impure_inline_asm, t
from tritonhost.analysis import analyzer, persistent

SCALE = tl.constexpr(2)


@triton.constexpr_function
def block_of(n):
    return n


@triton.jit
def scaled_copy(src, dst, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst + offsets, tl.load(src + offsets, mask=offsets < n) * SCALE, mask=offsets < n)


@triton.jit
def calls_a_constexpr_function(src, dst, BLOCK: tl.constexpr):
    offsets = tl.arange(0, block_of(BLOCK))  # a global Python function, run while compiling
    tl.store(dst + offsets, tl.load(src + offsets))


@triton.jit
def double(x):
    return x * 2


@triton.jit
def apply(src, dst, BLOCK: tl.constexpr, FN: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    tl.store(dst + offsets, FN(tl.load(src + offsets)))


@pytest.fixture(autouse=True)
def fresh_memory():
    """Each test starts with no analysis in memory and leaves none (a disk hit holds no TTIR)."""
    analyzer.clear_cache()
    yield
    analyzer.clear_cache()


def _file() -> Path:
    cache = persistent.current()
    assert cache is not None
    return cache.path


def _entries() -> dict:
    return json.loads(_file().read_text())["entries"] if _file().exists() else {}


def test_an_exact_analysis_is_found_again_after_memory_is_cleared():
    first = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert first.ttir[0] and len(_entries()) == 1
    (entry,) = _entries().values()
    assert entry == {"kernel": "copy", "written": ["dst"], "read": ["src"]}
    analyzer.clear_cache()
    again = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert (again.written, again.read, again.exact) == (first.written, first.read, True)
    assert again.ttir == ("",)  # from disk: no TTIR was generated


def test_a_second_process_generates_no_ttir(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import tritonhost
        from corpus import copy, t
        result = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
        print(result.written, result.read, bool(result.ttir[0]))
        """
    )
    folder = str(Path(__file__).parent)
    env = {**__import__("os").environ, "TRITONHOST_CACHE_DIR": str(tmp_path / "shared")}
    runs = [
        subprocess.run([sys.executable, "-c", script, folder], env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.split() == ["('dst',)", "('src',)", "True"]
    assert runs[1].stdout.split() == ["('dst',)", "('src',)", "False"]


def test_another_value_of_a_global_constexpr_is_another_entry(monkeypatch):
    tritonhost.analyze(scaled_copy, t(64), t(64), 64, BLOCK=32)
    monkeypatch.setitem(globals(), "SCALE", tl.constexpr(3))
    analyzer.clear_cache()
    tritonhost.analyze(scaled_copy, t(64), t(64), 64, BLOCK=32)
    assert len(_entries()) == 2


def test_another_constexpr_or_target_is_another_entry():
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=64)
    tritonhost.analysis.analyze_call(copy, (t(64), t(64), 64), {"BLOCK": 32}, target="cuda:80")
    assert len(_entries()) == 3


def test_a_jit_function_constexpr_is_kept_by_its_hash():
    result = tritonhost.analyze(apply, t(8), t(8), BLOCK=8, FN=double)
    assert result.exact and len(_entries()) == 1


def test_what_has_no_portable_value_is_not_kept():
    result = tritonhost.analyze(calls_a_constexpr_function, t(8), t(8), BLOCK=8)
    assert result.exact and not _entries()


def test_an_inexact_analysis_is_not_kept(caplog):
    with caplog.at_level(logging.WARNING):
        result = tritonhost.analyze(impure_inline_asm, t(8), t(8), BLOCK=8)
    assert not result.exact and not _entries()


def test_a_corrupt_file_is_rebuilt_and_never_trusted(caplog):
    _file().parent.mkdir(parents=True, exist_ok=True)
    _file().write_text('{"format": "tritonhost-analysis-1", "entries": {"x": ')  # cut off mid-write
    with caplog.at_level(logging.WARNING, logger="tritonhost.analysis"):
        result = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert result.written == ("dst",) and result.ttir[0]
    assert any("analysis cache" in r.getMessage() and "rebuilt" in r.getMessage() for r in caplog.records)
    assert len(_entries()) == 1


def test_an_entry_naming_other_parameters_is_analysed_afresh(caplog):
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    data = json.loads(_file().read_text())
    (key,) = data["entries"]
    data["entries"][key] = {"kernel": "copy", "written": ["nonsense"], "read": []}
    _file().write_text(json.dumps(data))
    analyzer.clear_cache()
    persistent._files.clear()  # as a new process would: read the file again
    result = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert (result.written, result.read) == (("dst",), ("src",)) and result.ttir[0]


@pytest.mark.parametrize("written", ["dst", [1, 2]])
def test_a_malformed_entry_is_analysed_afresh(caplog, written):
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    data = json.loads(_file().read_text())
    (key,) = data["entries"]
    data["entries"][key]["written"] = written
    _file().write_text(json.dumps(data))
    analyzer.clear_cache()
    persistent._files.clear()  # as a new process would: read the file again
    with caplog.at_level(logging.WARNING, logger="tritonhost.analysis"):
        result = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert result.written == ("dst",) and result.ttir[0]
    assert any("malformed" in r.getMessage() for r in caplog.records)


def test_the_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("TRITONHOST_ANALYSIS_CACHE", "0")
    assert persistent.current() is None
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    monkeypatch.delenv("TRITONHOST_ANALYSIS_CACHE")
    assert not _entries()


def test_the_key_changes_with_the_analysis_code(monkeypatch):
    tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    monkeypatch.setattr(persistent, "_code_hash", "another analysis")
    analyzer.clear_cache()
    result = tritonhost.analyze(copy, t(64), t(64), 64, BLOCK=32)
    assert result.ttir[0] and len(_entries()) == 2
