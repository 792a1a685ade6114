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
        "UIDs remapped consistently, so labels and references follow their images; dates replaced by dummies): "
        "OUT/dicom/*.dcm, OUT/labels/*.nrrd, OUT/manifest.csv (nothing that maps back to the patient) and "
        "OUT/train-rle.csv (SIIM RLE). Train on it with --data siim:OUT/dicom,OUT/train-rle.csv or --data "
        "folder:OUT/dicom,OUT/labels. Pixels are not changed: an image whose Burned In Annotation is YES is "
        "refused, and so is one without the attribute unless --assume-no-burned-in; refused images are listed with "
        "their reason and the rest is exported. See docs/deidentification.md.",
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
        "--key-file",
        metavar="FILE",
        help="also write the old -> new id/UID key here (outside OUT, mode 0600; it re-identifies)",
    )
    parser.add_argument(
        "--assume-no-burned-in",
        action="store_true",
        help="the source has no text burned into its pixels: export images without a Burned In Annotation "
        "attribute too (YES is refused all the same)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export and print what was written."""
    from ptxseg.datasets.export import MANIFEST_NAME, RLE_CSV_NAME, export_dataset
    from ptxseg.serving.dicomweb.pacs_flags import refuse_pacs_options_without_pacs

    refuse_pacs_options_without_pacs(args.dicomweb, args.dicomweb_user, args.dicomweb_ca_bundle)
    if not args.deidentify:
        raise ValueError("pass --deidentify: ptxseg exports only de-identified copies of the labelled set")
    with tempfile.TemporaryDirectory(prefix="ptxseg-export-") as folder:
        studies = _from_pacs(args, Path(folder)) if args.dicomweb else args.studies
        result = export_dataset(studies, args.out, key_file=args.key_file, assume_no_burned_in=args.assume_no_burned_in)
    print(
        f"exported {len(result.exported)} de-identified images with their labels to {args.out} "
        f"({MANIFEST_NAME}, {RLE_CSV_NAME}); skipped {len(result.skipped)}"
    )
    _print_skipped(result.skipped)
    if result.key_file:
        print(f"key (old -> new ids): {result.key_file}; keep it apart from the export")
    return 0


def _print_skipped(skipped: list[tuple[str, str]]) -> None:
    """Each reason with its count, then the studies' ids it left out (the user's own, to find the files)."""
    for reason in sorted({reason for _, reason in skipped}):
        image_ids = [image_id for image_id, why in skipped if why == reason]
        print(f"{len(image_ids)} skipped: {reason}")
        print("\n".join(f"  {image_id}" for image_id in image_ids))


def _from_pacs(args: argparse.Namespace, folder: Path) -> Path:
    """The PACS's labelled instances copied into a temporary studies folder (they never stay on this machine)."""
    from ptxseg.serving.dicomweb.labelled import copy_labelled_instances
    from ptxseg.serving.dicomweb.settings import connect_from_command_line

    settings = connect_from_command_line(args.dicomweb, args.dicomweb_user, args.dicomweb_ca_bundle, {})
    copied = copy_labelled_instances(settings, folder / "pacs", folder / "studies")
    print(f"PACS {args.dicomweb}: {copied} labelled instances")
    return folder / "studies"
