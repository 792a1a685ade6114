"""Synthetic chest X-rays with known pneumothorax masks, for tests, the demo and calibration.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.phantom.anatomy import ChestLayers, Lung, render_chest
from ptxseg.phantom.demo import DEMO_UID_ROOT, DemoStudy, default_demo_dir, make_demo_studies, write_studies
from ptxseg.phantom.files import PHANTOM_FORMATS, WrittenPhantom, write_phantoms
from ptxseg.phantom.synthetic import Phantom, make_dataset, make_phantom
from ptxseg.phantom.vessels import vessel_tree

__all__ = [
    "ChestLayers",
    "Lung",
    "render_chest",
    "DEMO_UID_ROOT",
    "DemoStudy",
    "default_demo_dir",
    "make_demo_studies",
    "write_studies",
    "PHANTOM_FORMATS",
    "WrittenPhantom",
    "write_phantoms",
    "Phantom",
    "make_dataset",
    "make_phantom",
    "vessel_tree",
]
