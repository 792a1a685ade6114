"""normalize: the same ImageNet grey statistics for numpy and torch."""

import numpy as np
import torch

from ptxseg.transforms.intensity import IMAGENET_GREY_MEAN, IMAGENET_GREY_STD, normalize


def test_normalize_gives_the_same_numbers_for_numpy_and_torch():
    pixels = np.array([[0.0, IMAGENET_GREY_MEAN, 1.0]], dtype=np.float64)

    as_numpy = normalize(pixels)
    as_torch = normalize(torch.from_numpy(pixels.astype(np.float32)))

    assert as_numpy.dtype == np.float32  # the model's dtype, whatever the input was
    assert isinstance(as_torch, torch.Tensor)
    expected = [[-IMAGENET_GREY_MEAN / IMAGENET_GREY_STD, 0.0, (1.0 - IMAGENET_GREY_MEAN) / IMAGENET_GREY_STD]]
    np.testing.assert_allclose(as_numpy, expected, atol=1e-6)
    np.testing.assert_allclose(as_torch.numpy(), as_numpy, atol=1e-6)
