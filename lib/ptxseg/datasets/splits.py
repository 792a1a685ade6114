"""Train/validation splits: stable by id hash (champion and challenger judged alike), seeded, or from an id file."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ptxseg.datasets.labelled import LabelledImage

__all__ = ["split_by_id", "random_split", "select_ids", "split_by_ids"]


def split_by_id(items: Sequence[LabelledImage], val_fraction: float) -> tuple[list, list]:
    """Split into (train, validation) by a hash of each image id: stable as the dataset grows.

    A fine-tuned challenger and the served champion are compared on the same validation images, and an image
    never moves from validation into training when more labels arrive. Both parts get at least one image.

    Example:
        >>> train, val = split_by_id(items, 0.2)  # doctest: +SKIP
    """
    if len(items) < 2:
        raise ValueError(f"need at least 2 labelled images to train and validate, have {len(items)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    ordered = sorted(items, key=lambda item: _unit_hash(item.image_id))
    val_ids = {item.image_id for item in ordered if _unit_hash(item.image_id) < val_fraction}
    if not val_ids:
        val_ids = {ordered[0].image_id}
    if len(val_ids) == len(items):
        val_ids.discard(ordered[-1].image_id)
    train = [item for item in items if item.image_id not in val_ids]
    return train, [item for item in items if item.image_id in val_ids]


def _unit_hash(text: str) -> float:
    """A stable pseudo-random number in [0, 1) for a string."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2**32


def random_split(items: Sequence[LabelledImage], val_fraction: float, seed: int) -> tuple[list, list]:
    """A seeded random (train, validation) split; both parts get at least one image.

    Example:
        >>> train, val = random_split(items, 0.1, seed=0)  # doctest: +SKIP
    """
    if len(items) < 2:
        raise ValueError(f"need at least 2 labelled images to train and validate, have {len(items)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(items))
    count = min(len(items) - 1, max(1, round(val_fraction * len(items))))
    chosen = set(order[:count].tolist())
    return [x for i, x in enumerate(items) if i not in chosen], [x for i, x in enumerate(items) if i in chosen]


def select_ids(items: Sequence[LabelledImage], id_file: Path) -> list[LabelledImage]:
    """The images whose ids a file lists (one per line, or the ``ImageId`` column of a CSV such as SIIM's
    stage-1 test list), in data order. Listed ids missing from the data are an error."""
    lines = [line.split(",")[0].strip() for line in Path(id_file).read_text().splitlines() if line.strip()]
    wanted = {line for line in lines if line and line != "ImageId"}
    missing = sorted(wanted - {item.image_id for item in items})
    if missing:
        raise ValueError(f"{len(missing)} ids listed in {id_file} are not in the data (e.g. {missing[0]})")
    return [item for item in items if item.image_id in wanted]


def split_by_ids(items: Sequence[LabelledImage], id_file: Path) -> tuple[list, list]:
    """Validation = the images an id file lists (see :func:`select_ids`); training = the rest."""
    val = select_ids(items, id_file)
    chosen = {item.image_id for item in val}
    train = [item for item in items if item.image_id not in chosen]
    if not val or not train:
        raise ValueError(f"{id_file} leaves {len(train)} training and {len(val)} validation images; need both")
    return train, val
