"""``ptxseg export``: install a checkpoint as the MONAI Label app's model, or write a checked ONNX file."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``export`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "export",
        help="install a checkpoint in the MONAI Label app, or export it to ONNX",
        description="--app: make the checkpoint the app's served model (APP/model when APP holds main.py, else "
        "APP itself); the previous model is kept and the model record's version grows by one. --onnx: export "
        "to ONNX and check it against PyTorch fp32 on random synthetic chest X-rays (phantoms); the file is "
        "kept only within --tolerance. Either way a checkpoint that does not load is refused and nothing changes.",
    )
    parser.add_argument("--model", required=True, help="checkpoint (.safetensors, .pt or .pth)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--app", metavar="DIR", help="MONAI Label app folder, or its model folder")
    target.add_argument("--onnx", metavar="FILE", help="ONNX file to write")
    parser.add_argument(
        "--tolerance", type=float, help="largest allowed |ONNX - PyTorch| logit difference (default: 1e-3)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Install or export, and print what happened."""
    from ptxseg.inference.onnx_check import ONNX_TOLERANCE, export_checked_onnx
    from ptxseg.serving.app_location import app_model_dir
    from ptxseg.serving.install import install_in_app

    if args.app is not None:
        record = install_in_app(args.model, args.app)
        dice = "n/a" if record.validation_dice is None else f"{record.validation_dice:.4f}"
        print(
            f"installed {args.model} in {app_model_dir(args.app)} as model version {record.version} "
            f"(validation Dice {dice}, {record.training_images} training images)"
        )
        return 0
    tolerance = ONNX_TOLERANCE if args.tolerance is None else args.tolerance
    exported = export_checked_onnx(args.model, args.onnx, tolerance)
    print(
        f"exported {args.model} to {exported.path} (input image: N x 1 x {exported.image_size} x "
        f"{exported.image_size}, normalised; output logits); max |ONNX Runtime - PyTorch fp32| = "
        f"{exported.max_difference:.3g} (tolerance {tolerance:g})"
    )
    return 0
