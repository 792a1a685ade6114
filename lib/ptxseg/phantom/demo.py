"""The built-in demo: a MONAI Label studies folder of synthetic chest X-rays, made once per user.

DICOM studies are named by dotted UIDs as SIIM-ACR's are (the classic way MONAI Label mistakes a UID's tail for
a file extension), PNG studies by name; half carry a pneumothorax. A third of the studies come labelled in
``labels/final`` so that fine-tuning works from the first minute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ptxseg.io.labels import write_label
from ptxseg.io.reader import image_id, read_cxr
from ptxseg.io.writers import quantize, write_dicom, write_png
from ptxseg.phantom.synthetic import Phantom, make_dataset

__all__ = ["DEMO_UID_ROOT", "DemoStudy", "default_demo_dir", "make_demo_studies", "write_studies"]

# Under the UUID-derived OID arc (2.25), so the demo never collides with a real institution's UIDs.
DEMO_UID_ROOT = "2.25.31415926535897932384626433832795"
_FIELD_OF_VIEW_MM = 350.0
_MARKER = ".ptxseg-demo"


def default_demo_dir() -> Path:
    """Where the demo lives: ``$PTXSEG_DATA_DIR``, else ``$XDG_DATA_HOME/ptxseg``, else ``~/.local/share/ptxseg``."""
    if os.environ.get("PTXSEG_DATA_DIR"):
        return Path(os.environ["PTXSEG_DATA_DIR"]) / "demo-studies"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ptxseg" / "demo-studies"


@dataclass(frozen=True)
class DemoStudy:
    """One written study and the phantom (with its true mask) it was made from."""

    image_id: str
    path: Path
    phantom: Phantom
    labelled: bool


def write_studies(
    folder: str | os.PathLike, n: int, size: int, seed: int = 0, difficulty: float = 0.5, label_every: int = 3
) -> list[DemoStudy]:
    """Write ``n`` phantom studies (even index: 12-bit DICOM named by a dotted UID; odd: 8-bit PNG) and label
    every ``label_every``-th one in ``labels/final`` (0: none)."""
    folder = Path(folder)
    labels = folder / "labels" / "final"
    labels.mkdir(parents=True, exist_ok=True)
    spacing = _FIELD_OF_VIEW_MM / size
    studies = []
    phantoms = make_dataset(n, size=size, seed=seed, positive_fraction=0.5, difficulty=difficulty)
    for index, phantom in enumerate(phantoms):
        if index % 2 == 0:
            uid = f"{DEMO_UID_ROOT}.{seed}.{index + 1}" if seed else f"{DEMO_UID_ROOT}.{index + 1}"
            path = write_dicom(
                quantize(phantom.image, bits=12),
                folder / f"{uid}.dcm",
                (spacing, spacing),
                bits_stored=12,
                sop_instance_uid=uid,
                patient_number=index + 1,
            )
        else:
            path = write_png(quantize(phantom.image), folder / f"demo-chest-{seed or ''}{index + 1:03d}.png")
        labelled = bool(label_every) and index % label_every == 0
        if labelled:
            write_label(phantom.mask, like=read_cxr(path), path=labels / f"{image_id(path)}.nrrd")
        studies.append(DemoStudy(image_id(path), path, phantom, labelled))
    return studies


def make_demo_studies(folder: str | os.PathLike, n: int = 16, size: int = 512, seed: int = 0) -> Path:
    """Create the demo studies folder once (an existing complete demo is reused as it is).

    Args:
        folder: the studies folder to create.
        n: number of studies (half DICOM, half PNG; half with a pneumothorax; a third labelled).
        size: rows and columns of each radiograph.
        seed: phantom seed.

    Example:
        >>> make_demo_studies("demo", n=4, size=128)
        PosixPath('demo')
    """
    folder = Path(folder)
    if (folder / _MARKER).is_file():
        return folder
    write_studies(folder, n, size, seed)
    (folder / _MARKER).write_text("ptxseg demo studies: synthetic chest X-rays, no patient data\n")
    return folder
