"""A process that tunes one autotuned kernel and prints what it chose, for tests/tuning/test_persistent_cache.py.

    python tuning_worker.py N [RANK WORLD PORT]

With RANK, WORLD and PORT it joins a gloo process group first, and rigs its timings so
that each rank on its own would prefer a different config.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torch.distributed as dist
import triton

import tritonhost
from kernels import autotuned_scale_kernel


def main() -> None:
    n = int(sys.argv[1])
    if len(sys.argv) > 2:
        rank, world, port = (int(a) for a in sys.argv[2:5])
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    with tritonhost.use_backend("interpreter") as backend:
        if dist.is_initialized():
            # Each rank's timings favour a different config: rank r's config r is fastest.
            configs = autotuned_scale_kernel.configs
            timed = iter(range(len(configs)))
            benchmark = backend.benchmark

            def rigged(fn, **budget):
                index = next(timed)
                benchmark(fn, **budget)
                return 0.0 if index == dist.get_rank() else 1.0

            backend.benchmark = rigged
        x = torch.arange(float(n))
        out = torch.empty_like(x)
        tritonhost.wrap(autotuned_scale_kernel)[lambda m: (triton.cdiv(n, m["BLOCK"]),)](x, out, 2.0, n)
        assert torch.equal(out, 2 * x)
        (chooser,) = tritonhost.wrap(autotuned_scale_kernel).runner().choosers.values()
        (chosen,) = chooser.cache.values()
    print(json.dumps({"block": chosen.kwargs["BLOCK"], **tritonhost.autotune_stats()}))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
