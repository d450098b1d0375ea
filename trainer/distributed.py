"""Data-parallel training on torch.distributed: one process per device, launched by torchrun.

`DistContext.from_env()` reads torchrun's RANK / WORLD_SIZE / LOCAL_RANK. Without them (a
plain `python -m trainer train`) it is rank 0 of 1 and no process group is created, so a
single process runs exactly as it always has. Under torchrun (any number of processes, 1
included) it joins a process group: nccl when the device is CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the run: rank of world_size, and its local device index."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    group: bool = False  # a torch.distributed process group was initialised (torchrun)

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, evaluates and writes checkpoints."""
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "DistContext":
        """Rank and world size from torchrun's environment (rank 0 of 1 without it)."""
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            return cls()
        return cls(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)),
                   group=True)

    def device(self, preferred: torch.device) -> torch.device:
        """This rank's device: cuda:LOCAL_RANK under torchrun on CUDA, else `preferred`."""
        if self.group and preferred.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return preferred

    def init(self, device: torch.device) -> None:
        """Join the process group (nccl for CUDA, gloo otherwise); no-op without torchrun."""
        if self.group and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            kwargs = {"device_id": device} if device.type == "cuda" else {}
            dist.init_process_group(backend, **kwargs)

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.group and dist.is_initialized():
            dist.barrier()

    def max_of(self, value: float, device: torch.device) -> float:
        """The largest `value` over all ranks (so every rank takes the same decision)."""
        if not (self.group and dist.is_initialized()) or self.world_size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def close(self) -> None:
        """Leave the process group (after the last collective)."""
        if self.group and dist.is_initialized():
            dist.destroy_process_group()


def exit_process(code: int) -> None:
    """End this process with `code`. Under torchrun, skip the interpreter's teardown: after
    the group is destroyed, gloo's transport threads can still abort a rank at exit
    ("terminate called without an active exception") once all its work is done."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
