"""``ptxseg compare``: the single U-Net, an ensemble and a two-stage model judged on one data set, side by side."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``compare`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "compare",
        help="judge several models (U-Net, ensemble, two-stage) on one data set: accuracy and latency side by side",
        description="Predict every labelled image with each model through the app's data path and write "
        "OUT/comparison.md (the table), OUT/comparison.json (with per-image Dice) and OUT/comparison.png. "
        "Latency is the median single-image prediction time on this machine, models alternating. A model is "
        "NAME=FILE or FILE (named after the file); any kind: a U-Net checkpoint or an ensemble/two-stage bundle.",
    )
    parser.add_argument("--data", action="append", required=True, metavar="SPEC", help="labelled data (repeatable)")
    parser.add_argument("--model", action="append", required=True, metavar="[NAME=]FILE", help="a model (repeatable)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--ids", help="only the images listed in this file (e.g. a held-out val_ids.txt)")
    parser.add_argument("--backend", default="auto", help="auto, torch, openvino or onnxruntime (default: auto)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--triage-threshold", type=float, default=0.5, help="image flagged at this score (0.5)")
    parser.add_argument("--latency-images", type=int, default=8, help="images timed per model (default: 8)")
    parser.set_defaults(run=run)


def model_names(specs: list[str]) -> dict[str, str]:
    """``NAME=FILE`` or ``FILE`` arguments as {name: file}; names must differ.

    Example:
        >>> model_names(["single=runs/b4/best.safetensors", "runs/ensemble.safetensors"])
        {'single': 'runs/b4/best.safetensors', 'ensemble': 'runs/ensemble.safetensors'}
    """
    from pathlib import Path

    named = {}
    for spec in specs:
        name, _, path = spec.rpartition("=")
        name = name or Path(path).stem
        if name in named:
            raise ValueError(f"two models are named {name!r}; name them: --model NAME=FILE")
        named[name] = path
    return named


def run(args: argparse.Namespace) -> int:
    """Compare, write the files and print the table."""
    from pathlib import Path

    from ptxseg.datasets.specs import load_data_specs
    from ptxseg.datasets.splits import select_ids
    from ptxseg.evaluation.compare import compare_models, write_comparison
    from ptxseg.inference.loading import load_predictor

    models = model_names(args.model)
    items = load_data_specs(args.data)
    if args.ids:
        items = select_ids(items, Path(args.ids))
    predictors = {
        name: load_predictor(path, args.device, args.backend, triage_threshold=args.triage_threshold)
        for name, path in models.items()
    }
    comparison = compare_models(predictors, items, args.latency_images)
    paths = write_comparison(Path(args.out), comparison, {"specs": list(args.data), "models": models})
    print(paths["markdown"].read_text())
    return 0
