"""Post-processing grid search on crafted probability maps, and storing the choice in a checkpoint."""

import numpy as np
import pytest
import torch

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.tuning import candidate_postprocesses, store_postprocess, tune_postprocess
from ptxseg.inference.predictor import Predictor
from ptxseg.io.atomic import TEMPORARY_PREFIX
from ptxseg.io.writers import write_png
from ptxseg.model.checkpoint import CheckpointMetadata, load_checkpoint, save_checkpoint
from ptxseg.model.network import build_architecture
from ptxseg.transforms.intensity import IMAGENET_GREY_MEAN, IMAGENET_GREY_STD
from ptxseg.transforms.postprocess import ThresholdPostprocess, TripletPostprocess

SIZE = 64


class PixelsAreProbabilities:
    """A fake network whose probability map is the input image itself (64 x 64 images fit the grid 1:1)."""

    name = "fake-identity"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        probability = np.clip(batch * IMAGENET_GREY_STD + IMAGENET_GREY_MEAN, 1e-6, 1 - 1e-6)
        return np.log(probability / (1 - probability))


def _image(tmp_path, name: str, rows: slice, cols: slice, value: int):
    pixels = np.full((SIZE, SIZE), 51, np.uint8)  # probability 0.2: below every threshold of the grid
    pixels[rows, cols] = value
    return write_png(pixels, tmp_path / f"{name}.png")


def test_the_grid_scales_min_area_with_the_model_grid():
    at_64, at_512 = candidate_postprocesses(64), candidate_postprocesses(512)

    assert len(at_64) == len(at_512) == 5 * 4 + 3 * 3 * 3
    assert sorted({c.min_area for c in at_64 if isinstance(c, ThresholdPostprocess)}) == [0, 4, 8, 16]
    assert sorted({c.min_area for c in at_512 if isinstance(c, ThresholdPostprocess)}) == [0, 262, 524, 1049]
    assert all(c.bottom_threshold <= c.top_threshold for c in at_512 if isinstance(c, TripletPostprocess))
    first = TripletPostprocess(0.8, 5, 0.1)
    assert candidate_postprocesses(64, first=first)[0] == first
    assert len(candidate_postprocesses(64, first=ThresholdPostprocess())) == 47  # already in the grid: not twice


def test_tuning_finds_the_filter_that_removes_a_small_false_positive(tmp_path):
    # P: a 16 x 16 pneumothorax at probability 0.8; N: no pneumothorax, a 3 x 3 blob at 0.6.
    items = [
        LabelledImage("P", _image(tmp_path, "P", slice(8, 24), slice(8, 24), 204), _truth(slice(8, 24))),
        LabelledImage("N", _image(tmp_path, "N", slice(40, 43), slice(40, 43), 153), None),
    ]
    predictor = Predictor(PixelsAreProbabilities(), SIZE)  # ThresholdPostprocess(0.5, 0) keeps the blob

    result = tune_postprocess(predictor, items, batch_size=1)

    # Grid order: threshold 0.3 with min_area 0, 4, 8 keeps the 9-pixel blob (Dice 0.5); min_area 16 drops it.
    assert result.chosen == ThresholdPostprocess(0.3, min_area=16)
    assert result.per_image_dice == 1.0 and result.pooled_dice == 1.0 and result.n_images == 2
    assert result.candidates[0] == {
        "postprocess": ThresholdPostprocess().to_dict(),
        "per_image_dice": 0.5,
        "pooled_dice": pytest.approx(2 * 256 / (2 * 256 + 9)),
    }


def _truth(rows: slice) -> np.ndarray:
    truth = np.zeros((SIZE, SIZE), bool)
    truth[rows, rows] = True
    return truth


def test_store_postprocess_rewrites_only_the_metadata(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(
        tmp_path / "m.safetensors",
        build_architecture("efficientnet-b0"),
        CheckpointMetadata(encoder="efficientnet-b0", image_size=SIZE, metrics={"per_image_dice": 0.7}),
    )
    before, _ = load_checkpoint(path)
    chosen = TripletPostprocess(top_threshold=0.75, min_area=16, bottom_threshold=0.4)

    store_postprocess(path, chosen)

    after, metadata = load_checkpoint(path)
    assert metadata.postprocess == chosen.to_dict()
    assert metadata.metrics == {"per_image_dice": 0.7} and metadata.image_size == SIZE
    assert after.keys() == before.keys() and all(torch.equal(after[key], before[key]) for key in before)
    assert Predictor.from_checkpoint(path, "cpu", "torch").postprocess == chosen
    assert not list(tmp_path.glob(f"{TEMPORARY_PREFIX}*"))  # written atomically, no leftovers
