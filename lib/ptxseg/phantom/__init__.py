"""Synthetic chest X-rays with known pneumothorax masks, for tests, the demo studies and calibration."""

from ptxseg import lazy_exports

_EXPORTS = {
    "Phantom": "synthetic",
    "make_phantom": "synthetic",
    "make_dataset": "synthetic",
    "write_phantoms": "files",
    "make_demo_studies": "demo",
    "default_demo_dir": "demo",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
