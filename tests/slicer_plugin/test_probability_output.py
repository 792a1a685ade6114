"""The probability map output: the Predictor's map brought back to the image's grid, written and served."""

import numpy as np
import pytest
import SimpleITK as sitk
from PneumothoraxAnnotatorLib import PtxsegClient

from ptxseg.inference.predictor import Predictor
from ptxseg.inference.probability import probability_on_grid, write_probability
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import write_dicom
from ptxseg.serving.store import SERVED_NAME
from ptxseg.transforms.fit import undo_fit


@pytest.fixture(scope="module")
def small_predictor(tmp_path_factory):
    from tests.support.small_model import write_small_checkpoint

    path = write_small_checkpoint(tmp_path_factory.mktemp("small-model") / "small.safetensors")
    return Predictor.from_checkpoint(path, device="cpu", backend="torch")


def test_the_written_map_is_the_predictors_map_on_the_image_grid(small_predictor, tmp_path):
    pixels = np.full((72, 120), 300, np.uint16)  # not square: the letterbox has to be undone
    pixels[10:30, 70:100] = 3500
    image = read_cxr(write_dicom(pixels, tmp_path / "wide.dcm", (0.4, 0.6), bits_stored=12))
    prediction = small_predictor.predict(image)
    path = write_probability(prediction, like=image, path=tmp_path / "wide.probability.nrrd")

    written = sitk.ReadImage(str(path))
    expected = np.clip(undo_fit(prediction.probability_map, prediction.fit), 0, 1)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written)[0], expected.astype(np.float32))
    np.testing.assert_array_equal(probability_on_grid(prediction), expected.astype(np.float32))
    assert written.GetPixelIDValue() == sitk.sitkFloat32
    reference = sitk.ReadImage(str(tmp_path / "wide.dcm"))
    assert written.GetSize() == reference.GetSize()
    np.testing.assert_allclose(written.GetSpacing()[:2], reference.GetSpacing()[:2])
    np.testing.assert_allclose(written.GetOrigin(), reference.GetOrigin())


@pytest.mark.server
def test_the_server_returns_the_served_models_map_for_a_phantom(app_server, tmp_path):
    client = PtxsegClient(app_server.url, token=app_server.token)
    phantom = sorted(app_server.studies.glob("2.25.31415*.dcm"))[0]
    path, result = client.infer(phantom.stem, tmp_path, probability=True)
    served = Predictor.from_checkpoint(app_server.model_dir / SERVED_NAME, device="cpu", backend="torch")
    expected = probability_on_grid(served.predict(read_cxr(phantom)))

    returned = sitk.ReadImage(str(path))
    assert returned.GetPixelIDValue() == sitk.sitkFloat32
    probabilities = sitk.GetArrayFromImage(returned)[0]
    assert probabilities.shape == expected.shape
    # The server may run the same weights on OpenVINO or ONNX Runtime (bf16 where the CPU has it).
    assert np.abs(probabilities - expected).mean() < 0.01, np.abs(probabilities - expected).max()
    assert 0.0 <= probabilities.min() and probabilities.max() <= 1.0
    assert result["model_version"]
