"""What tuning tells the person waiting: a bar at a terminal, one readable log line per decision elsewhere."""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
import torch
import triton
from triton.runtime.errors import OutOfResources

import tritonhost
from kernels import autotuned_scale_kernel
from tritonhost.host import selection

WORKER = Path(__file__).resolve().parent / "tuning_worker.py"
CONFIGS = [f"BLOCK={block}, num_warps={warps}, num_ctas=1, num_stages=3" for block, warps in ((16, 1), (32, 2), (64, 4))]


def _launch(n):
    x = torch.randn(n)
    out = torch.empty_like(x)
    wrapped = tritonhost.wrap(autotuned_scale_kernel)
    wrapped[lambda m: (triton.cdiv(n, m["BLOCK"]),)](x, out, 2.0, n)
    torch.testing.assert_close(out, 2 * x)
    return wrapped.runner().choosers[0]


def _decisions(caplog):
    lines = [r.getMessage() for r in caplog.records if r.name == "tritonhost.autotune" and r.levelno == logging.INFO]
    caplog.clear()
    for line in lines:
        assert "object at 0x" not in line and "<triton" not in line, line
    return lines


def test_a_timed_choice_and_a_cached_one_are_one_line_each(timed, caplog):
    caplog.set_level(logging.INFO, logger="tritonhost.autotune")
    chooser = _launch(70)
    (line,) = _decisions(caplog)
    assert line.startswith("autotuning autotuned_scale_kernel on interpreter: chose BLOCK=")
    assert "the fastest of 3 configs timed" in line
    assert all(f"{config}: " in line for config in CONFIGS), line  # every config's time, readably
    _launch(70)
    assert _decisions(caplog) == []  # the same key again: no new decision
    chooser.cache.clear()
    _launch(70)
    (line,) = _decisions(caplog)
    assert "from the persistent cache" in line and "(nothing timed)" in line and "BLOCK=" in line


def test_an_untimed_choice_is_one_line(interpreter, caplog):
    caplog.set_level(logging.INFO, logger="tritonhost.autotune")
    _launch(70)
    expected = (f"autotuning autotuned_scale_kernel on interpreter: {CONFIGS[0]}, the first config the front end "
                "accepts (this backend times nothing)")
    assert _decisions(caplog) == [expected]


def test_no_config_that_runs_is_said_readably(timed, monkeypatch):
    def out_of_resources(fn, **budget):
        raise OutOfResources(1 << 20, 1 << 10, "shared memory")

    monkeypatch.setattr(selection.select(), "benchmark", out_of_resources)
    with pytest.raises(tritonhost.AutotuneError) as raised:
        _launch(70)
    message = str(raised.value)
    assert all(f"  {config}: OutOfResources" in message for config in CONFIGS), message
    assert "object at 0x" not in message


def _env(cache_dir):
    env = dict(os.environ, TRITONHOST_CACHE_DIR=str(cache_dir), TRITONHOST_INTERPRETER_BENCHMARK="1")
    env.pop("TRITONHOST_BACKEND", None)
    return env


def test_a_terminal_sees_a_progress_bar(tmp_path):
    leader, follower = pty.openpty()
    # A fresh pseudo-terminal is 0 columns wide, where tqdm draws nothing; a real one is not.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    worker = subprocess.Popen([sys.executable, str(WORKER), "100"], stdout=subprocess.PIPE, stderr=follower,
                              env=_env(tmp_path))
    os.close(follower)
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed: the worker is done
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    worker.communicate(timeout=300)
    reader.join(timeout=60)
    os.close(leader)
    assert worker.returncode == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert "autotuning autotuned_scale_kernel on interpreter" in text and "/3" in text, text


def test_no_bar_is_drawn_where_stderr_is_not_a_terminal(tmp_path):
    result = subprocess.run([sys.executable, str(WORKER), "100"], capture_output=True, text=True, env=_env(tmp_path),
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert '"benchmarked": 3' in result.stdout  # it did time three configs
    assert "autotuning autotuned_scale_kernel" not in result.stderr and "/3" not in result.stderr
