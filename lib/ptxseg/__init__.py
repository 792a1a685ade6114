"""ptxseg: pneumothorax segmentation on chest X-rays (EfficientNet-B4 U-Net), for MONAI Label and 3D Slicer.

The names a user imports live here, loaded on first use so that ``import ptxseg`` stays cheap (no torch):

    >>> import ptxseg
    >>> ptxseg.read_cxr.__module__
    'ptxseg.io.reader'

The data path, one package a step, is described in docs/architecture.md.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "CXRImage": "ptxseg.image",
    "CXRReadError": "ptxseg.image",
    "Geometry": "ptxseg.image",
    "read_cxr": "ptxseg.io.reader",
    "write_label": "ptxseg.io.labels",
    "read_label": "ptxseg.io.labels",
    "Predictor": "ptxseg.inference.predictor",
    "Prediction": "ptxseg.inference.predictor",
    "build_model": "ptxseg.model.factory",
    "load_model": "ptxseg.model.checkpoint",
    "save_checkpoint": "ptxseg.model.checkpoint",
    "TrainConfig": "ptxseg.training.config",
    "train": "ptxseg.training.loop",
    "evaluate": "ptxseg.evaluation.evaluate",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ptxseg' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
