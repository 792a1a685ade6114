"""Step 1 of the data path: chest X-ray files in as a CXRImage with its geometry; labels and masks out.

``reader`` dispatches by content and suffix to ``dicom``, ``raster`` (PNG/JPEG/BMP/TIFF) and ``itk`` (NIfTI/NRRD),
which share the guards of ``guards`` and the suffix tables of ``formats``; ``labels`` writes and reads labels on an
image's grid, ``masks`` plain mask files, ``writers`` the phantom DICOM/PNG files, ``atomic`` the one atomic write.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "read_cxr": "reader",
    "image_id": "reader",
    "MAX_PIXELS": "reader",
    "SUPPORTED_SUFFIXES": "formats",
    "LABEL_SUFFIXES": "formats",
    "write_label": "labels",
    "read_label": "labels",
    "read_mask": "masks",
    "write_mask": "masks",
    "MASK_FORMATS": "masks",
    "write_dicom": "writers",
    "write_png": "writers",
    "quantize": "writers",
    "atomic_write": "atomic",
    "write_text_atomically": "atomic",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
