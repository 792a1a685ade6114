"""The model's probability map on the image's own pixel grid, as a float32 file beside the mask.

The Predictor keeps the map at the square model grid; undoing the letterbox (bilinear, like the mask's edges)
puts it on exactly the image's grid, so a viewer can overlay it and re-cut the mask at any threshold.
Servers return it for inference requests with ``{"probability_map": true}`` among the params.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ptxseg.image import CXRImage
from ptxseg.inference.predictor import Prediction
from ptxseg.io.atomic import atomic_write
from ptxseg.io.itk import itk_label_image
from ptxseg.transforms.fit import undo_fit

__all__ = ["PROBABILITY_PARAM", "probability_on_grid", "write_probability"]

PROBABILITY_PARAM = "probability_map"


def probability_on_grid(prediction: Prediction) -> np.ndarray:
    """The prediction's probability map (model grid) brought back to the image's (rows, columns), in [0, 1].

    Example:
        >>> grid = probability_on_grid(predictor.predict(read_cxr("chest.dcm")))  # doctest: +SKIP
        >>> grid.shape == image.shape, grid.dtype  # doctest: +SKIP
        (True, dtype('float32'))
    """
    return np.clip(undo_fit(prediction.probability_map, prediction.fit), 0.0, 1.0).astype(np.float32)


def write_probability(prediction: Prediction, like: CXRImage, path: str | os.PathLike) -> Path:
    """Write the probability map as float32 (NRRD or NIfTI by the suffix) on exactly ``like``'s grid, atomically.

    Example:
        >>> write_probability(prediction, like=image, path="chest.probability.nrrd")  # doctest: +SKIP
        PosixPath('chest.probability.nrrd')
    """
    probabilities = probability_on_grid(prediction)
    if probabilities.shape != like.shape:
        raise ValueError(f"the prediction's grid {probabilities.shape} is not the image's {like.shape}")
    with atomic_write(path) as temporary:
        sitk.WriteImage(itk_label_image(probabilities, like.geometry), str(temporary), useCompression=True)
    return Path(path)
