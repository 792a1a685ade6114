"""Step 1 of the data path: chest X-ray files in as a CXRImage with its geometry; labels and masks out.

``reader`` dispatches by content and suffix to ``dicom``, ``raster`` (PNG/JPEG/BMP/TIFF) and ``itk`` (NIfTI/NRRD),
which share the guards of ``guards`` and the suffix tables of ``formats``; ``labels`` writes and reads labels on an
image's grid, ``masks`` plain mask files, ``writers`` the phantom DICOM/PNG files.
"""

from ptxseg.io.formats import LABEL_SUFFIXES, SUPPORTED_SUFFIXES
from ptxseg.io.labels import read_label, write_label
from ptxseg.io.masks import MASK_FORMATS, read_mask, write_mask
from ptxseg.io.reader import MAX_PIXELS, image_id, read_cxr
from ptxseg.io.writers import quantize, write_dicom, write_png

__all__ = [
    "LABEL_SUFFIXES",
    "MASK_FORMATS",
    "MAX_PIXELS",
    "SUPPORTED_SUFFIXES",
    "image_id",
    "quantize",
    "read_cxr",
    "read_label",
    "read_mask",
    "write_dicom",
    "write_label",
    "write_mask",
    "write_png",
]
