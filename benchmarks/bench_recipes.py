"""Latency of the sample apps' recipes against the main app's single U-Net, at the served size, side by side.

``python -m benchmarks.bench_recipes`` builds random-init networks (latency does not depend on the weights): the
single EfficientNet-B4 U-Net, the default ensemble (B4 + B2 + B0, flip-TTA) and the two-stage model (B4 classifier
+ B4 U-Net), and times them through ``ptxseg.evaluation.compare`` exactly as ``ptxseg compare`` does.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ptxseg.datasets.specs import load_data_specs
from ptxseg.evaluation.compare import compare_models
from ptxseg.inference.loading import load_predictor
from ptxseg.model.bundle import ClassifierMetadata, ModelBundle, save_bundle
from ptxseg.model.checkpoint import CheckpointMetadata, save_checkpoint
from ptxseg.model.classifier import build_classifier
from ptxseg.model.network import build_architecture
from ptxseg.phantom.files import write_phantoms
from ptxseg.training.recipes import DEFAULT_ENSEMBLE, default_options


def _models(folder: Path, size: int) -> dict[str, Path]:
    def unet(encoder):
        return build_architecture(encoder).eval(), CheckpointMetadata(encoder, image_size=size)

    single = save_checkpoint(folder / "single.safetensors", *unet("efficientnet-b4"))
    ensemble = ModelBundle("ensemble", [unet(e) for e in DEFAULT_ENSEMBLE], default_options("ensemble", size))
    classifier = (build_classifier("efficientnet-b4").eval(), ClassifierMetadata("efficientnet-b4", size))
    two_stage = ModelBundle("two_stage", [unet("efficientnet-b4")], default_options("two_stage", size), classifier)
    return {
        "single": single,
        "ensemble": save_bundle(folder / "ensemble.safetensors", ensemble),
        "two_stage": save_bundle(folder / "two_stage.safetensors", two_stage),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_phantoms(folder / "phantoms", args.images, size=args.size)
        items = load_data_specs([f"folder:{folder / 'phantoms' / 'images'},{folder / 'phantoms' / 'masks'}"])
        predictors = {
            name: load_predictor(path, "cpu", args.backend) for name, path in _models(folder, args.size).items()
        }
        comparison = compare_models(predictors, items, args.images, args.repeats)
    rows = [
        {key: row[key] for key in ("name", "backend", "latency_ms", "latency_ratio")} for row in comparison["models"]
    ]
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
