"""Which inputs int8 is calibrated and judged on: the served studies when enough of them read, else phantoms."""

import numpy as np

from ptxseg.inference.calibration import GATE_IMAGES, MIN_CALIBRATION_STUDIES, runtime_inputs
from ptxseg.io.writers import write_png
from ptxseg.phantom.synthetic import make_phantom

SIZE = 64


def _studies(folder, count, unreadable=0):
    folder.mkdir()
    for index in range(count):
        image = make_phantom(size=80, positive=index % 2 == 0, seed=index).image
        write_png((255 * image).astype(np.uint8), folder / f"study-{index:03d}.png")
    for index in range(unreadable):
        (folder / f"broken-{index}.png").write_bytes(b"not a png")
    return folder


def test_enough_served_studies_calibrate_and_held_out_ones_join_the_gate(tmp_path):
    count = GATE_IMAGES + MIN_CALIBRATION_STUDIES + 3
    folder = _studies(tmp_path / "studies", count, unreadable=2)

    inputs = runtime_inputs(SIZE, folder)

    assert inputs.source == f"{count - GATE_IMAGES} served studies, 2 unreadable skipped"
    assert len(inputs.calibration) == count - GATE_IMAGES
    assert len(inputs.gate) == 2 * GATE_IMAGES  # held-out phantoms and held-out studies
    calibration = np.stack([item for item in inputs.calibration])
    assert calibration.shape == (count - GATE_IMAGES, 1, 1, SIZE, SIZE) and np.isfinite(calibration).all()
    # The held-out studies are not among the calibration ones.
    studies_in_gate = np.stack(inputs.gate[GATE_IMAGES:])
    assert not any(np.array_equal(held_out, item) for held_out in studies_in_gate for item in calibration)


def test_too_few_served_studies_fall_back_to_phantoms_and_say_why(tmp_path):
    folder = _studies(tmp_path / "studies", GATE_IMAGES + MIN_CALIBRATION_STUDIES - 1)

    inputs = runtime_inputs(SIZE, folder)

    needed = GATE_IMAGES + MIN_CALIBRATION_STUDIES
    assert inputs.source == f"256 phantoms ({needed - 1} readable served studies, {needed} needed)"
    assert len(inputs.gate) == GATE_IMAGES
    assert inputs.calibration[0].shape == (1, 1, SIZE, SIZE)


def test_a_missing_studies_folder_calibrates_on_phantoms(tmp_path):
    assert runtime_inputs(SIZE, tmp_path / "absent").source == "256 phantoms (no served studies given)"
