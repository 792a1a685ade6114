"""Labelled images from SIIM-ACR (RLE), PTX-498, plain folders and MONAI Label studies; the splits.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.datasets.labelled import CachedFittedDataset, FittedSample, LabelledImage, fit_labelled_image
from ptxseg.datasets.ptx498 import IMAGE_SUFFIX, MASK_SUFFIX, Sample, find_ptx498_pairs
from ptxseg.datasets.siim import EMPTY_RLE, RleMask, load_siim_masks, read_siim_rle_csv, rle_decode, rle_encode
from ptxseg.datasets.siim_studies import LABEL_FOLDER, SiimConversion, convert_siim
from ptxseg.datasets.specs import DATA_KINDS, find_images, load_data_specs, parse_data_spec
from ptxseg.datasets.splits import random_split, select_ids, split_by_id, split_by_ids

__all__ = [
    "LabelledImage",
    "FittedSample",
    "fit_labelled_image",
    "CachedFittedDataset",
    "IMAGE_SUFFIX",
    "MASK_SUFFIX",
    "Sample",
    "find_ptx498_pairs",
    "RleMask",
    "EMPTY_RLE",
    "load_siim_masks",
    "read_siim_rle_csv",
    "rle_decode",
    "rle_encode",
    "LABEL_FOLDER",
    "SiimConversion",
    "convert_siim",
    "DATA_KINDS",
    "parse_data_spec",
    "load_data_specs",
    "find_images",
    "split_by_id",
    "random_split",
    "select_ids",
    "split_by_ids",
]
