"""Tuning once, everywhere: the persistent cache across processes, and one choice across ranks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).resolve().parent / "tuning_worker.py"


def _env(cache_dir, **extra):
    env = dict(os.environ, TRITONHOST_CACHE_DIR=str(cache_dir), TRITONHOST_INTERPRETER_BENCHMARK="1")
    env.pop("TRITONHOST_BACKEND", None)
    env.update(extra)
    return env


def _tune(cache_dir, n, *rank_args, **env):
    result = subprocess.run([sys.executable, str(WORKER), str(n), *map(str, rank_args)], capture_output=True,
                            text=True, env=_env(cache_dir, **env), check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _entries(cache_dir):
    data = json.loads((Path(cache_dir) / "autotune.json").read_text())
    assert data["format"] == "tritonhost-autotune-1"
    return data["entries"]


def test_a_second_process_benchmarks_nothing(tmp_path):
    first = _tune(tmp_path, 100)
    assert first["benchmarked"] == 3 and first["misses"] == 1 and first["hits"] == 0
    second = _tune(tmp_path, 100)
    assert second["benchmarked"] == 0 and second["hits"] == 1
    assert second["block"] == first["block"]
    # One decision each; the second is a cache lookup, cheaper than timing three configs.
    assert first["decisions"] == second["decisions"] == 1
    assert 0 < second["seconds"] < first["seconds"]
    (entry,) = _entries(tmp_path).values()
    assert entry["kernel"] == "autotuned_scale_kernel" and entry["config"]["BLOCK"] == first["block"]


def test_two_processes_tuning_at_once_keep_both_entries(tmp_path):
    workers = [
        subprocess.Popen([sys.executable, str(WORKER), str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=_env(tmp_path))
        for n in (100, 200)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    assert len(_entries(tmp_path)) == 2


def test_a_truncated_cache_file_is_rebuilt(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "autotune.json").write_text('{"format": "tritonhost-autotune-1", "entr')
    result = _tune(tmp_path, 100)
    assert result["benchmarked"] == 3  # nothing trusted from the broken file
    assert len(_entries(tmp_path)) == 1


def test_an_entry_for_configs_that_changed_is_not_used(tmp_path):
    _tune(tmp_path, 100)
    path = tmp_path / "autotune.json"
    data = json.loads(path.read_text())
    for entry in data["entries"].values():
        entry["config"]["BLOCK"] = 4096  # no config of the kernel has it
    path.write_text(json.dumps(data))
    again = _tune(tmp_path, 100)
    assert again["benchmarked"] == 3 and again["misses"] == 1


def test_the_cache_can_be_turned_off(tmp_path):
    first = _tune(tmp_path, 100, TRITONHOST_AUTOTUNE_CACHE="0")
    assert first["benchmarked"] == 3 and not (tmp_path / "autotune.json").exists()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ranks(tmp_path, n, **env):
    """Two ranks of a process group tuning at once, each with its own cache folder: what each printed."""
    port = _free_port()
    ranks = [
        subprocess.Popen([sys.executable, str(WORKER), str(n), str(rank), "2", str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=_env(tmp_path / f"rank{rank}", **env))
        for rank in (0, 1)
    ]
    results = []
    for worker in ranks:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_every_rank_of_a_gloo_job_runs_one_config(tmp_path):
    leader, follower = _ranks(tmp_path, 100)
    # Rank 1's own timings favour config 1, rank 0's config 0: both run rank 0's choice.
    assert leader["block"] == follower["block"] == 16
    assert leader["benchmarked"] == 3 and follower["benchmarked"] == 0


def test_when_rank_0_finds_no_config_every_rank_raises(tmp_path):
    leader, follower = _ranks(tmp_path, 100, TUNING_WORKER_RANK0_FAILS="1")
    assert "none of its 3 autotune configs can run" in leader["error"] and "OutOfResources" in leader["error"]
    # Told by rank 0, rather than left waiting for a choice that never comes.
    assert "rank 0 of the process group found no autotune config" in follower["error"]
    assert follower["benchmarked"] == 0


def _gpus():
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.gpu
@pytest.mark.skipif(_gpus() < 2, reason="needs two GPUs for a two-rank NCCL job")
def test_every_rank_of_an_nccl_job_runs_one_config(tmp_path):
    leader, follower = _ranks(tmp_path, 1 << 16, TUNING_WORKER_BACKEND="cuda", TUNING_WORKER_DIST="nccl")
    assert leader["block"] == follower["block"] == 16
    assert leader["benchmarked"] == 3 and follower["benchmarked"] == 0


@pytest.mark.gpu
def test_a_second_process_on_a_gpu_benchmarks_nothing(tmp_path):
    # Real timings on the GPU, compiled by Triton: the second process takes the first one's choice.
    first = _tune(tmp_path, 1 << 20, TUNING_WORKER_BACKEND="cuda")
    assert first["benchmarked"] == 3 and first["misses"] == 1
    second = _tune(tmp_path, 1 << 20, TUNING_WORKER_BACKEND="cuda")
    assert second["benchmarked"] == 0 and second["hits"] == 1 and second["block"] == first["block"]


@pytest.mark.parametrize("contents", ["not json at all", "[]", '{"format": "other", "entries": {}}'])
def test_a_foreign_file_is_never_trusted(tmp_path, contents):
    from tritonhost.tuning.cache import TuningCache

    (tmp_path / "autotune.json").write_text(contents)
    cache = TuningCache(tmp_path)
    assert cache.entries() == {}
    cache.store("key", {"kernel": "k", "config": {"BLOCK": 16}})
    assert _entries(tmp_path) == {"key": {"kernel": "k", "config": {"BLOCK": 16}}}


def _cli(cache_dir, *args):
    result = subprocess.run([sys.executable, "-m", "tritonhost", "cache", *args], capture_output=True, text=True,
                            env=_env(cache_dir), check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_cli_shows_and_clears_the_cache(tmp_path):
    _tune(tmp_path, 100)
    _tune(tmp_path, 200)
    info = json.loads(_cli(tmp_path, "info", "--json"))
    assert info["entries"] == 2 and info["kernels"] == {"autotuned_scale_kernel": 2} and info["enabled"]
    assert "autotuned_scale_kernel: 2 entries" in _cli(tmp_path, "info")
    assert json.loads(_cli(tmp_path, "clear", "--kernel", "another_kernel", "--json"))["removed"] == 0
    assert "removed 2 entries" in _cli(tmp_path, "clear")
    assert json.loads(_cli(tmp_path, "info", "--json"))["entries"] == 0
