"""A process that tunes one autotuned kernel and prints what it chose, for tests/tuning/test_persistent_cache.py.

    python tuning_worker.py N [RANK WORLD PORT]

Without RANK it tunes on its own. With RANK, WORLD and PORT it joins a process group first
and rigs its timings so that each rank on its own would prefer a different config.

TUNING_WORKER_BACKEND picks the tritonhost backend (default interpreter; cuda puts the
tensors on the GPU, one per rank). TUNING_WORKER_DIST picks the process group's backend
(default gloo; nccl on GPUs). TUNING_WORKER_RANK0_FAILS=1 makes every config fail on rank 0,
as a config out of resources fails. The last line printed is JSON: the BLOCK chosen (or the
error), and tritonhost.autotune_stats().
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torch.distributed as dist
import triton
from triton.runtime.errors import OutOfResources

import tritonhost
from kernels import autotuned_scale_kernel


def main() -> None:
    n = int(sys.argv[1])
    backend_name = os.environ.get("TUNING_WORKER_BACKEND", "interpreter")
    device = "cpu"
    if len(sys.argv) > 2:
        rank, world, port = (int(a) for a in sys.argv[2:5])
        if backend_name == "cuda":
            torch.cuda.set_device(rank)
        dist.init_process_group(os.environ.get("TUNING_WORKER_DIST", "gloo"), init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world)
    if backend_name == "cuda":
        device = f"cuda:{torch.cuda.current_device()}"
    result: dict[str, object] = {}
    with tritonhost.use_backend(backend_name) as backend:
        if dist.is_initialized():
            # Each rank's timings favour a different config: rank r's config r is fastest.
            configs = autotuned_scale_kernel.configs
            timed = iter(range(len(configs)))
            benchmark = backend.benchmark
            fails = os.environ.get("TUNING_WORKER_RANK0_FAILS") == "1" and dist.get_rank() == 0

            def rigged(fn, **budget):
                if fails:
                    raise OutOfResources(1 << 20, 1 << 10, "shared memory")
                index = next(timed)
                benchmark(fn, **budget)
                return 0.0 if index == dist.get_rank() else 1.0

            backend.benchmark = rigged
        x = torch.arange(float(n), device=device)
        out = torch.empty_like(x)
        try:
            tritonhost.wrap(autotuned_scale_kernel)[lambda m: (triton.cdiv(n, m["BLOCK"]),)](x, out, 2.0, n)
        except tritonhost.AutotuneError as error:
            result["error"] = str(error)
        else:
            assert torch.equal(out, 2 * x)
            (chooser,) = tritonhost.wrap(autotuned_scale_kernel).runner().choosers.values()
            (chosen,) = chooser.cache.values()
            result["block"] = chosen.kwargs["BLOCK"]
    print(json.dumps({**result, **tritonhost.autotune_stats()}))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
