"""ptxseg: pneumothorax segmentation on chest X-rays (EfficientNet-B4 U-Net), for MONAI Label and 3D Slicer.

The names a user imports live here, each loaded on first use so that ``import ptxseg`` stays cheap (no torch):

    >>> import ptxseg
    >>> ptxseg.read_cxr.__module__
    'ptxseg.io.reader'

Each step of the data path is a package (docs/architecture.md); every package exposes its public names the same
lazy way, so importing one light module never drags in torch.
"""

import importlib
import sys
from collections.abc import Callable

__version__ = "0.1.0"

# OpenVINO sends a usage event to Google Analytics each time it is imported, and NNCF one for each quantisation, each
# from a forked copy of the process (measured: 0.9 GB RSS apiece while it lives), without asking: no consent file
# counts as consent, and a client id is written under ~/intel. A hospital's server must not reach the network behind
# its users' back. Both fall back to their own stubs when the telemetry package is missing, so ptxseg marks it as
# not installed before either is imported.
sys.modules.setdefault("openvino_telemetry", None)


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """PEP 562 hooks for ``package``: each name in ``exports`` is imported from its module on first use.

    Args:
        package: the package's ``__name__``.
        exports: public name -> module (relative to ``package``) that defines it.

    Returns:
        ``(__getattr__, __dir__)`` for the package's namespace.

    Example:
        >>> getattr_hook, _ = lazy_exports("ptxseg.io", {"read_cxr": "reader"})
        >>> getattr_hook("read_cxr").__name__
        'read_cxr'
    """

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


_EXPORTS = {
    "CXRImage": "image",
    "CXRReadError": "image",
    "Geometry": "image",
    "read_cxr": "io.reader",
    "write_label": "io.labels",
    "read_label": "io.labels",
    "Predictor": "inference.predictor",
    "Prediction": "inference.predictor",
    "build_model": "model.factory",
    "load_model": "model.checkpoint",
    "save_checkpoint": "model.checkpoint",
    "TrainConfig": "training.config",
    "train": "training.loop",
    "evaluate": "evaluation.evaluate",
}
__all__ = ["__version__", "lazy_exports", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
