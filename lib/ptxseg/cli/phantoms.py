"""``ptxseg phantoms``: write synthetic chest X-rays with known pneumothorax masks."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``phantoms`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "phantoms",
        help="write synthetic chest X-rays with pneumothorax masks",
        description="Write synthetic PA chest X-rays with ground-truth pneumothorax masks, for demos and tests. "
        "dicom: DIR/<id>.dcm + DIR/masks/<id>.png; png: DIR/images/<id>.png + DIR/masks/<id>.png; "
        "siim: DIR/dicom/<uid>.dcm + DIR/train-rle.csv (Kaggle SIIM-ACR layout).",
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--n", type=int, default=10, help="number of images (default: 10)")
    parser.add_argument("--size", type=int, default=256, help="rows and columns of each image (default: 256)")
    parser.add_argument("--format", choices=("dicom", "png", "siim"), default="png", help="layout (default: png)")
    parser.add_argument("--seed", type=int, default=0, help="seed: the same seed writes the same set (default: 0)")
    parser.add_argument(
        "--positive-fraction", type=float, default=0.5, help="share of images with a pneumothorax (default: 0.5)"
    )
    parser.add_argument(
        "--difficulty", type=float, default=0.5, help="0 = obvious pneumothorax .. 1 = subtle and noisy (default: 0.5)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the phantoms and print one line per image, then a summary."""
    from ptxseg.phantom.files import write_phantoms

    written = write_phantoms(
        args.out, args.n, args.size, args.format, args.seed, args.positive_fraction, args.difficulty
    )
    for phantom in written:
        finding = f"pneumothorax, patient's {phantom.side}" if phantom.side else "no pneumothorax"
        print(f"{phantom.image_path}  {phantom.mask_path}  ({finding})")
    positives = sum(phantom.side is not None for phantom in written)
    print(f"wrote {len(written)} {args.format} phantoms ({positives} with pneumothorax) to {args.out}")
    return 0
