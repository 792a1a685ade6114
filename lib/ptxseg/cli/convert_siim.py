"""``ptxseg convert-siim``: SIIM-ACR DICOMs + ``train-rle.csv`` -> a MONAI Label studies folder."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``convert-siim`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "convert-siim",
        help="turn SIIM-ACR DICOMs and train-rle.csv into a MONAI Label studies folder",
        description="Copy each SIIM-ACR DICOM that train-rle.csv labels into OUT and write its label to "
        "OUT/labels/final/<uid>.nrrd on the image's own grid. The RLE is decoded at each image's size. DICOMs "
        "without a CSV row are skipped with a warning; images without pneumothorax get an all-zero label.",
    )
    parser.add_argument("--dicom-dir", required=True, help="folder holding the SIIM *.dcm files (searched recursively)")
    parser.add_argument("--rle-csv", required=True, help="Kaggle's train-rle.csv")
    parser.add_argument("--out", required=True, help="studies folder to write (created if missing)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Convert and print what was written."""
    from ptxseg.datasets.siim_studies import LABEL_FOLDER, convert_siim

    result = convert_siim(args.dicom_dir, args.rle_csv, args.out)
    print(
        f"wrote {len(result.converted)} images ({result.positive} with pneumothorax) to {args.out} "
        f"and their labels to {args.out}/{LABEL_FOLDER.as_posix()}; skipped {len(result.skipped)} without a CSV row"
    )
    return 0
