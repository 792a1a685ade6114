"""SIIM-ACR RLE codec and train-rle.csv reader, against hand-worked cases and the real sample's decoded masks."""

import numpy as np
import pytest
from PIL import Image

from ptxseg.datasets.siim import EMPTY_RLE, load_siim_masks, read_siim_rle_csv, rle_decode, rle_encode


def test_decode_is_column_major_with_relative_starts():
    # Flat column-major pixels of a 3 x 2 mask: column 0 holds 0, 1, 2 and column 1 holds 3, 4, 5.
    # "1 2" sets pixels 1-2; the next run starts 2 pixels after it ends (pixel 3), so "2 1" sets pixel 5.
    expected = np.array([[False, False], [True, False], [True, True]])
    np.testing.assert_array_equal(rle_decode("1 2 2 1", height=3, width=2), expected)
    assert rle_encode(expected) == "1 2 2 1"


def test_adjacent_runs_with_zero_gap_merge():
    np.testing.assert_array_equal(rle_decode("0 1 0 2", 3, 1)[:, 0], [True, True, True])


@pytest.mark.parametrize("rle", ["-1", " -1", "-1 ", "  -1\n"])
def test_minus_one_is_empty(rle):
    mask = rle_decode(rle, 4, 5)
    assert mask.shape == (4, 5) and mask.dtype == bool and not mask.any()


def test_leading_spaces_are_tolerated():
    np.testing.assert_array_equal(rle_decode(" 1 2 2 1", 3, 2), rle_decode("1 2 2 1", 3, 2))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", [(16, 16), (7, 13), (20, 9)])
def test_random_masks_round_trip(seed, shape):
    mask = np.random.default_rng(seed).random(shape) < 0.3
    rle = rle_encode(mask)
    np.testing.assert_array_equal(rle_decode(rle, *shape), mask)


@pytest.mark.parametrize("shape", [(6, 4), (3, 9)])
def test_empty_and_full_masks_round_trip(shape):
    empty = np.zeros(shape, dtype=bool)
    full = np.ones(shape, dtype=bool)
    assert rle_encode(empty) == EMPTY_RLE
    assert rle_encode(full) == f"0 {shape[0] * shape[1]}"
    np.testing.assert_array_equal(rle_decode(rle_encode(full), *shape), full)
    np.testing.assert_array_equal(rle_decode(EMPTY_RLE, *shape), empty)


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ("1 2 3", "even count"),
        ("1 -2", ">= 0"),
        ("-1 3", ">= 0"),
        ("2 0", "lengths >= 1"),
        ("4 3", "past the 3 x 2 mask's 6 pixels"),
        ("1 2 x 1", "integers"),
    ],
)
def test_bad_strings_raise_value_error_naming_the_problem(rle, message):
    with pytest.raises(ValueError, match=message):
        rle_decode(rle, 3, 2)


def test_sample_rle_decodes_to_its_reference_masks_exactly(siim_sample):
    masks = load_siim_masks(siim_sample / "train-rle.csv")
    references = sorted((siim_sample / "masks").glob("*.png"))
    assert len(references) == 7 and set(masks) == {path.stem for path in references}
    for path in references:
        reference = np.asarray(Image.open(path)) > 0
        np.testing.assert_array_equal(masks[path.stem], reference, err_msg=path.stem)
        # Re-encoding reproduces what the CSV says.
        assert rle_encode(reference) == read_siim_rle_csv(siim_sample / "train-rle.csv")[path.stem][0]
    assert sum(mask.any() for mask in masks.values()) == 6


@pytest.mark.parametrize("header", ["ImageId, EncodedPixels", "ImageId,EncodedPixels", " ImageId , EncodedPixels "])
def test_header_variants_are_read(tmp_path, header):
    csv_path = tmp_path / "train-rle.csv"
    csv_path.write_text(f"{header}\n1.2.3.4, 1 2 2 1\n1.2.3.5, -1\n")
    masks = load_siim_masks(csv_path, height=3, width=2)
    assert masks["1.2.3.4"].sum() == 3 and not masks["1.2.3.5"].any()


def test_several_rows_of_one_image_are_united(tmp_path):
    csv_path = tmp_path / "train-rle.csv"
    # Two regions of a 4 x 4 mask: flat pixels 0-1 (column 0, rows 0-1) and 14-15 (column 3, rows 2-3).
    csv_path.write_text("ImageId, EncodedPixels\n1.9.8, 0 2\n1.9.8, 14 2\n1.9.7, -1\n")
    assert read_siim_rle_csv(csv_path) == {"1.9.8": ["0 2", "14 2"], "1.9.7": ["-1"]}
    expected = np.zeros((4, 4), dtype=bool)
    expected[0:2, 0] = True
    expected[2:4, 3] = True
    np.testing.assert_array_equal(load_siim_masks(csv_path, 4, 4)["1.9.8"], expected)


def test_wrong_header_and_bad_row_raise(tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,rle\n1.2.3,-1\n")
    with pytest.raises(ValueError, match="ImageId, EncodedPixels"):
        load_siim_masks(wrong)
    bad = tmp_path / "bad.csv"
    bad.write_text("ImageId,EncodedPixels\n1.2.3,5 5 5\n")
    with pytest.raises(ValueError, match="image 1.2.3: RLE has 3 numbers"):
        load_siim_masks(bad, 4, 4)
