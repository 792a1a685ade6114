"""Small untrained recipe bundles (b0 networks at 64 px with phantom BatchNorm statistics) for plumbing tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ptxseg.model.bundle import ClassifierMetadata, ModelBundle, save_bundle
from ptxseg.model.checkpoint import load_model
from ptxseg.model.classifier import build_classifier
from ptxseg.model.network import recalibrate_batchnorm
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.training.recipes import default_options
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize
from tests.support.small_model import SMALL_MODEL_SIZE, write_small_checkpoint


def write_small_bundle(folder: Path, kind: str, options: dict | None = None) -> Path:
    """An ensemble of two b0 U-Nets or a two-stage b0 classifier + U-Net, saved as ``folder/<kind>.safetensors``."""
    folder.mkdir(parents=True, exist_ok=True)
    unet = load_model(write_small_checkpoint(folder / "unet.safetensors"))
    unets = [unet, load_model(folder / "unet.safetensors")] if kind == "ensemble" else [unet]
    classifier = None
    if kind == "two_stage":
        torch.manual_seed(0)
        fitted = np.stack(
            [fit_to_square(make_phantom(SMALL_MODEL_SIZE, seed=s).image, SMALL_MODEL_SIZE)[0] for s in range(4)]
        )
        network = recalibrate_batchnorm(
            build_classifier("efficientnet-b0"), [normalize(torch.from_numpy(fitted))[:, None]]
        )
        classifier = (network, ClassifierMetadata("efficientnet-b0", SMALL_MODEL_SIZE))
    bundle = ModelBundle(kind, unets, options or default_options(kind, SMALL_MODEL_SIZE), classifier)
    return save_bundle(folder / f"{kind}.safetensors", bundle)
