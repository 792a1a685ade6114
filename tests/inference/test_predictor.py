"""The Predictor: the whole inference data path, from a CXRImage to a mask on the image's own grid and its findings."""

import dataclasses

import numpy as np
import pytest
import torch

from ptxseg.image import CXRImage, Geometry
from ptxseg.inference.predictor import Predictor
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize, write_dicom
from ptxseg.model.checkpoint import CheckpointMetadata, save_checkpoint
from ptxseg.model.network import build_architecture, recalibrate_batchnorm
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize
from ptxseg.transforms.postprocess import ThresholdPostprocess

SIZE = 64
# An 80 x 50 image fits the 64 grid scaled by 0.8 to 64 x 40, padded by 12 columns on each side: model-grid rows
# 16:32 and columns 16:28 are original rows 20:40 and columns (16 - 12) / 0.8 = 5 to (28 - 12) / 0.8 = 20.
MODEL_BLOCK = (slice(16, 32), slice(16, 28))
ORIGINAL_BLOCK = (slice(20, 40), slice(5, 20))


class BlockLogits:
    """A fake network: ``logit`` inside ``block`` of the model grid, a confident background elsewhere."""

    name = "fake-block"

    def __init__(self, block=MODEL_BLOCK, logit: float = 20.0):
        self.block = block
        self.logit = logit
        self.batches = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch)
        logits = np.full(batch.shape, -20.0, np.float32)
        logits[(slice(None), slice(None), *self.block)] = self.logit
        return logits


class BrightPixelLogits:
    """A fake network that segments whatever is brighter than mid-grey, image by image."""

    name = "fake-bright"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return 10.0 * (batch - normalize(np.float32(0.5)))


def _image(pixels: np.ndarray, spacing=(0.5, 0.5), **metadata) -> CXRImage:
    return CXRImage(pixels.astype(np.float32), spacing, Geometry(spacing=(*spacing[::-1], 1.0)), metadata)


def _dice(first: np.ndarray, second: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(first & second) / (np.count_nonzero(first) + np.count_nonzero(second))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small U-Net with BatchNorm statistics of phantom chests, so its logits vary over the image."""
    torch.manual_seed(0)
    fitted = np.stack([fit_to_square(make_phantom(SIZE, seed=seed).image, SIZE)[0] for seed in range(4)])
    model = recalibrate_batchnorm(build_architecture("efficientnet-b0"), [normalize(torch.from_numpy(fitted))[:, None]])
    metadata = CheckpointMetadata(encoder="efficientnet-b0", image_size=SIZE)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "b0.safetensors", model, metadata)


@pytest.fixture(scope="module")
def dicom(tmp_path_factory) -> CXRImage:
    """A real 80 x 50 DICOM file (a phantom chest, 0.5 mm pixels) read back through read_cxr."""
    pixels = make_phantom(shape=(160, 100), seed=5).image[::2, ::2]
    path = write_dicom(quantize(pixels), tmp_path_factory.mktemp("dicom") / "chest.dcm", spacing_mm=(0.5, 0.5))
    return read_cxr(path)


def test_torch_and_cpu_runtime_predictors_agree_on_the_original_grid(checkpoint, dicom):
    reference = Predictor.from_checkpoint(checkpoint, device="cpu", backend="torch")
    fast = Predictor.from_checkpoint(checkpoint, device="cpu", backend="auto")

    expected, actual = reference.predict(dicom), fast.predict(dicom)

    assert reference.backend.name == "torch-cpu-fp32"
    assert fast.backend.name.startswith(("openvino", "onnxruntime"))
    assert (checkpoint.parent / "b0.safetensors.64.onnx").is_file()  # cached beside the checkpoint
    assert reference.image_size == fast.image_size == SIZE
    assert reference.postprocess == ThresholdPostprocess()  # the checkpoint's stored post-processing
    assert dicom.shape == (80, 50) and dicom.spacing == (0.5, 0.5)
    for prediction in (expected, actual):
        assert prediction.mask.shape == (80, 50) and prediction.mask.dtype == bool
        assert prediction.probability_map.shape == (SIZE, SIZE)
        assert prediction.area_px == np.count_nonzero(prediction.mask)
        assert prediction.area_cm2 == pytest.approx(prediction.area_px * 0.25 / 100, abs=1e-4)
    assert 0.05 < expected.mask.mean() < 0.95  # a mask with edges, so agreement means something
    assert np.mean(expected.mask == actual.mask) >= 0.97  # bf16 may move a few edge pixels
    assert np.abs(expected.probability_map - actual.probability_map).mean() < 0.01
    assert actual.probability == pytest.approx(expected.probability, abs=0.02)


def test_a_model_grid_block_lands_on_the_expected_original_pixels(dicom):
    backend = BlockLogits()
    predictor = Predictor(backend, SIZE)

    prediction = predictor.predict(dicom)

    expected = np.zeros((80, 50), bool)
    expected[ORIGINAL_BLOCK] = True
    np.testing.assert_array_equal(prediction.mask, expected)
    assert prediction.area_px == 300 and prediction.area_cm2 == 0.75  # 300 pixels of 0.5 x 0.5 mm
    assert prediction.side == "right"  # image left on a PA film
    assert prediction.probability == pytest.approx(1.0) and prediction.flag
    # The network saw the normalised letterbox: black padding in columns 0..11 and 52..63.
    (batch,) = backend.batches
    assert batch.shape == (1, 1, SIZE, SIZE) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0, 0, :, :12], normalize(np.float32(0.0)), atol=1e-6)
    np.testing.assert_allclose(batch[0, 0, :, 52:], normalize(np.float32(0.0)), atol=1e-6)


def test_a_mirrored_image_reports_the_other_patient_side(dicom):
    mirrored = dataclasses.replace(dicom, metadata={**dicom.metadata, "patient_orientation": ["R", "F"]})

    assert Predictor(BlockLogits(), SIZE).predict(mirrored).side == "left"


def test_a_bright_off_centre_block_comes_back_to_the_same_pixels():
    pixels = np.full((80, 50), 0.2, np.float32)
    pixels[10:30, 32:46] = 0.9  # image right, upper half: the patient's left on a PA film
    truth = pixels > 0.5

    prediction = Predictor(BrightPixelLogits(), SIZE).predict(_image(pixels))

    assert _dice(prediction.mask, truth) >= 0.95
    rows, cols = np.nonzero(prediction.mask)
    assert abs(rows.mean() - 19.5) <= 1.0 and abs(cols.mean() - 38.5) <= 1.0
    assert prediction.side == "left"


@pytest.mark.parametrize(("triage_threshold", "flag"), [(0.6, True), (0.7, True), (0.8, False)])
def test_flag_follows_the_triage_threshold(dicom, triage_threshold, flag):
    backend = BlockLogits(logit=float(np.log(0.75 / 0.25)))  # probability 0.75 inside the block

    prediction = Predictor(backend, SIZE, triage_threshold=triage_threshold).predict(dicom)

    assert prediction.probability == pytest.approx(0.75, abs=1e-6)
    assert prediction.flag is flag


def test_triage_threshold_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Predictor(BlockLogits(), SIZE, triage_threshold=50)


def test_summary_is_json_ready(dicom):
    summary = Predictor(BlockLogits(), SIZE).predict(dicom).summary()

    assert set(summary) == {"pneumothorax_probability", "area_px", "area_cm2", "side", "flag", "latencies_ms"}
    assert summary["area_px"] == 300 and summary["area_cm2"] == 0.75 and summary["side"] == "right"
    assert summary["pneumothorax_probability"] == 1.0 and summary["flag"] is True
    assert set(summary["latencies_ms"]) == {"preprocess", "forward", "postprocess"}
    assert all(value >= 0.0 for value in summary["latencies_ms"].values())


def test_predict_batch_equals_predicting_each_image(dicom):
    wide = np.full((64, 100), 0.1, np.float32)
    wide[40:60, 10:30] = 1.0
    images = [dicom, _image(wide, spacing=(0.2, 0.2))]
    predictor = Predictor(BrightPixelLogits(), SIZE)

    batched = predictor.predict_batch(images)
    single = [predictor.predict(image) for image in images]

    assert [prediction.mask.shape for prediction in batched] == [(80, 50), (64, 100)]
    for together, alone in zip(batched, single, strict=True):
        np.testing.assert_array_equal(together.mask, alone.mask)
        np.testing.assert_array_equal(together.probability_map, alone.probability_map)
        assert (together.probability, together.area_cm2, together.side) == (
            alone.probability,
            alone.area_cm2,
            alone.side,
        )
    assert _dice(batched[1].mask, wide > 0.5) >= 0.9 and batched[1].side == "right"
