"""Where the work runs: the device a request resolves to, CPU capabilities, and the DDP process group."""

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
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
