"""Training data: ground truth from arrays, label files or nothing; samples decoded once, cached as uint8."""

import numpy as np
import pytest
import torch

from ptxseg.datasets.labelled import CachedFittedDataset, FittedSample, LabelledImage, fit_labelled_image
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import write_png
from ptxseg.training.augment import train_augmentations
from ptxseg.transforms.fit import fit_mask, fit_to_square

SIZE = 32


def _pixels(shape) -> np.ndarray:
    """A uint8 ramp (darker at the top) with a white block in the upper-left part."""
    pixels = np.tile(np.linspace(0, 200, shape[0]).astype(np.uint8)[:, None], (1, shape[1]))
    pixels[4:12, 3:9] = 255
    return pixels


def _block_mask(shape) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[4:12, 3:9] = True
    return mask


@pytest.fixture
def tall_png(tmp_path):
    """A 40 x 30 PNG: fitted to 32 it scales by 0.8 to 32 x 24 and is padded by 4 columns on each side."""
    return write_png(_pixels((40, 30)), tmp_path / "tall.png")


def test_mask_from_an_array(tall_png):
    mask = _block_mask((40, 30))

    loaded = LabelledImage("tall", tall_png, mask.astype(np.uint8)).load_mask((40, 30))

    assert loaded.dtype == bool
    np.testing.assert_array_equal(loaded, mask)


def test_mask_from_a_label_file(tall_png, tmp_path):
    mask = _block_mask((40, 30))
    label_path = write_label(mask, like=read_cxr(tall_png), path=tmp_path / "tall.label.nrrd")

    loaded = LabelledImage("tall", tall_png, label_path).load_mask((40, 30))

    np.testing.assert_array_equal(loaded, mask)
    np.testing.assert_array_equal(LabelledImage("tall", tall_png, str(label_path)).load_mask((40, 30)), mask)


def test_no_mask_means_no_pneumothorax(tall_png):
    loaded = LabelledImage("tall", tall_png).load_mask((40, 30))

    assert loaded.shape == (40, 30) and loaded.dtype == bool and not loaded.any()


def test_a_mask_on_another_grid_is_refused_with_the_image_id(tall_png):
    item = LabelledImage("case-17", tall_png, np.zeros((30, 40), bool))  # transposed

    with pytest.raises(ValueError, match=r"case-17: mask shape \(30, 40\) does not match the image's shape \(40, 30\)"):
        item.load_mask((40, 30))
    with pytest.raises(ValueError, match="case-17"):
        fit_labelled_image(item, SIZE)


def test_fit_labelled_image_quantises_the_fitted_image_and_fits_the_mask(tall_png):
    mask = _block_mask((40, 30))

    sample = fit_labelled_image(LabelledImage("tall", tall_png, mask), SIZE)

    fitted, info = fit_to_square(_pixels((40, 30)) / 255.0, SIZE)
    assert sample.image_id == "tall"
    assert sample.image.dtype == np.uint8 and sample.image.shape == (SIZE, SIZE)
    assert sample.label.dtype == bool and sample.label.shape == (SIZE, SIZE)
    assert np.abs(sample.image.astype(int) - np.round(fitted * 255)).max() <= 1
    assert not sample.image[:, :4].any() and not sample.image[:, 28:].any()  # letterbox padding is black
    np.testing.assert_array_equal(sample.label, fit_mask(mask, info))
    assert np.count_nonzero(sample.label) == pytest.approx(mask.sum() * 0.8**2, rel=0.25)  # 48 -> about 31


def test_a_square_image_at_the_model_size_is_cached_exactly(tmp_path):
    pixels = _pixels((SIZE, SIZE))
    path = write_png(pixels, tmp_path / "square.png")

    sample = fit_labelled_image(LabelledImage("square", path), SIZE)

    np.testing.assert_array_equal(sample.image, pixels)  # uint8 in, uint8 cached: no rounding loss
    assert not sample.label.any()


def test_dataset_items_are_channel_first_float_tensors_in_range(tall_png, tmp_path):
    square = write_png(_pixels((SIZE, SIZE)), tmp_path / "square.png")
    items = [LabelledImage("tall", tall_png, _block_mask((40, 30))), LabelledImage("square", square)]

    dataset = CachedFittedDataset(items, SIZE)

    assert len(dataset) == 2
    assert [sample.image.dtype for sample in dataset.samples] == [np.uint8, np.uint8]
    for index, sample in enumerate(dataset.samples):
        item = dataset[index]
        assert item["index"] == index
        for key in ("image", "label"):
            assert isinstance(item[key], torch.Tensor) and item[key].dtype == torch.float32
            assert item[key].shape == (1, SIZE, SIZE)
        assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
        np.testing.assert_allclose(item["image"][0].numpy(), sample.image / 255.0, atol=1e-6)
        assert set(item["label"].unique().tolist()) <= {0.0, 1.0}
        np.testing.assert_array_equal(item["label"][0].numpy() > 0.5, sample.label)
    assert dataset[0]["label"].sum() > 0 and dataset[1]["label"].sum() == 0


def test_augmentation_applies_to_image_and_label_together():
    image = np.zeros((SIZE, SIZE), np.uint8)
    image[4:12, 3:9] = 255
    sample = FittedSample("block", image, image > 0)
    always_flip = train_augmentations(SIZE, flip_p=1.0, intensity_p=0.0, distortion_p=0.0, affine_p=0.0)

    item = CachedFittedDataset.from_samples([sample], augment=always_flip)[0]

    np.testing.assert_array_equal(item["image"][0].numpy(), image[:, ::-1] / 255.0)
    np.testing.assert_array_equal(item["label"][0].numpy(), (image[:, ::-1] > 0).astype(np.float32))
    assert sample.image[4, 3] == 255  # the cached sample itself is never changed


def test_from_samples_wraps_decoded_samples_without_reading_files():
    samples = [
        FittedSample(f"s{index}", np.full((16, 16), 51 * index, np.uint8), np.eye(16, dtype=bool)) for index in range(3)
    ]

    dataset = CachedFittedDataset.from_samples(samples)

    assert len(dataset) == 3 and dataset.augment is None
    assert [sample.image_id for sample in dataset.samples] == ["s0", "s1", "s2"]
    assert dataset[2]["image"].shape == (1, 16, 16)
    assert float(dataset[2]["image"][0, 0, 0]) == pytest.approx(0.4)  # 102 / 255
    assert float(dataset[1]["label"].sum()) == 16.0
