"""Phantom "hospitals" for federated tests: labelled studies with each site's own intensity profile, and the sites
file (``PTXSEG_FEDERATED_SITES``) that tells each FLARE client where its studies and served model live."""

import json
from pathlib import Path

import numpy as np

from ptxseg.io.labels import write_label
from ptxseg.io.reader import image_id, read_cxr
from ptxseg.io.writers import quantize, write_png
from ptxseg.phantom.synthetic import make_phantom

# Each hospital's detector: (gain, offset) applied to the phantom's [0, 1] pixels.
PROFILES = {"site-1": (1.0, 0.0), "site-2": (0.6, 0.3), "site-3": (0.8, 0.1)}


def write_hospital(folder: Path, site: str, n: int = 6, size: int = 64) -> Path:
    """``n`` labelled PNG studies of ``site`` (ids carry the site's name, so a leak of an id is recognisable)."""
    gain, offset = PROFILES[site]
    labels = folder / "labels" / "final"
    labels.mkdir(parents=True, exist_ok=True)
    for index in range(n):
        phantom = make_phantom(size=size, positive=index % 2 == 0, seed=100 * int(site[-1]) + index)
        path = write_png(quantize(np.clip(phantom.image * gain + offset, 0, 1)), folder / f"{site}-patient{index}.png")
        write_label(phantom.mask, like=read_cxr(path), path=labels / f"{image_id(path)}.nrrd")
    return folder


def write_sites_file(root: Path, sites: list[str], n: int = 6) -> Path:
    """Studies and a model folder for each site under ``root``, and the sites file naming them."""
    entries = {
        site: {
            "studies": str(write_hospital(root / site / "studies", site, n)),
            "model_dir": str(root / site / "model"),
        }
        for site in sites
    }
    path = root / "sites.json"
    path.write_text(json.dumps(entries))
    return path
