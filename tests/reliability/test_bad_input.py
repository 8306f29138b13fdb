"""Bad input gets an error that names the argument, the kernel or the backend, and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import error_kernels as k
import tritonhost

x, out = torch.arange(8.0), torch.zeros(8)


def _launch(*args, **kwargs):
    tritonhost.wrap(k.axpy)[(1,)](*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((x, out, 2.0, 8), {"BLOCK": torch.tensor(8)}, "argument 'BLOCK' is a tl.constexpr.*not a tensor"),
        ((1.5, out, 2.0, 8), {"BLOCK": 8}, r"argument 'x_ptr' is 1.5 \(float\), but the kernel uses it as a pointer"),
        ((True, out, 2.0, 8), {"BLOCK": 8}, r"argument 'x_ptr' is True \(bool\), but the kernel uses it as a pointer"),
        ((None, out, 2.0, 8), {"BLOCK": 8}, r"argument 'x_ptr' is None \(NoneType\), but the kernel uses it as a"),
        ((3, out, 2.0, 8), {"BLOCK": 8}, r"argument 'x_ptr' is 3 \(int\), but the kernel uses it as a pointer"),
        ((x, out, torch.tensor(2.0), 8), {"BLOCK": 8}, r"'alpha' is a 0-d tensor.*pass alpha.item\(\)"),
        ((x.to(torch.complex64), out, 2.0, 8), {"BLOCK": 8}, r"'x_ptr' is a complex64 tensor.*view_as_real"),
        ((x.to_sparse(), out, 2.0, 8), {"BLOCK": 8}, r"'x_ptr' is a torch.sparse_coo tensor.*to_dense"),
    ],
    ids=["constexpr tensor", "float pointer", "bool pointer", "None pointer", "int pointer", "0-d scalar",
         "complex64", "sparse"],
)
def test_a_wrong_argument_is_named_with_the_fix(interpreter, args, kwargs, expected):
    with pytest.raises(tritonhost.KernelArgumentError, match=expected) as raised:
        _launch(*args, **kwargs)
    assert "kernel axpy()" in str(raised.value)


def test_a_launch_that_works_is_untouched_by_the_diagnosis(interpreter):
    result = torch.zeros(8)
    _launch(x, result, 2.0, 8, BLOCK=8)
    assert torch.equal(result, 2 * x)


def test_a_heuristic_reading_a_missing_argument_says_which(interpreter):
    with pytest.raises(tritonhost.KernelArgumentError, match="value of 'BLOCK' reads 'n_elements', which the launch"):
        tritonhost.wrap(k.copy_misnamed_heuristic)[(1,)](x, out, 8)


def test_a_heuristic_that_raises_is_named(interpreter):
    with pytest.raises(tritonhost.KernelArgumentError, match="value of 'BLOCK' raised ZeroDivisionError"):
        tritonhost.wrap(k.copy_raising_heuristic)[(1,)](x, out, 8)


def test_a_backend_named_by_something_else_than_a_string():
    with (
        pytest.raises(tritonhost.UnknownBackendError, match=r"named by a string, got 3 \(int\)"),
        tritonhost.use_backend(3),  # type: ignore[arg-type]
    ):
        pass


def test_a_blank_backend_variable(monkeypatch):
    monkeypatch.setenv("TRITONHOST_BACKEND", "   ")
    with pytest.raises(tritonhost.UnknownBackendError, match="TRITONHOST_BACKEND is set but blank"):
        tritonhost.select()


def test_a_launcher_that_cannot_be_made_names_the_backend(extra_entry_points):
    extra_entry_points("missinglib", "plugin_objects:missing_library")
    expected = "backend 'missinglib' .* failed to make a launcher for kernel axpy: OSError: libexample_driver.so"
    with tritonhost.use_backend("missinglib"), pytest.raises(tritonhost.BackendError, match=expected):
        _launch(x, out, 2.0, 8, BLOCK=8)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tritonhost", *args], capture_output=True, text=True, check=False)


CORPUS = Path(__file__).resolve().parent.parent / "analysis" / "corpus.py"


def test_cli_refuses_an_unknown_target_without_a_traceback():
    result = _cli("analyze", f"{CORPUS}:runtime_flag", "--arg", "a_ptr=f32[8]", "--target", "xpu:1")
    assert result.returncode == 2
    assert "tritonhost: error: --target: unknown target 'xpu:1'" in result.stderr and "Traceback" not in result.stderr


def test_cli_reports_a_file_that_exits_when_imported(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nimport triton\n\n\n@triton.jit\ndef k(x):\n    pass\n\n\nsys.exit(3)\n")
    result = _cli("analyze", f"{script}:k")
    assert result.returncode == 2
    assert "called sys.exit(3)" in result.stderr and "if __name__ == '__main__'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "no_such_file.py:k"], "no such file: no_such_file.py"),
        (["analyze", "no_colon"], "expected path/to/file.py:kernel_name"),
        (["analyze", f"{CORPUS}:no_such_kernel"], "defines no 'no_such_kernel'"),
        (["analyze", f"{CORPUS}:runtime_flag", "--arg", "a_ptr=q7[8]"], "unknown dtype 'q7'"),
    ],
)
def test_cli_usage_errors_exit_2_as_documented(args, message):
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("tritonhost: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
