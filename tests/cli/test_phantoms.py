"""``ptxseg phantoms``: PNG, DICOM and SIIM layouts, reproducible by seed, with the requested share of positives."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from ptxseg.cli.main import main
from ptxseg.datasets.siim import load_siim_masks
from ptxseg.io.reader import read_cxr
from ptxseg.phantom.synthetic import make_dataset

SIZE = 64


def _expected_phantoms(n: int, seed: int):
    return list(make_dataset(n, size=SIZE, seed=seed, positive_fraction=0.5))


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_png_layout_holds_the_phantoms_and_their_0_255_masks(tmp_path, capsys):
    status = main(
        ["phantoms", "--out", str(tmp_path), "--n", "3", "--size", str(SIZE), "--format", "png", "--seed", "2"]
    )
    printed = capsys.readouterr().out
    assert status == 0
    for index, phantom in enumerate(_expected_phantoms(3, seed=2)):
        image_path = tmp_path / "images" / f"phantom-{index:04d}.png"
        mask_path = tmp_path / "masks" / f"phantom-{index:04d}.png"
        assert str(image_path) in printed and str(mask_path) in printed
        # 8-bit quantisation moves a value by at most half a step.
        assert np.abs(read_cxr(image_path).pixels - phantom.image).max() <= 0.5 / 255 + 1e-6
        mask = _png(mask_path)
        assert set(np.unique(mask)) <= {0, 255}
        np.testing.assert_array_equal(mask > 0, phantom.mask)
    assert "wrote 3 png phantoms" in printed


def test_dicom_layout_is_anonymous_12_bit_cr_with_spacing_and_masks_beside(tmp_path):
    assert main(["phantoms", "--out", str(tmp_path), "--n", "2", "--size", str(SIZE), "--format", "dicom"]) == 0
    for index, phantom in enumerate(_expected_phantoms(2, seed=0)):
        path = tmp_path / f"phantom-{index:04d}.dcm"
        dataset = pydicom.dcmread(path)
        assert (dataset.Modality, dataset.PhotometricInterpretation, dataset.BitsStored) == ("CR", "MONOCHROME2", 12)
        assert str(dataset.PatientName) == f"PHANTOM^{index + 1}" and dataset.PatientID == ""
        assert dataset.SOPInstanceUID == dataset.file_meta.MediaStorageSOPInstanceUID
        image = read_cxr(path)
        assert image.spacing == pytest.approx((350.0 / SIZE, 350.0 / SIZE))
        assert image.geometry.spacing[:2] == pytest.approx((350.0 / SIZE, 350.0 / SIZE))
        # The written window shows the stored range as written: 12-bit steps only.
        assert np.abs(image.pixels - phantom.image).max() <= 0.5 / 4095 + 1e-6
        np.testing.assert_array_equal(_png(tmp_path / "masks" / f"phantom-{index:04d}.png") > 0, phantom.mask)


def test_siim_layout_names_dicoms_by_uid_and_rle_decodes_to_the_masks(tmp_path):
    assert main(["phantoms", "--out", str(tmp_path), "--n", "4", "--size", str(SIZE), "--format", "siim"]) == 0
    assert (tmp_path / "train-rle.csv").read_text().splitlines()[0] == "ImageId, EncodedPixels"
    masks = load_siim_masks(tmp_path / "train-rle.csv", SIZE, SIZE)
    dicoms = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(dicoms) == 4 and set(masks) == {path.name[: -len(".dcm")] for path in dicoms}
    for phantom in _expected_phantoms(4, seed=0):
        matches = [uid for uid, mask in masks.items() if np.array_equal(mask, phantom.mask)]
        assert matches, "a phantom's mask is missing from train-rle.csv"
    for path in dicoms:
        dataset = pydicom.dcmread(path)
        assert path.name == f"{dataset.SOPInstanceUID}.dcm" and dataset.BitsStored == 8
        assert all(part.isdigit() for part in dataset.SOPInstanceUID.split("."))
    assert sum(mask.any() for mask in masks.values()) == 2


def test_same_seed_writes_the_same_ids_and_pixels(tmp_path):
    for run in ("a", "b"):
        main(
            [
                "phantoms",
                "--out",
                str(tmp_path / run),
                "--n",
                "2",
                "--size",
                str(SIZE),
                "--format",
                "siim",
                "--seed",
                "5",
            ]
        )
    first, second = (sorted((tmp_path / run / "dicom").iterdir()) for run in ("a", "b"))
    assert [path.name for path in first] == [path.name for path in second]
    assert all(pydicom.dcmread(a).PixelData == pydicom.dcmread(b).PixelData for a, b in zip(first, second, strict=True))
    assert (tmp_path / "a" / "train-rle.csv").read_text() == (tmp_path / "b" / "train-rle.csv").read_text()


def test_positive_fraction_sets_the_share_of_positives(tmp_path, capsys):
    main(["phantoms", "--out", str(tmp_path), "--n", "4", "--size", str(SIZE), "--positive-fraction", "0.25"])
    assert "(1 with pneumothorax)" in capsys.readouterr().out
    assert sum(_png(path).any() for path in (tmp_path / "masks").glob("*.png")) == 1
