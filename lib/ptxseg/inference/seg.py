"""A prediction as a DICOM Segmentation of its source image, saved atomically: the one path from a Prediction to a
SEG, used by ``ptxseg predict --format seg`` and by pre-screening."""

from __future__ import annotations

import os
from pathlib import Path

from pydicom.dataset import Dataset

from ptxseg.inference.predictor import Prediction
from ptxseg.io.atomic import atomic_write
from ptxseg.io.seg import prediction_seg

__all__ = ["SEG_SUFFIX", "save_seg", "seg_of_prediction"]

SEG_SUFFIX = ".seg.dcm"


def seg_of_prediction(source: Dataset, prediction: Prediction, model_version: str, qualified: bool) -> Dataset:
    """The AUTOMATIC SEG of ``prediction`` on ``source``; an unqualified model's SEG never carries a flag.

    Example:
        >>> seg = seg_of_prediction(pydicom.dcmread("chest.dcm"), prediction, "sha256:0a1b", False)  # doctest: +SKIP
        >>> seg.ContentLabel  # doctest: +SKIP
        'PTX_0873_NQ'
    """
    return prediction_seg(
        source,
        prediction.mask,
        probability=prediction.probability,
        flag=prediction.flag,
        qualified=qualified,
        model_version=model_version,
    )


def save_seg(seg: Dataset, path: str | os.PathLike) -> Path:
    """Write ``seg`` to ``path`` atomically (a crash leaves no half SEG for a PACS to pick up).

    Example:
        >>> save_seg(seg, "out/1.2.840.99.seg.dcm")  # doctest: +SKIP
        PosixPath('out/1.2.840.99.seg.dcm')
    """
    with atomic_write(path) as temporary:
        seg.save_as(temporary, write_like_original=False)
    return Path(path)
