"""The ``pneumothorax`` inference task: a thin adapter from a MONAI Label request to the served ``Predictor``."""

from __future__ import annotations

import os
import tempfile
import time

from fastapi import HTTPException
from monailabel.interfaces.tasks.infer_v2 import InferTask, InferType

from ptxseg.inference.probability import PROBABILITY_PARAM, write_probability
from ptxseg.io.labels import write_label
from ptxseg.io.reader import image_id, read_cxr
from ptxseg.serving.monitoring.store import MonitorStore
from ptxseg.serving.served_model import ServedModel


class PneumothoraxInfer(InferTask):
    """Segment pneumothorax on one chest X-ray; the label comes back on exactly the image's grid (NRRD)."""

    def __init__(self, served: ServedModel, labels: dict[str, int], monitor: MonitorStore):
        super().__init__(
            type=InferType.SEGMENTATION,
            labels=labels,
            dimension=2,
            description="Pneumothorax on chest X-ray (EfficientNet-B4 U-Net)",
        )
        self.served = served
        self.monitor = monitor

    def is_valid(self) -> bool:
        """Always servable: an untrained model is served too, and /info says so."""
        return True

    def __call__(self, request: dict) -> tuple[str, dict]:
        """Run the library's data path on the request's image; returns (temporary label file, result JSON)."""
        started = time.perf_counter()
        path = request["image"]
        name = os.path.basename(path)
        try:
            image = read_cxr(path)
        except ValueError as error:
            raise HTTPException(422, f"cannot read image {name}: {str(error).replace(path, name)}") from error
        read_done = time.perf_counter()
        predictor = self.served.predictor()
        prediction = predictor.predict(image)
        handle, label_path = tempfile.mkstemp(prefix="ptxseg-", suffix=".nrrd")
        os.close(handle)
        if request.get(PROBABILITY_PARAM) is True:
            write_probability(prediction, like=image, path=label_path)
        else:
            write_label(prediction.mask, like=image, path=label_path)
        record = self.served.record
        result = prediction.summary()
        total_ms = round(1000 * (time.perf_counter() - started), 1)
        result["latencies_ms"] = {
            "read": round(1000 * (read_done - started), 1),
            **result["latencies_ms"],
            "total": total_ms,
        }
        # What the annotator is shown is what the final label is later compared with (real-world agreement).
        self.monitor.record_inference(
            image_id(path),
            path,
            image,
            prediction.mask,
            probability=prediction.probability,
            flag=prediction.flag,
            model_version=record.version,
            latency_ms=total_ms,
        )
        result.update(
            label_names=self.labels,
            postprocess=predictor.postprocess.to_dict(),
            triage_threshold=predictor.triage_threshold,
            model_version=record.version,
            model_trained=record.trained,
            backend=predictor.backend.name,
            warnings=image.warnings,
        )
        return label_path, result
