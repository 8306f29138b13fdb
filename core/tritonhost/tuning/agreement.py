"""Every rank of a distributed job runs the same autotune config.

Ranks that tune on their own may pick different configs: different numerics per
rank, and compiled graphs that diverge. In an initialised ``torch.distributed``
job, rank 0 of the default group tunes (or finds the choice in the persistent
cache) and broadcasts the index of the chosen config among the configs left
after pruning, which every rank computes alike; the other ranks run that one and
time nothing. The broadcast is one int64 tensor on the group's own backend (a
CPU tensor for gloo, the current GPU's for NCCL): nothing is pickled. Without a
process group, nothing changes.

When rank 0 finds no config that runs, it broadcasts :data:`NO_CHOICE` before it
raises, so that the other ranks raise too instead of waiting for ever.

Every rank reaches a tuning point at the same launch, as the ranks of a job run
the same program; a rank that tunes where the others do not would wait for them.
"""

from __future__ import annotations

import attrs
import torch
import torch.distributed as dist

#: Broadcast by rank 0 when it could not choose (no config runs): the other ranks raise too.
NO_CHOICE = -1


@attrs.frozen
class ProcessGroup:
    """The default process group, as the autotuner uses it."""

    rank: int
    device: torch.device

    @property
    def leads(self) -> bool:
        """Whether this rank tunes for all of them."""
        return self.rank == 0

    def send_choice(self, index: int) -> None:
        dist.broadcast(torch.tensor([index], dtype=torch.int64, device=self.device), src=0)

    def receive_choice(self) -> int:
        choice = torch.empty(1, dtype=torch.int64, device=self.device)
        dist.broadcast(choice, src=0)
        return int(choice.item())


def process_group() -> ProcessGroup | None:
    """The job's default process group, or None outside a distributed job."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device("cpu")
    return ProcessGroup(rank=dist.get_rank(), device=device)
