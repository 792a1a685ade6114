"""PyTorch DDP plumbing for ``torchrun``: rank facts, model wrapping, sharding and metric reduction.

Single-process runs see world size 1 and every function is then a no-op, so the training loop has one code path.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "init_from_environment",
    "is_distributed",
    "rank",
    "world_size",
    "wrap_model",
    "shard_indices",
    "sum_across_ranks",
    "mean_across_ranks",
    "broadcast_buffers",
    "reduce_validation",
    "shutdown",
]


def init_from_environment() -> bool:
    """Join the process group ``torchrun`` describes (NCCL on GPU, gloo on CPU); False when not under torchrun."""
    if dist.is_initialized() or "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return dist.is_initialized()
    use_nccl = torch.cuda.is_available() and dist.is_nccl_available()
    if use_nccl:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    return True


def is_distributed() -> bool:
    """Whether a process group with more than one rank is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of ranks (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def wrap_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DDP-wrap the model when distributed; otherwise return it unchanged."""
    if not is_distributed():
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def shard_indices(count: int) -> list[int]:
    """This rank's share of ``count`` items (every item on exactly one rank, for exact metric reduction)."""
    return list(range(rank(), count, world_size()))


def sum_across_ranks(values: np.ndarray) -> np.ndarray:
    """Element-wise sum of a float64 array over all ranks."""
    array = np.asarray(values, np.float64)
    if not is_distributed():
        return array
    tensor = torch.from_numpy(array.copy())
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tensor.cpu().numpy()


def mean_across_ranks(value: float) -> float:
    """The mean of one scalar over all ranks."""
    return float(sum_across_ranks(np.array([value]))[0] / world_size())


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank so all ranks judge the same model."""
    if not is_distributed():
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def reduce_validation(result):
    """Combine per-rank ``ValidationResult`` sums into the global one (exact: each image is on one rank)."""
    return type(result).from_array(sum_across_ranks(result.to_array()))


def shutdown() -> None:
    """Leave the process group, if any."""
    if dist.is_initialized():
        dist.destroy_process_group()
