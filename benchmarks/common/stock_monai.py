"""A stock MONAI Label 2D segmentation pipeline, built from MONAI transforms: the baseline /infer is compared with.

What a sample MONAI Label app does for a 2D image: read with ITK, channel first, scale intensity to [0, 1], resize to
the network's input, fp32 forward under ``torch.no_grad``, sigmoid and threshold, resize back, write with ITK.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from monai.data import MetaTensor
from monai.transforms import (
    Activations,
    AsDiscrete,
    Compose,
    EnsureChannelFirst,
    LoadImage,
    Resize,
    SaveImage,
    ScaleIntensity,
    SqueezeDim,
)

__all__ = ["StockMonaiPipeline"]


class StockMonaiPipeline:
    """LoadImage(ITKReader) -> EnsureChannelFirst -> ScaleIntensity -> Resize -> fp32 forward -> Activations ->
    AsDiscrete -> Resize back -> SaveImage(ITKWriter), in-process.

    Args:
        model: the segmentation network (one logit channel), run in fp32 NCHW as a stock app runs it.
        image_size: square network input side.
        out_dir: where the label files are written.

    Example:
        >>> pipeline = StockMonaiPipeline(build_architecture("efficientnet-b4"), 512, "/tmp/out")  # doctest: +SKIP
        >>> pipeline("chest.dcm")  # doctest: +SKIP
        PosixPath('/tmp/out/chest_seg.nrrd')
    """

    def __init__(self, model: torch.nn.Module, image_size: int, out_dir: str | os.PathLike):
        self.model = model.eval()
        self.timings_ms: dict[str, float] = {}
        self.out_dir = Path(out_dir)
        # A single-frame DICOM reads as (rows, columns, 1): the squeeze makes it the 2-D image the network expects.
        self.load = Compose([LoadImage(reader="ITKReader", image_only=True), EnsureChannelFirst(), SqueezeDim(dim=-1)])
        self.preprocess = Compose([ScaleIntensity(), Resize((image_size, image_size), mode="bilinear")])
        self.activate = Compose([Activations(sigmoid=True), AsDiscrete(threshold=0.5)])
        self.writer = SaveImage(
            output_dir=self.out_dir,
            output_ext=".nrrd",
            output_postfix="seg",
            writer="ITKWriter",
            separate_folder=False,
            resample=False,
            print_log=False,
        )

    def __call__(self, path: str | os.PathLike) -> Path:
        """Segment one image file and write its label; returns the label's path. ``timings_ms`` holds the split."""
        marks = [time.perf_counter()]
        image = self.load(str(path))
        marks.append(time.perf_counter())
        network_input = self.preprocess(image)
        marks.append(time.perf_counter())
        with torch.no_grad():
            logits = self.model(network_input[None].as_tensor())[0]
        marks.append(time.perf_counter())
        mask = Resize(tuple(image.shape[1:]), mode="nearest")(self.activate(logits))
        marks.append(time.perf_counter())
        self.writer(MetaTensor(mask, meta=image.meta))
        marks.append(time.perf_counter())
        stages = ("read", "preprocess", "forward", "postprocess", "write")
        self.timings_ms = {
            name: 1000 * (end - start) for name, start, end in zip(stages, marks[:-1], marks[1:], strict=True)
        }
        return self.out_dir / f"{Path(path).stem}_seg.nrrd"
