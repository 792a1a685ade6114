"""Active-learning scoring cost per image: flip-TTA against MC dropout, and MC dropout's encoder reuse.

Each path scores the same batch of phantoms with ``ptxseg.inference.scoring.score_images`` (one pass of the served CPU
runtime for the probability, then the uncertainty's own passes):

- flip-TTA: a second pass of the served runtime, mirrored (the default, ``mc_samples 0``);
- MC dropout: ``--samples`` draws with the PyTorch model, the encoder run once and only the decoder sampled;
- MC dropout, whole forwards: the same draws from ``--samples`` full forward passes (the baseline the reuse beats).

    python -m benchmarks.bench_uncertainty                    # EfficientNet-B4 at 512, 8 draws, 2 images
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from benchmarks.common.machine import describe_machine, machine_lines
from benchmarks.common.model_inputs import input_side
from benchmarks.common.report import finish, format_table
from benchmarks.common.timing import summarize, time_ms
from ptxseg.image import CXRImage, Geometry
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.scoring import score_images
from ptxseg.inference.uncertainty import DropoutSampler, McDropoutUncertainty
from ptxseg.model.checkpoint import CheckpointMetadata, load_model, save_checkpoint
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture
from ptxseg.phantom.synthetic import make_phantom

__all__ = ["main", "run_benchmark"]

COLUMNS = [
    ("path", "path"),
    ("median_ms", "median ms / image"),
    ("p95_ms", "p95 ms / image"),
    ("vs_flip", "x flip-TTA"),
]


def _images(size: int, count: int) -> list[CXRImage]:
    return [
        CXRImage(make_phantom(size, positive=index % 2 == 0, seed=index).image, (1.0, 1.0), Geometry())
        for index in range(count)
    ]


def _mc(checkpoint: Path, samples: int, reuse_encoder: bool) -> McDropoutUncertainty:
    model, _ = load_model(checkpoint)
    return McDropoutUncertainty(DropoutSampler(model, samples, reuse_encoder=reuse_encoder))


def run_benchmark(args: argparse.Namespace) -> dict:
    """Time the three scoring paths on one batch; returns per-image timings and ratios."""
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-uncertainty-") as workdir:
        model = build_architecture(args.encoder, dropout=args.dropout).eval()
        metadata = CheckpointMetadata(encoder=args.encoder, image_size=args.size, dropout=args.dropout)
        checkpoint = save_checkpoint(Path(workdir) / "dropout.safetensors", model, metadata)
        predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
        images = _images(args.size, args.images)
        paths = [
            ("flip-TTA (served runtime x2)", None),
            (f"MC dropout, {args.samples} draws, encoder once", _mc(checkpoint, args.samples, True)),
            (f"MC dropout, {args.samples} draws, whole forwards", _mc(checkpoint, args.samples, False)),
        ]
        rows = []
        for label, uncertainty in paths:
            samples = time_ms(
                lambda uncertainty=uncertainty: score_images(predictor, images, uncertainty), args.repeats, 1
            )
            rows.append({"path": label, **summarize([value / len(images) for value in samples])})
    flip_ms = rows[0]["median_ms"]
    for row in rows:
        row["vs_flip"] = round(row["median_ms"] / flip_ms, 2)
    reuse = rows[1]["median_ms"] / rows[2]["median_ms"]
    return {
        "machine": describe_machine(),
        "settings": {
            "encoder": args.encoder,
            "size": args.size,
            "images": args.images,
            "samples": args.samples,
            "dropout": args.dropout,
            "served_runtime": predictor.backend.name,
        },
        "rows": rows,
        "encoder_reuse_ratio": round(reuse, 3),
    }


def print_results(results: dict) -> None:
    """The table and the ratios, as recorded in RESULTS.md."""
    for line in machine_lines(results["machine"]):
        print(line)
    settings = results["settings"]
    print(
        f"random-init {settings['encoder']} with decoder dropout {settings['dropout']} at {settings['size']} px, "
        f"{settings['images']} images per scoring batch; served runtime {settings['served_runtime']}"
    )
    print(format_table(results["rows"], COLUMNS))
    print(f"MC dropout, encoder once vs whole forwards: {results['encoder_reuse_ratio']}x the time")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_uncertainty", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--size", type=input_side, default=512, help="model input side")
    parser.add_argument("--images", type=int, default=2, help="images per scoring batch")
    parser.add_argument("--samples", type=int, default=8, help="MC-dropout draws")
    parser.add_argument("--dropout", type=float, default=0.2, help="decoder dropout of the model")
    parser.add_argument("--repeats", type=int, default=3, help="timed scorings per path (median reported)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) its results."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
