"""Steps 2 and 4 of the data path, on arrays only: fit to the model's square and undo it, normalise, threshold/min-area/triplet post-processing.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.transforms.fit import DEFAULT_IMAGE_SIZE, FitInfo, fit_mask, fit_to_square, undo_fit, undo_fit_mask
from ptxseg.transforms.intensity import IMAGENET_GREY_MEAN, IMAGENET_GREY_STD, normalize
from ptxseg.transforms.postprocess import (
    ThresholdPostprocess,
    TripletPostprocess,
    pneumothorax_score,
    postprocess_from_dict,
    remove_small_components,
)

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "FitInfo",
    "fit_to_square",
    "fit_mask",
    "undo_fit",
    "undo_fit_mask",
    "IMAGENET_GREY_MEAN",
    "IMAGENET_GREY_STD",
    "normalize",
    "ThresholdPostprocess",
    "TripletPostprocess",
    "postprocess_from_dict",
    "remove_small_components",
    "pneumothorax_score",
]
