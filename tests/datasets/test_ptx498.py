"""PTX-498 layout: pairs found and sorted from a synthetic tree, NIfTI twins ignored, masks read in any colour mode."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ptxseg.datasets.ptx498 import Sample, find_ptx498_pairs
from ptxseg.io.masks import read_mask


def _write_case(site: Path, case: str, with_mask: bool = True) -> None:
    site.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 6), 100, dtype=np.uint8)).save(site / f"{case}.1.img.png")
    if with_mask:
        mask = np.zeros((8, 6), dtype=np.uint8)
        mask[1, 2] = 255
        Image.fromarray(mask).save(site / f"{case}.2.mask.png")
    # Decoys: PTX-498's rotated NIfTI twins must never be taken for images or masks.
    (site / f"{case}.1.img.nii.gz").write_bytes(b"not read")
    (site / f"{case}.2.mask.nii.gz").write_bytes(b"not read")


def test_pairs_are_found_and_sorted_by_site_then_case_number(tmp_path):
    for site, cases in {"SiteB": ["1"], "SiteA": ["10", "2", "1"], "SiteC": ["3"]}.items():
        for case in cases:
            _write_case(tmp_path / site, case)
    (tmp_path / "README.txt").write_text("not a site")
    samples = find_ptx498_pairs(tmp_path)
    assert [s.image_id for s in samples] == ["SiteA/1", "SiteA/2", "SiteA/10", "SiteB/1", "SiteC/3"]
    assert samples[2] == Sample("SiteA/10", tmp_path / "SiteA/10.1.img.png", tmp_path / "SiteA/10.2.mask.png")
    assert all(s.image_path.name.endswith(".png") and s.mask_path.name.endswith(".png") for s in samples)


def test_root_without_pairs_raises_saying_what_is_expected(tmp_path):
    (tmp_path / "SiteA").mkdir()
    (tmp_path / "SiteA" / "1.1.img.nii.gz").write_bytes(b"only a twin")
    with pytest.raises(ValueError, match=r"no PTX-498 images .*SiteA/1\.1\.img\.png"):
        find_ptx498_pairs(tmp_path)


def test_image_without_its_mask_raises_naming_the_missing_file(tmp_path):
    _write_case(tmp_path / "SiteA", "1")
    _write_case(tmp_path / "SiteA", "7", with_mask=False)
    with pytest.raises(ValueError, match=r"7\.1\.img\.png has no mask: expected 7\.2\.mask\.png"):
        find_ptx498_pairs(tmp_path)


def test_grey_mask_nonzero_is_pneumothorax_and_position_is_kept(tmp_path):
    _write_case(tmp_path / "SiteA", "1")
    mask = read_mask(tmp_path / "SiteA" / "1.2.mask.png")
    expected = np.zeros((8, 6), dtype=bool)
    expected[1, 2] = True
    np.testing.assert_array_equal(mask, expected)
