"""The SIIM-ACR Pneumothorax challenge's run-length encoding and its ``train-rle.csv``.

Kaggle's SIIM RLE lists ``start length`` pairs over the mask flattened column by column (Fortran order), and each
start is *relative*: the number of background pixels since the end of the previous run. ``-1`` means no
pneumothorax. An image with several pneumothorax regions has one CSV row per region; its mask is their union.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["RleMask", "EMPTY_RLE", "load_siim_masks", "read_siim_rle_csv", "rle_decode", "rle_encode"]

EMPTY_RLE = "-1"
_ID_COLUMN = "ImageId"
_RLE_COLUMN = "EncodedPixels"


def rle_decode(rle: str, height: int, width: int) -> np.ndarray:
    """Decode one SIIM RLE string into a mask as displayed (row 0 at the top).

    Args:
        rle: space-separated relative ``start length`` pairs, or ``-1`` for an empty mask; surrounding
            whitespace is ignored.
        height: mask rows.
        width: mask columns.

    Returns:
        bool array (height, width).

    Raises:
        ValueError: the string is not numbers, has an odd count, holds negative values or a zero-length run, or
            runs past the mask's end.

    Example:
        >>> rle_decode("1 2 2 1", 3, 2).astype(int).tolist()  # column-major: flat pixels 1, 2 and 5 are set
        [[0, 0], [1, 0], [1, 1]]
    """
    text = rle.strip()
    if text == EMPTY_RLE:
        return np.zeros((height, width), dtype=bool)
    try:
        numbers = np.array(text.split(), dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"RLE must be space-separated integers or {EMPTY_RLE!r}: {exc}") from exc
    if numbers.size % 2:
        raise ValueError(f"RLE has {numbers.size} numbers; it must hold (start, length) pairs, an even count")
    offsets, lengths = numbers[0::2], numbers[1::2]
    if (offsets < 0).any() or (lengths < 1).any():
        raise ValueError("RLE starts must be >= 0 and lengths >= 1 (negative values are only valid as a lone -1)")
    # Each relative start counts the gap after the previous run, so absolute starts accumulate gaps and lengths.
    ends = np.cumsum(offsets + lengths)
    starts = ends - lengths
    size = height * width
    if ends.size and ends[-1] > size:
        raise ValueError(
            f"RLE runs to pixel {ends[-1]}, past the {height} x {width} mask's {size} pixels; "
            "check the height and width (SIIM images are 1024 x 1024)"
        )
    # Mark run starts +1 and ends -1: the running sum is 1 exactly inside runs.
    steps = np.zeros(size + 1, dtype=np.int64)
    np.add.at(steps, starts, 1)
    np.add.at(steps, ends, -1)
    flat = np.cumsum(steps[:-1]) > 0
    return np.ascontiguousarray(flat.reshape(width, height).T)


def rle_encode(mask: np.ndarray) -> str:
    """Encode a mask as displayed (row 0 at the top) into a SIIM RLE string, ``-1`` when empty.

    Args:
        mask: 2-D array; nonzero = pneumothorax.

    Returns:
        Relative ``start length`` pairs over the column-major flattened mask.

    Example:
        >>> rle_encode(np.array([[0, 0], [1, 0], [1, 1]]))
        '1 2 2 1'
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (rows, columns), got shape {mask.shape}")
    flat = np.concatenate([[False], mask.T.ravel() != 0, [False]])
    changes = np.flatnonzero(flat[1:] != flat[:-1])
    if not changes.size:
        return EMPTY_RLE
    starts, ends = changes[0::2], changes[1::2]
    previous_ends = np.concatenate([[0], ends[:-1]])
    pairs = np.stack([starts - previous_ends, ends - starts], axis=1)
    return " ".join(str(value) for value in pairs.ravel())


def read_siim_rle_csv(csv_path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a Kaggle ``train-rle.csv`` into each image's list of RLE strings, in file order.

    Args:
        csv_path: CSV with the header ``ImageId, EncodedPixels`` (with or without the space after the comma).

    Returns:
        ``{image_id: [rle, ...]}``; an image without pneumothorax maps to ``["-1"]``.

    Raises:
        ValueError: the header lacks ``ImageId`` or ``EncodedPixels``.

    Example:
        >>> rows = read_siim_rle_csv("train-rle.csv")  # doctest: +SKIP
        >>> rows["1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819"]  # doctest: +SKIP
        ['-1']
    """
    csv_path = Path(csv_path)
    rows = defaultdict(list)
    with csv_path.open(newline="") as file:
        reader = csv.DictReader(file, skipinitialspace=True)
        fields = [name.strip() for name in reader.fieldnames or []]
        if _ID_COLUMN not in fields or _RLE_COLUMN not in fields:
            raise ValueError(
                f"{csv_path} has columns {fields}; a SIIM RLE CSV needs the header '{_ID_COLUMN}, {_RLE_COLUMN}'"
            )
        reader.fieldnames = fields
        for row in reader:
            rows[row[_ID_COLUMN].strip()].append(row[_RLE_COLUMN].strip())
    return dict(rows)


def load_siim_masks(csv_path: str | os.PathLike, height: int = 1024, width: int = 1024) -> dict[str, np.ndarray]:
    """Decode every image's mask in a Kaggle ``train-rle.csv``, uniting the rows of one image.

    Args:
        csv_path: the CSV (see :func:`read_siim_rle_csv`).
        height: mask rows of every image.
        width: mask columns of every image.

    Returns:
        ``{image_id: bool array (height, width)}``, all False for ``-1``.

    Raises:
        ValueError: a bad header or RLE string; the message names the image.

    Example:
        >>> masks = load_siim_masks("train-rle.csv")  # doctest: +SKIP
        >>> masks["1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819"].any()  # doctest: +SKIP
        False
    """
    masks = {}
    for image_id, rles in read_siim_rle_csv(csv_path).items():
        mask = np.zeros((height, width), dtype=bool)
        for rle in rles:
            try:
                mask |= rle_decode(rle, height, width)
            except ValueError as exc:
                raise ValueError(f"{csv_path}: image {image_id}: {exc}") from exc
        masks[image_id] = mask
    return masks


@dataclass(frozen=True)
class RleMask:
    """An image's SIIM RLE rows, decoded only when needed (12,000 decoded 1024x1024 masks would fill the RAM).

    Example:
        >>> RleMask(("1 2",)).decode((2, 2)).tolist()  # pixels 1 and 2 in column-major order
        [[False, True], [True, False]]
    """

    rles: tuple[str, ...]

    def decode(self, shape: tuple[int, int]) -> np.ndarray:
        """The union of the rows' masks on a (rows, columns) grid."""
        mask = np.zeros(shape, dtype=bool)
        for rle in self.rles:
            mask |= rle_decode(rle, *shape)
        return mask
