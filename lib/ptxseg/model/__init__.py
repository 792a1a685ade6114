"""Step 3's network: the EfficientNet U-Net, its ImageNet encoder weights, the safe weights file, the checkpoint record, ONNX export.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.model.checkpoint import CheckpointMetadata, load_checkpoint, load_model, save_checkpoint
from ptxseg.model.encoder_weights import (
    WEIGHTS_CACHE_ENV,
    default_cache_dir,
    download_imagenet_weights,
    imagenet_weights_path,
    load_encoder_weights,
)
from ptxseg.model.factory import build_model
from ptxseg.model.network import (
    DEFAULT_ENCODER,
    SUPPORTED_ENCODERS,
    build_architecture,
    check_dropout,
    check_input_side,
    describe_weights,
    enable_mc_dropout,
    identify_architecture,
    recalibrate_batchnorm,
)
from ptxseg.model.onnx import ONNX_OPSET, cached_onnx_export, export_onnx

__all__ = [
    "CheckpointMetadata",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "WEIGHTS_CACHE_ENV",
    "load_encoder_weights",
    "default_cache_dir",
    "imagenet_weights_path",
    "download_imagenet_weights",
    "build_model",
    "DEFAULT_ENCODER",
    "SUPPORTED_ENCODERS",
    "build_architecture",
    "describe_weights",
    "identify_architecture",
    "recalibrate_batchnorm",
    "enable_mc_dropout",
    "check_input_side",
    "check_dropout",
    "ONNX_OPSET",
    "export_onnx",
    "cached_onnx_export",
]
