"""Label files <-> numpy without flips or transposes, and pixel grids compared across ITK and Slicer."""

from pathlib import Path

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk
from PneumothoraxAnnotatorLib.geometry import read_grid, read_label, write_label
from PneumothoraxAnnotatorLib.grid import Grid

ROWS, COLUMNS = 12, 16


def off_centre_mask():
    """A mask that a transpose, a row flip or a column flip would each move: rows 2-4, columns 9-13."""
    mask = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    mask[2:5, 9:14] = 1
    return mask


def image_with_grid(spacing=(0.5, 0.25), origin=(10.0, -20.0), direction=(1.0, 0.0, 0.0, 1.0)):
    image = sitk.Image(COLUMNS, ROWS, sitk.sitkUInt8)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    return image


def dicom_like_grid():
    """A single-slice 3-D grid with flipped rows and an off-zero slice position, as a DICOM might give."""
    image = sitk.Image(COLUMNS, ROWS, 1, sitk.sitkUInt8)
    image.SetSpacing((0.2, 0.3, 2.5))
    image.SetOrigin((-100.0, 50.0, -7.5))
    image.SetDirection((1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0))
    return Grid.from_itk(image)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_a_2d_label_round_trips_with_its_pixels_and_grid(tmp_path, suffix):
    grid = Grid.from_itk(image_with_grid())
    path = write_label(off_centre_mask(), grid, tmp_path / f"label{suffix}")
    mask, read_back = read_label(path)
    np.testing.assert_array_equal(mask, off_centre_mask())
    assert read_back.matches(grid) and read_back.dimension == 2


def test_written_pixels_sit_at_itk_index_column_row(tmp_path):
    path = write_label(off_centre_mask(), Grid.from_itk(image_with_grid()), tmp_path / "label.nrrd")
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == (COLUMNS, ROWS)
    assert (image.GetPixel(9, 2), image.GetPixel(2, 9), image.GetPixel(13, 4), image.GetPixel(14, 4)) == (1, 0, 1, 0)
    assert image.GetOrigin() == (10.0, -20.0) and image.GetSpacing() == (0.5, 0.25)


def test_an_independent_nrrd_reader_sees_the_same_pixels(tmp_path):
    path = write_label(off_centre_mask(), Grid.from_itk(image_with_grid()), tmp_path / "label.nrrd")
    data, header = nrrd.read(str(path))  # pynrrd indexes (x, y): the transpose of (rows, columns)
    np.testing.assert_array_equal(data.T, off_centre_mask())
    np.testing.assert_allclose(header["space directions"], [[0.5, 0.0], [0.0, 0.25]])


def test_a_single_slice_3d_grid_is_written_3d_and_keeps_its_slice_position(tmp_path):
    grid = dicom_like_grid()
    path = write_label(off_centre_mask(), grid, tmp_path / "label.nrrd")
    image = sitk.ReadImage(str(path))
    assert image.GetDimension() == 3 and image.GetSize() == (COLUMNS, ROWS, 1)
    assert image.GetOrigin() == (-100.0, 50.0, -7.5)
    assert image.GetDirection() == (1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0)
    mask, read_back = read_label(path)
    np.testing.assert_array_equal(mask, off_centre_mask())
    assert read_back.matches(grid) and read_back.dimension == 3


def test_a_mask_of_the_wrong_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\(rows, columns\) = \(12, 16\)"):
        write_label(off_centre_mask().T, Grid.from_itk(image_with_grid()), tmp_path / "label.nrrd")


def test_multi_slice_and_multi_component_files_are_not_labels(tmp_path):
    sitk.WriteImage(sitk.Image(4, 3, 2, sitk.sitkUInt8), str(tmp_path / "volume.nrrd"))
    with pytest.raises(ValueError, match="one slice, found 2"):
        read_label(tmp_path / "volume.nrrd")
    sitk.WriteImage(sitk.Image([4, 3], sitk.sitkVectorUInt8, 3), str(tmp_path / "rgb.nrrd"))
    with pytest.raises(ValueError, match="one value per pixel"):
        read_label(tmp_path / "rgb.nrrd")


def test_slicers_ijk_to_ras_matrix_gives_the_itk_grid():
    # ITK: spacing (0.5, 0.25), origin LPS (10, -20), identity direction. Slicer shows it in RAS,
    # negating the first two rows: IJK-to-RAS = [[-0.5, 0, 0, -10], [0, -0.25, 0, 20], [0, 0, 1, 0]].
    ijk_to_ras = [[-0.5, 0, 0, -10], [0, -0.25, 0, 20], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert Grid.from_ijk_to_ras((COLUMNS, ROWS, 1), ijk_to_ras).matches(Grid.from_itk(image_with_grid()))


def test_a_2d_grid_matches_the_same_grid_read_as_one_slice_of_any_thickness():
    flat = Grid.from_itk(image_with_grid())
    volume = sitk.Image(COLUMNS, ROWS, 1, sitk.sitkUInt8)
    volume.SetSpacing((0.5, 0.25, 2.5))
    volume.SetOrigin((10.0, -20.0, 0.0))
    assert flat.matches(Grid.from_itk(volume))


@pytest.mark.parametrize(
    "other",
    [
        image_with_grid(origin=(10.001, -20.0)),
        image_with_grid(spacing=(0.5, 0.26)),
        image_with_grid(direction=(1.0, 0.0, 0.0, -1.0)),
    ],
    ids=["origin moved 1 micron", "spacing", "rows flipped"],
)
def test_grids_that_would_misplace_the_outline_do_not_match(other):
    assert not Grid.from_itk(image_with_grid()).matches(Grid.from_itk(other))


def test_grids_of_different_size_do_not_match():
    grid = Grid.from_itk(image_with_grid())
    assert not grid.matches(Grid((ROWS, COLUMNS, 1), grid.index_to_lps))


def test_a_label_written_on_a_real_siim_dicoms_grid_matches_the_dicom(siim_sample, tmp_path):
    dicom = sorted(Path(siim_sample, "dicom").glob("*.dcm"))[0]
    grid = read_grid(dicom)
    assert grid.size == (1024, 1024, 1)
    mask = np.zeros((1024, 1024), dtype=np.uint8)
    mask[100:200, 700:900] = 1
    read_mask, label_grid = read_label(write_label(mask, grid, tmp_path / "label.nrrd"))
    assert label_grid.matches(grid) and label_grid.dimension == grid.dimension
    assert int(read_mask.sum()) == 100 * 200 and read_mask[150, 800] == 1 and read_mask[800, 150] == 0
