"""Where the work runs: device resolution, CPU capabilities and the DDP process group (used by inference, training and serving).

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.compute.device import cpu_supports_bf16, resolve_device
from ptxseg.compute.distributed import (
    broadcast_buffers,
    init_from_environment,
    is_distributed,
    mean_across_ranks,
    rank,
    reduce_validation,
    shard_indices,
    shutdown,
    sum_across_ranks,
    world_size,
    wrap_model,
)

__all__ = [
    "resolve_device",
    "cpu_supports_bf16",
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
