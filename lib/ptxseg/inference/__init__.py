"""The data path end to end for one model: Predictor, the CPU/GPU runtimes, findings, uncertainty, scoring for
active learning, batch prediction over an archive, and the ONNX export's numerical check.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "Predictor": "predictor",
    "Prediction": "predictor",
    "select_backend": "runtimes",
    "BACKEND_KINDS": "runtimes",
    "describe_mask": "findings",
    "FlipUncertainty": "uncertainty",
    "McDropoutUncertainty": "uncertainty",
    "score_images": "scoring",
    "predict_archive": "batch",
    "collect_inputs": "batch",
    "export_checked_onnx": "onnx_check",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
