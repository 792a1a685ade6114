"""The data path end to end for one model: Predictor, CPU/GPU runtimes, findings, uncertainty, scoring, batch prediction.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.inference.batch import (
    PREDICTION_COLUMNS,
    PREDICTIONS_NAME,
    collect_inputs,
    predict_archive,
    predict_files,
)
from ptxseg.inference.findings import MaskFindings, describe_mask, patient_right_is_image_left
from ptxseg.inference.onnx_check import ONNX_TOLERANCE, OnnxExport, export_checked_onnx, onnx_max_difference
from ptxseg.inference.predictor import DEFAULT_TRIAGE_THRESHOLD, Prediction, Predictor
from ptxseg.inference.runtimes import (
    BACKEND_KINDS,
    InferenceBackend,
    OnnxRuntimeBackend,
    OpenVINOBackend,
    TorchBackend,
    select_backend,
)
from ptxseg.inference.scoring import ImageScore, score_images
from ptxseg.inference.uncertainty import (
    DropoutSampler,
    FlipUncertainty,
    McDropoutUncertainty,
    Uncertainty,
    disagreement,
    require_dropout,
)

__all__ = [
    "PREDICTION_COLUMNS",
    "PREDICTIONS_NAME",
    "collect_inputs",
    "predict_files",
    "predict_archive",
    "MaskFindings",
    "describe_mask",
    "patient_right_is_image_left",
    "ONNX_TOLERANCE",
    "OnnxExport",
    "onnx_max_difference",
    "export_checked_onnx",
    "Prediction",
    "Predictor",
    "DEFAULT_TRIAGE_THRESHOLD",
    "BACKEND_KINDS",
    "InferenceBackend",
    "TorchBackend",
    "OpenVINOBackend",
    "OnnxRuntimeBackend",
    "select_backend",
    "ImageScore",
    "score_images",
    "Uncertainty",
    "FlipUncertainty",
    "DropoutSampler",
    "McDropoutUncertainty",
    "disagreement",
    "require_dropout",
]
