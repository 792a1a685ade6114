"""``ptxseg export-dataset``: the labelled set, de-identified, to share or archive (and to train on unchanged)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``export-dataset`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "export-dataset",
        help="export every labelled DICOM with its final label, de-identified (PS3.15 Annex E basic profile)",
        description="Write each image of STUDIES that has a final label to OUT, de-identified to the DICOM PS3.15 "
        "Annex E basic profile (dicom-anonymizer's Table E.1-1, applied inside sequences too; private tags removed; "
        "UIDs remapped consistently, labels follow their images; dates replaced by the profile's dummies): "
        "OUT/dicom/*.dcm, OUT/labels/*.nrrd, OUT/manifest.csv (nothing that maps back to the patient) and "
        "OUT/train-rle.csv (SIIM RLE). Train on it with --data siim:OUT/dicom,OUT/train-rle.csv or --data "
        "folder:OUT/dicom,OUT/labels. Images whose header says text is burned "
        "into the pixels are listed: check them before sharing. See docs/deidentification.md.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--studies", metavar="DIR", help="MONAI Label studies folder (images + labels/final)")
    source.add_argument(
        "--dicomweb", metavar="URL", help="a DICOMweb PACS: its CR/DX instances with a MANUAL SEG (final label)"
    )
    parser.add_argument("--dicomweb-user", help="basic-auth user (password in PTXSEG_DICOMWEB_PASSWORD[_FILE])")
    parser.add_argument("--dicomweb-ca-bundle", metavar="PEM", help="certificate authorities to trust for https")
    parser.add_argument("--out", required=True, metavar="DIR", help="new or empty folder to write")
    parser.add_argument(
        "--deidentify", action="store_true", help="required: the export is always de-identified; say so explicitly"
    )
    parser.add_argument(
        "--key-file", metavar="FILE", help="also write the old -> new id/UID key here (outside OUT; it re-identifies)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export and print what was written."""
    from ptxseg.datasets.export import MANIFEST_NAME, RLE_CSV_NAME, export_dataset

    if not args.deidentify:
        raise ValueError("pass --deidentify: ptxseg exports only de-identified copies of the labelled set")
    with tempfile.TemporaryDirectory(prefix="ptxseg-export-") as folder:
        studies = _from_pacs(args, Path(folder)) if args.dicomweb else args.studies
        result = export_dataset(studies, args.out, key_file=args.key_file)
    print(
        f"exported {len(result.exported)} de-identified images with their labels to {args.out} "
        f"({MANIFEST_NAME}, {RLE_CSV_NAME}); skipped {len(result.skipped)} that are not DICOM"
    )
    if result.burned_in:
        print(f"{len(result.burned_in)} images say text is burned into their pixels; check before sharing:")
        print("\n".join(f"  {image_id}" for image_id in result.burned_in))
    if result.key_file:
        print(f"key (old -> new ids): {result.key_file}; keep it apart from the export")
    return 0


def _from_pacs(args: argparse.Namespace, folder: Path) -> Path:
    """The PACS's labelled instances copied into a temporary studies folder (they never stay on this machine)."""
    from ptxseg.serving.dicomweb.labelled import copy_labelled_instances
    from ptxseg.serving.dicomweb.settings import connect_from_command_line

    settings = connect_from_command_line(args.dicomweb, args.dicomweb_user, args.dicomweb_ca_bundle, {})
    copied = copy_labelled_instances(settings, folder / "pacs", folder / "studies")
    print(f"PACS {args.dicomweb}: {copied} labelled instances")
    return folder / "studies"
