"""The PTX-498 external test set's folder layout: ``Site*/N.1.img.png`` with its mask ``Site*/N.2.mask.png``.

PTX-498 also ships NIfTI twins of each pair (``*.nii.gz``) that are rotated relative to the PNGs; the PNGs are the
orientation the masks were drawn in, so only they are read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "IMAGE_SUFFIX",
    "MASK_SUFFIX",
    "Sample",
    "find_ptx498_pairs",
]

IMAGE_SUFFIX = ".1.img.png"
MASK_SUFFIX = ".2.mask.png"
_SITE_PATTERN = "Site*"


@dataclass(frozen=True)
class Sample:
    """One image with its ground-truth mask.

    Attributes:
        image_id: ``<site folder>/<case number>``, e.g. ``SiteA/12``: unique across sites.
        image_path: the radiograph.
        mask_path: its pneumothorax mask.
    """

    image_id: str
    image_path: Path
    mask_path: Path


def find_ptx498_pairs(root: str | os.PathLike) -> list[Sample]:
    """List every image/mask pair under a PTX-498 root, sorted by site, then case number.

    Args:
        root: the folder holding the ``Site*`` folders.

    Returns:
        The pairs, e.g. ``SiteA/2`` before ``SiteA/10`` before ``SiteB/1``.

    Raises:
        ValueError: ``root`` holds no ``Site*/N.1.img.png`` images, or an image has no ``N.2.mask.png`` beside it.

    Example:
        >>> [sample.image_id for sample in find_ptx498_pairs("PTX-498")][:2]  # doctest: +SKIP
        ['SiteA/1', 'SiteA/2']
    """
    root = Path(root)
    images = list(root.glob(f"{_SITE_PATTERN}/*{IMAGE_SUFFIX}"))
    if not images:
        raise ValueError(
            f"no PTX-498 images under {root}: expected files like {root}/SiteA/1{IMAGE_SUFFIX}; "
            "pass the folder that holds the Site* folders"
        )
    samples = []
    for image_path in images:
        case = image_path.name[: -len(IMAGE_SUFFIX)]
        mask_path = image_path.with_name(f"{case}{MASK_SUFFIX}")
        if not mask_path.is_file():
            raise ValueError(f"{image_path} has no mask: expected {mask_path.name} beside it")
        samples.append(Sample(f"{image_path.parent.name}/{case}", image_path, mask_path))
    return sorted(samples, key=_site_then_case)


def _site_then_case(sample: Sample) -> tuple:
    site, case = sample.image_id.split("/")
    return (site, int(case), "") if case.isdigit() else (site, float("inf"), case)
