"""One loader for every kind of model file: a U-Net checkpoint, an ensemble or a two-stage bundle.

Each comes back as a ``Predictor`` (the same interface: predict, predict_batch, probability_maps, postprocess), so
infer, scoring, evaluation and comparison need not know which recipe they run.
"""

from __future__ import annotations

import os

from ptxseg.inference.ensemble import EnsembleBackend
from ptxseg.inference.predictor import DEFAULT_TRIAGE_THRESHOLD, Predictor
from ptxseg.inference.runtimes import select_backend
from ptxseg.inference.two_stage import TwoStagePredictor
from ptxseg.model.bundle import check_options, load_bundle, model_kind
from ptxseg.transforms.postprocess import postprocess_from_dict

__all__ = ["load_predictor"]


def load_predictor(
    path: str | os.PathLike,
    device: str = "auto",
    backend: str = "auto",
    postprocess=None,
    triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD,
    options: dict | None = None,
) -> Predictor:
    """The warm predictor of any model file; post-processing defaults to the one stored with it.

    ``options`` replaces a bundle's stored recipe options (a server's conf decides its thresholds).

    Example:
        >>> load_predictor("ensemble.safetensors").backend.name  # doctest: +SKIP
        'ensemble(3 x openvino-bf16, hflip on)'
    """
    if model_kind(path) == "unet":
        return Predictor.from_checkpoint(path, device, backend, postprocess, triage_threshold)
    bundle = load_bundle(path)
    if options is not None:
        check_options(bundle.kind, options)
        bundle.options = options
    size = bundle.image_size
    # Networks are exported to ONNX in temporary folders: the cache beside a checkpoint holds one network.
    runtimes = [select_backend(model, size, device=device, kind=backend) for model, _ in bundle.unets]
    chosen = postprocess or postprocess_from_dict(bundle.options["postprocess"])
    options = {"image_size": size, "postprocess": chosen, "triage_threshold": triage_threshold}
    if bundle.kind == "ensemble":
        return Predictor(EnsembleBackend(runtimes, bundle.options["hflip"]), **options)
    # The classifier runs on the same kind of runtime as the U-Net (OpenVINO on CPU): measured, PyTorch beside a
    # busy OpenVINO runtime took seconds per image on 2 cores.
    classifier = select_backend(bundle.classifier[0], size, device=device, kind=backend)
    return TwoStagePredictor(classifier, bundle.options["classifier_threshold"], runtimes[0], **options)
