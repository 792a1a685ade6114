"""Labelled images from SIIM-ACR (RLE), PTX-498, plain folders and MONAI Label studies, and their splits."""

from ptxseg import lazy_exports

_EXPORTS = {
    "LabelledImage": "labelled",
    "CachedFittedDataset": "labelled",
    "load_data_specs": "specs",
    "find_images": "specs",
    "RleMask": "siim",
    "read_siim_rle_csv": "siim",
    "rle_decode": "siim",
    "rle_encode": "siim",
    "find_ptx498_pairs": "ptx498",
    "convert_siim": "siim_studies",
    "split_by_id": "splits",
    "random_split": "splits",
    "split_by_ids": "splits",
    "select_ids": "splits",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
