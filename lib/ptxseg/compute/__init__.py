"""Where the work runs: the device a request resolves to, CPU capabilities, the DDP process group, the heap a model
load leaves behind, and the libraries a long-running process starts without."""

from ptxseg import lazy_exports

_EXPORTS = {
    "resolve_device": "device",
    "cpu_supports_bf16": "device",
    "init_from_environment": "distributed",
    "is_distributed": "distributed",
    "rank": "distributed",
    "world_size": "distributed",
    "shard_indices": "distributed",
    "shutdown": "distributed",
    "release_freed_memory": "memory",
    "lean_command": "lean_process",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
