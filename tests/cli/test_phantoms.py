"""The data commands of the ``ptxseg`` command line: ``phantoms`` and ``convert-siim``, and how commands register."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image

import ptxseg.cli
from ptxseg.cli.main import build_parser, command_modules, main
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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["phantoms", "--out", "{tmp}", "--size", "16"], "64..4096"),
        (["phantoms", "--out", "{tmp}", "--positive-fraction", "2"], "positive_fraction"),
        (["convert-siim", "--dicom-dir", "{tmp}/absent", "--rle-csv", "x.csv", "--out", "{tmp}/o"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_error_and_writes_nothing(tmp_path, capsys, argv, message):
    status = main([argument.replace("{tmp}", str(tmp_path / "out")) for argument in argv])
    error = capsys.readouterr().err
    assert status == 2
    assert message in error and "Traceback" not in error and error.startswith(f"ptxseg {argv[0]}: error:")
    assert not (tmp_path / "out").exists()


def test_convert_siim_sample_writes_labels_that_itk_reads_on_the_image_grid(siim_sample, tmp_path, capsys):
    out = tmp_path / "studies"
    argv = ["convert-siim", "--dicom-dir", str(siim_sample / "dicom"), "--rle-csv", str(siim_sample / "train-rle.csv")]
    assert main([*argv, "--out", str(out)]) == 0
    assert "wrote 7 images (6 with pneumothorax)" in capsys.readouterr().out
    for source in sorted((siim_sample / "dicom").glob("*.dcm")):
        uid = source.name[: -len(".dcm")]
        copied = out / source.name
        assert copied.read_bytes() == source.read_bytes()
        label = sitk.ReadImage(str(out / "labels" / "final" / f"{uid}.nrrd"))
        reference = _png(siim_sample / "masks" / f"{uid}.png") > 0
        # ITK's array is (slices, rows, columns): one slice, rows as displayed; a transposed decode would differ.
        np.testing.assert_array_equal(sitk.GetArrayFromImage(label).reshape(reference.shape) > 0, reference)
        image = sitk.ImageFileReader()
        image.SetFileName(str(copied))
        image.ReadImageInformation()
        assert label.GetSize() == image.GetSize()
        assert label.GetSpacing() == pytest.approx(image.GetSpacing())
        assert label.GetOrigin() == pytest.approx(image.GetOrigin())
        assert label.GetDirection() == pytest.approx(image.GetDirection())


def test_convert_siim_skips_images_without_a_row_and_writes_zero_labels_for_negatives(tmp_path, caplog):
    source = tmp_path / "siim"
    main(["phantoms", "--out", str(source), "--n", "3", "--size", str(SIZE), "--format", "siim", "--seed", "3"])
    rows = (source / "train-rle.csv").read_text().splitlines()
    negative_uid = next(row.split(",")[0] for row in rows if row.endswith(", -1"))
    dropped_uid = next(row.split(",")[0] for row in rows[1:] if row.split(",")[0] != negative_uid)
    csv_path = tmp_path / "partial.csv"
    csv_path.write_text("\n".join(row for row in rows if not row.startswith(dropped_uid)) + "\n")
    nested = source / "dicom" / "study" / "series"  # the Kaggle download nests DICOMs this way
    nested.mkdir(parents=True)
    (source / "dicom" / f"{negative_uid}.dcm").rename(nested / f"{negative_uid}.dcm")

    assert (
        main(
            [
                "convert-siim",
                "--dicom-dir",
                str(source / "dicom"),
                "--rle-csv",
                str(csv_path),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )

    labels = sorted(path.name for path in (tmp_path / "o" / "labels" / "final").iterdir())
    assert len(labels) == 2 and f"{dropped_uid}.nrrd" not in labels
    assert not (tmp_path / "o" / f"{dropped_uid}.dcm").exists()
    assert any(dropped_uid in record.getMessage() and record.levelname == "WARNING" for record in caplog.records)
    negative = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "o" / "labels" / "final" / f"{negative_uid}.nrrd")))
    assert negative.size == SIZE * SIZE and not negative.any()


def test_commands_register_themselves_from_cli_modules(tmp_path, monkeypatch, capsys):
    assert {"ptxseg.cli.phantoms", "ptxseg.cli.convert_siim"} <= {module.__name__ for module in command_modules()}
    (tmp_path / "hello.py").write_text(
        "def register(commands):\n"
        "    parser = commands.add_parser('hello')\n"
        "    parser.set_defaults(run=lambda args: print('hello from a new module') or 3)\n"
    )
    monkeypatch.setattr(ptxseg.cli, "__path__", [*ptxseg.cli.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "ptxseg.cli.hello", raising=False)
    try:
        assert build_parser().parse_args(["hello"]).command == "hello"
        assert main(["hello"]) == 3
        assert capsys.readouterr().out == "hello from a new module\n"
    finally:
        sys.modules.pop("ptxseg.cli.hello", None)


def test_python_dash_m_ptxseg_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "ptxseg", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "phantoms" in result.stdout and "convert-siim" in result.stdout
