"""``ptxseg convert-siim``: SIIM RLE rows become label files on each DICOM grid; negatives and missing rows."""

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from ptxseg.cli.main import main

SIZE = 64


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
        reference = np.asarray(Image.open(siim_sample / "masks" / f"{uid}.png")) > 0
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
