"""read_mask: any colour or alpha mode of a mask PNG, nonzero in any channel is pneumothorax."""

import numpy as np
import pytest
from PIL import Image

from ptxseg.io.masks import read_mask


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "I;16"])
def test_colour_and_alpha_masks(tmp_path, mode):
    rgb = np.zeros((5, 7, 3), dtype=np.uint8)
    rgb[3, 5] = (0, 0, 200)  # a pure-blue annotation: nonzero in one channel only
    rgb[0, 1] = (255, 255, 255)
    expected = rgb.any(axis=-1)
    image = Image.fromarray(rgb)
    if mode == "I;16":
        image = Image.fromarray((expected * 1000).astype(np.uint16))
    elif mode == "RGBA":
        image.putalpha(255)  # an opaque alpha channel everywhere must not mark every pixel
    elif mode != "RGB":
        image = image.convert(mode)
    path = tmp_path / f"mask_{mode.replace(';', '')}.png"
    image.save(path)
    np.testing.assert_array_equal(read_mask(path), expected)
