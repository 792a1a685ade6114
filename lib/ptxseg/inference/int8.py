"""int8 post-training quantisation of the CPU model with NNCF, cached beside its checkpoint like the ONNX export.

The profile of the bf16 forward says dense convolutions take 78 % of it (benchmarks/RESULTS.md): int8 is the lever
left on CPUs with VNNI. NNCF's MIXED preset (symmetric weights, asymmetric activations) is calibrated on real
model inputs (the served studies when there are enough, else phantoms), never on random tensors: calibrated on
noise the activations' ranges are wrong and the masks with them. Whatever comes out is only served after the
accuracy gate (``ptxseg.inference.runtime_gate``) found it agrees with the fp32 reference.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ptxseg.io.atomic import write_text_atomically
from ptxseg.model.identity import file_digest

__all__ = ["FULL_PRECISION_LAYERS", "INT8_MODEL_NAME", "cached_int8_model", "int8_model_path", "quantize_int8"]

LOGGER = logging.getLogger(__name__)
INT8_MODEL_NAME = "model.xml"
# The layers that draw the outline stay in full precision. Measured on the phantom-trained b0 U-Net (128 px, 16
# held-out phantoms, 32 calibration phantoms, the graph from convert_model): everything in int8 gave mask Dice 0.9921
# against fp32 for the fp32-trained model and 0.9872 (below the gate's 0.99) for the bf16-trained one; with the
# segmentation head and the last decoder block (the full-resolution one) kept, 0.9936 and 0.9927. Names are those
# of MONAI FlexibleUNet's ONNX export.
FULL_PRECISION_LAYERS = (".*segmentation_head.*", ".*decoder/blocks.4/.*")


def quantize_int8(onnx_path: str | os.PathLike, calibration: Sequence[np.ndarray], out_dir: str | os.PathLike) -> Path:
    """Quantise an ONNX export to int8 with NNCF, calibrated on ``calibration`` (normalised (1, 1, S, S) inputs; a
    ``LazyInputs`` makes each when NNCF asks for it).

    Returns the OpenVINO model file (``out_dir/model.xml`` with its ``model.bin``).

    Example:
        >>> quantize_int8("model.onnx", calibration_inputs, "model.int8")  # doctest: +SKIP
    """
    import nncf
    import openvino as ov

    if not calibration:
        raise ValueError("int8 calibration needs at least one model input; pass served studies or phantoms")
    # convert_model, not read_model: its transformations fuse EfficientNet's x * sigmoid(x) into Swish ops, so NNCF
    # quantises around Convolution + Swish as OpenVINO will run them. On the graph read_model gives, NNCF's
    # quantise steps split each Swish from its convolution: measured at 512 (B4, Zen 4), 49 ms of unfused Sigmoid and
    # 31 ms of Reorders made int8 167 ms against bf16 117 ms; and int8 of the bf16-trained phantom model agreed with
    # fp32 at mask Dice 0.9825 (refused), 0.9927 with convert_model.
    model = ov.convert_model(str(onnx_path))
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration, lambda item: np.ascontiguousarray(item, np.float32)),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(calibration),
        fast_bias_correction=True,
        ignored_scope=nncf.IgnoredScope(patterns=list(FULL_PRECISION_LAYERS), validate=False),
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out_dir / INT8_MODEL_NAME))
    return out_dir / INT8_MODEL_NAME


def int8_model_path(checkpoint: Path, image_size: int) -> Path:
    """Where the int8 model of ``checkpoint`` at ``image_size`` lives (it may not exist yet).

    Example:
        >>> int8_model_path(Path("model/served.safetensors"), 512).as_posix()
        'model/served.safetensors.512.int8/model.xml'
    """
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.name}.{image_size}.int8") / INT8_MODEL_NAME


def cached_int8_model(
    onnx_path: Path, checkpoint: Path, image_size: int, calibration: Sequence[np.ndarray], calibration_source: str
) -> Path:
    """The int8 model beside ``checkpoint``, quantised again whenever the checkpoint's content or the calibration
    source changed.

    The model lives in a folder of its own (``<checkpoint>.<size>.int8/``), built in a temporary folder and
    renamed into place, with a stamp written last (checkpoint digest and where the calibration images came from),
    so a crash never leaves a half-written model that looks current.
    """
    checkpoint = Path(checkpoint)
    folder = int8_model_path(checkpoint, image_size).parent
    stamp_path = folder.with_name(folder.name + ".json")
    digest = file_digest(checkpoint)
    if (folder / INT8_MODEL_NAME).is_file() and stamp_path.is_file():
        try:
            stamp = json.loads(stamp_path.read_text())
            if (stamp.get("checkpoint_sha256"), stamp.get("calibration")) == (digest, calibration_source):
                return folder / INT8_MODEL_NAME
        except ValueError:
            LOGGER.warning("unreadable int8 stamp %s: quantising again", stamp_path.name)
    LOGGER.info("quantising %s to int8, calibrated on %s", checkpoint.name, calibration_source)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-int8-", dir=checkpoint.parent))
    try:
        quantize_int8(onnx_path, calibration, staging)
        stamp_path.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record = {"checkpoint_sha256": digest, "calibration": calibration_source, "images": len(calibration)}
    write_text_atomically(stamp_path, json.dumps(record))
    return folder / INT8_MODEL_NAME
