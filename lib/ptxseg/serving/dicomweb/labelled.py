"""The PACS's labelled instances as a local MONAI Label studies folder: what the dataset export reads.

A final label lives in the PACS as a MANUAL DICOM SEG (or in ptxseg's outbox until the PACS takes it); the
studies layer already pairs each instance with it and decodes it on the image's grid, so the export of a PACS is
the export of a folder holding exactly those pairs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ptxseg.io.formats import known_suffix
from ptxseg.serving.dicomweb.settings import PacsSettings

__all__ = ["copy_labelled_instances"]

LABELS = Path("labels") / "final"


def copy_labelled_instances(settings: PacsSettings, state: str | os.PathLike, studies: str | os.PathLike) -> int:
    """Fetch every served instance that has a final label, with its label, into the studies folder ``studies``.

    ``state`` is the PACS cache's folder (a temporary one for a one-off export). Returns how many were copied.

    Example:
        >>> pacs = PacsSettings.from_environment({})  # doctest: +SKIP
        >>> copy_labelled_instances(pacs, "state", "studies")  # doctest: +SKIP
        7
    """
    pacs = settings.studies(state)
    studies = Path(studies)
    (studies / LABELS).mkdir(parents=True, exist_ok=True)
    labelled = pacs.get_labeled_images("final")
    for uid in labelled:
        shutil.copyfile(pacs.get_image_uri(uid), studies / f"{uid}.dcm")
        label = Path(pacs.get_label_uri(uid, "final"))
        shutil.copyfile(label, studies / LABELS / f"{uid}{known_suffix(label.name)}")  # UIDs are full of dots
    return len(labelled)
