"""The model inputs a faster runtime is calibrated and judged on: the served studies when there are enough, else
phantoms.

int8 calibration learns the range of every activation from these inputs, so they should look like what will be
served: a hospital's own radiographs (their exposure, collimation, markers and devices) before synthetic phantoms.
The accuracy gate judges on inputs the calibration has not seen: held-out phantoms always (they are half positive,
so the outline is really compared) plus, when studies calibrate, held-out studies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptxseg.datasets.specs import find_images
from ptxseg.image import CXRReadError
from ptxseg.io.reader import read_cxr
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize

__all__ = [
    "CALIBRATION_IMAGES",
    "GATE_IMAGES",
    "MIN_CALIBRATION_STUDIES",
    "LazyInputs",
    "RuntimeInputs",
    "phantom_inputs",
    "runtime_inputs",
]

LOGGER = logging.getLogger(__name__)
CALIBRATION_IMAGES = 256
GATE_IMAGES = 8
# Fewer served studies than this calibrate on phantoms: a handful of images gives ranges no better than phantoms'.
MIN_CALIBRATION_STUDIES = 32
# Disjoint seed ranges: the gate must judge on inputs the int8 calibration has not seen.
CALIBRATION_SEEDS, GATE_SEEDS = 10_000, 20_000


def _model_input(pixels: np.ndarray, image_size: int) -> np.ndarray:
    fitted, _ = fit_to_square(pixels, image_size)
    return normalize(fitted)[None, None].astype(np.float32)


def _phantom_input(seed: int, image_size: int) -> np.ndarray:
    phantom = make_phantom(size=image_size, positive=seed % 2 == 0, seed=seed, difficulty=0.2)
    return _model_input(phantom.image, image_size)


def phantom_inputs(count: int, image_size: int, first_seed: int) -> list[np.ndarray]:
    """``count`` normalised phantom inputs (1, 1, S, S), half with a pneumothorax, for calibration or the gate.

    Example:
        >>> [item.shape for item in phantom_inputs(2, 64, 0)]
        [(1, 1, 64, 64), (1, 1, 64, 64)]
    """
    return [_phantom_input(seed, image_size) for seed in range(first_seed, first_seed + count)]


class LazyInputs(Sequence):
    """Model inputs made when asked for, not held: NNCF walks its calibration set more than once, and 256 inputs of
    512x512 held at once are 256 MB that the measuring child would add to the start-up peak.

    Example:
        >>> inputs = LazyInputs(lambda index: np.full((1, 1, 2, 2), index, np.float32), 3)
        >>> len(inputs), float(inputs[2][0, 0, 0, 0]), [float(item.max()) for item in inputs]
        (3, 2.0, [0.0, 1.0, 2.0])
    """

    def __init__(self, make: Callable[[int], np.ndarray], count: int):
        self._make = make
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._make(index % self._count)


@dataclass(frozen=True)
class RuntimeInputs:
    """Calibration inputs, the gate's held-out inputs, and where the calibration came from (recorded with the
    int8 model and in the runtime decision)."""

    calibration: Sequence[np.ndarray]
    gate: list[np.ndarray]
    source: str


def _readable_studies(folder: Path, wanted: int) -> tuple[list[Path], int]:
    """Up to ``wanted`` studies of ``folder`` that read as radiographs (in name order), and how many did not.

    Each is read here and read again when NNCF asks for it (``LazyInputs``): about 30 ms a file twice, against
    holding every decoded image through the calibration.
    """
    readable, unreadable = [], 0
    for path in find_images(folder).values():
        if len(readable) == wanted:
            break
        try:
            read_cxr(path)
        except CXRReadError:
            unreadable += 1
            continue
        readable.append(path)
    return readable, unreadable


def runtime_inputs(image_size: int, studies: Path | None = None) -> RuntimeInputs:
    """The inputs to calibrate and judge on: served studies in ``studies`` when at least ``GATE_IMAGES +
    MIN_CALIBRATION_STUDIES`` of them read, else phantoms.

    Example:
        >>> inputs = runtime_inputs(64)
        >>> len(inputs.calibration), len(inputs.gate), inputs.source
        (256, 8, '256 phantoms (no served studies given)')
    """
    gate = phantom_inputs(GATE_IMAGES, image_size, GATE_SEEDS)
    phantoms = LazyInputs(lambda index: _phantom_input(CALIBRATION_SEEDS + index, image_size), CALIBRATION_IMAGES)
    if studies is None or not Path(studies).is_dir():
        return RuntimeInputs(phantoms, gate, f"{CALIBRATION_IMAGES} phantoms (no served studies given)")
    paths, unreadable = _readable_studies(Path(studies), GATE_IMAGES + CALIBRATION_IMAGES)
    if len(paths) < GATE_IMAGES + MIN_CALIBRATION_STUDIES:
        why = f"{len(paths)} readable served studies, {GATE_IMAGES + MIN_CALIBRATION_STUDIES} needed"
        return RuntimeInputs(phantoms, gate, f"{CALIBRATION_IMAGES} phantoms ({why})")
    held_out, calibrating = paths[:GATE_IMAGES], paths[GATE_IMAGES:]
    gate += [_model_input(read_cxr(path).pixels, image_size) for path in held_out]
    calibration = LazyInputs(
        lambda index: _model_input(read_cxr(calibrating[index]).pixels, image_size), len(calibrating)
    )
    skipped = f", {unreadable} unreadable skipped" if unreadable else ""
    LOGGER.info("calibrating on %d served studies, judging on %d held out%s", len(calibrating), GATE_IMAGES, skipped)
    return RuntimeInputs(calibration, gate, f"{len(calibrating)} served studies{skipped}")
