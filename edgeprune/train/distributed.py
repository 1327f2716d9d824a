"""torchrun / DistributedDataParallel set-up (gloo on CPU, NCCL on GPU), cross-rank gathering, rank-0-only effects.

Without torchrun (no WORLD_SIZE, or WORLD_SIZE=1) everything here is a no-op for a single process.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from edgeprune.errors import EdgepruneError


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank, world size, local rank and backend ("" when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def backend_for(device: str) -> str:
    """NCCL for CUDA devices, gloo otherwise."""
    return "nccl" if str(device).startswith("cuda") else "gloo"


def current() -> DistInfo:
    """The process group already initialised, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(
            dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())), dist.get_backend()
        )
    return DistInfo()


def init_from_env(device: str = "cpu") -> DistInfo:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, ...), if any and not joined yet."""
    if dist.is_available() and dist.is_initialized():
        return current()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_available():
        raise EdgepruneError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise EdgepruneError(f"WORLD_SIZE={world} but {', '.join(missing)} unset: launch with torchrun")
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return current()


def device_for(device: str, info: DistInfo) -> torch.device:
    """The torch device of this rank: "cuda" becomes cuda:LOCAL_RANK under torchrun; refuses CUDA without a GPU."""
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            raise EdgepruneError(f"device {device!r} requested but CUDA is not available on this machine")
        if device == "cuda":
            return torch.device("cuda", info.local_rank if info.active else torch.cuda.current_device())
    return torch.device(device)


def shutdown() -> None:
    """Leave the process group (end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if current().active:
        dist.barrier()


def all_sum(values, device="cpu") -> list[float]:
    """Element-wise sum of a list of floats over all ranks (float64)."""
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    if current().active:
        dist.all_reduce(t)
    return t.tolist()


def gather_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Concatenate each named numpy array over the ranks (rank order); every rank gets the whole result."""
    info = current()
    if not info.active:
        return arrays
    parts: list = [None] * info.world_size
    dist.all_gather_object(parts, arrays)
    return {k: np.concatenate([p[k] for p in parts]) for k in arrays}


@torch.no_grad()
def broadcast_state(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank `src`'s parameters and buffers (BN running statistics) to every rank."""
    if not current().active:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=src)


def main_only(fn):
    """Decorator: run `fn` on rank 0 only (file writes, prints); other ranks get None."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if current().is_main:
            return fn(*args, **kwargs)
        return None

    return wrapper
