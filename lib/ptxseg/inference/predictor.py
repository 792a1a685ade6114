"""The Predictor: one loaded model and the whole inference data path, used by every front end.

read (CXRImage) -> preprocess (fit + normalise) -> forward -> probability map -> postprocess (mask + score)
-> undo the fit -> mask on the image's own grid, with area, side and the triage flag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import expit

from ptxseg.image import CXRImage
from ptxseg.inference.findings import describe_mask, patient_right_is_image_left
from ptxseg.inference.runtimes import InferenceBackend, select_backend
from ptxseg.model.checkpoint import load_model
from ptxseg.options import check_probability
from ptxseg.transforms.fit import DEFAULT_IMAGE_SIZE, FitInfo, fit_to_square, undo_fit_mask
from ptxseg.transforms.intensity import normalize
from ptxseg.transforms.postprocess import ThresholdPostprocess, pneumothorax_score, postprocess_from_dict

__all__ = ["Prediction", "Predictor", "DEFAULT_TRIAGE_THRESHOLD"]

DEFAULT_TRIAGE_THRESHOLD = 0.5


@dataclass
class Prediction:
    """One image's result: the mask on the image's own grid and what it means clinically."""

    mask: np.ndarray
    probability: float
    area_px: int
    area_cm2: float
    side: str
    flag: bool
    probability_map: np.ndarray = field(repr=False)
    fit: FitInfo = field(repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        """The JSON-ready fields (no arrays)."""
        return {
            "pneumothorax_probability": round(self.probability, 4),
            "area_px": self.area_px,
            "area_cm2": self.area_cm2,
            "side": self.side,
            "flag": self.flag,
            "latencies_ms": {name: round(value, 1) for name, value in self.timings_ms.items()},
        }


class Predictor:
    """A warm model with its pre- and post-processing.

    Args:
        backend: runs the network on a normalised (N, 1, S, S) float32 batch and returns logits.
        image_size: the square model input side S.
        postprocess: a callable mapping a probability map to a boolean mask (see ``ptxseg.transforms.postprocess``).
        triage_threshold: image-level probability at or above which an image is flagged for the worklist.

    Example:
        >>> predictor = Predictor.from_checkpoint("model.safetensors")  # doctest: +SKIP
        >>> prediction = predictor.predict(read_cxr("chest.dcm"))  # doctest: +SKIP
    """

    def __init__(
        self,
        backend: InferenceBackend,
        image_size: int = DEFAULT_IMAGE_SIZE,
        postprocess=None,
        triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD,
    ):
        check_probability("triage_threshold", triage_threshold)
        self.backend = backend
        self.image_size = image_size
        self.postprocess = postprocess or ThresholdPostprocess()
        self.triage_threshold = triage_threshold
        # The checkpoint's metadata (set by from_checkpoint): its recorded triage qualification, for example.
        self.metadata = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "auto",
        backend: str = "auto",
        postprocess=None,
        triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD,
    ) -> Predictor:
        """Load a checkpoint once and wrap it; post-processing defaults to the one stored with the model."""
        model, metadata = load_model(path)
        chosen = postprocess or postprocess_from_dict(metadata.postprocess)
        runtime = select_backend(model, metadata.image_size, device=device, kind=backend, checkpoint=Path(path))
        predictor = cls(runtime, metadata.image_size, chosen, triage_threshold)
        predictor.metadata = metadata
        return predictor

    def probability_maps(self, fitted: np.ndarray) -> np.ndarray:
        """Probabilities (N, S, S) for a batch of fitted [0, 1] images (N, S, S) at the model grid."""
        batch = normalize(np.asarray(fitted, np.float32))[:, None]
        logits = self.backend(batch)[:, 0]
        return expit(logits.astype(np.float32))

    def maps_and_scores(self, fitted: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """Probability maps and image-level pneumothorax probabilities of a fitted batch; a recipe whose image
        score is not read off its map (the two-stage classifier) overrides this."""
        maps = self.probability_maps(fitted)
        return maps, [pneumothorax_score(probability_map) for probability_map in maps]

    def predict(self, image: CXRImage) -> Prediction:
        """Run the whole data path on one image."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list[CXRImage]) -> list[Prediction]:
        """Run the whole data path on several images in one forward pass (for scoring and batch prediction)."""
        started = time.perf_counter()
        fitted, fits = zip(*(fit_to_square(image.pixels, self.image_size) for image in images), strict=True)
        prepared = time.perf_counter()
        maps, scores = self.maps_and_scores(np.stack(fitted))
        inferred = time.perf_counter()
        predictions = [
            self._finish(image, fit, prob, score)
            for image, fit, prob, score in zip(images, fits, maps, scores, strict=True)
        ]
        finished = time.perf_counter()
        timings = {
            "preprocess": 1000 * (prepared - started) / len(images),
            "forward": 1000 * (inferred - prepared) / len(images),
            "postprocess": 1000 * (finished - inferred) / len(images),
        }
        for prediction in predictions:
            prediction.timings_ms = dict(timings)
        return predictions

    def _finish(self, image: CXRImage, fit: FitInfo, probability_map: np.ndarray, probability: float) -> Prediction:
        model_grid_mask = self.postprocess(probability_map)
        mask = undo_fit_mask(model_grid_mask, fit)
        right_on_left = patient_right_is_image_left(image.metadata.get("patient_orientation"))
        findings = describe_mask(mask, image.spacing, right_on_left)
        return Prediction(
            mask=mask,
            probability=probability,
            area_px=findings.area_px,
            area_cm2=findings.area_cm2,
            side=findings.side,
            flag=probability >= self.triage_threshold,
            probability_map=probability_map,
            fit=fit,
        )
