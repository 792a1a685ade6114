"""Step 3's network: the EfficientNet U-Net, its ImageNet encoder weights, the safe weights file, the checkpoint
record (CheckpointMetadata) and the ONNX export.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "build_architecture": "network",
    "SUPPORTED_ENCODERS": "network",
    "recalibrate_batchnorm": "network",
    "enable_mc_dropout": "network",
    "build_model": "factory",
    "load_encoder_weights": "encoder_weights",
    "download_imagenet_weights": "encoder_weights",
    "CheckpointMetadata": "checkpoint",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "export_onnx": "onnx",
    "cached_onnx_export": "onnx",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
