"""ptxseg sample app ``two_stage``: the SIIM 2nd place recipe, an EfficientNet-B4 classifier gating the U-Net.

Start it with ``ptxseg serve --app sample-apps/two_stage`` or
``monailabel start_server --app sample-apps/two_stage``; the app is ``sample-apps/common/ptxseg_recipe_app.py``
with this recipe (README.md says when to use it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from monailabel.interfaces.app import MONAILabelApp

# The shared app body lives beside the sample apps under a name of its own (not ``lib``: each app has its own).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "common"))

from lib.configs.two_stage import TwoStage  # noqa: E402
from ptxseg_recipe_app import RecipeApp  # noqa: E402


class TwoStageApp(RecipeApp, MONAILabelApp):
    """SIIM 2nd place recipe: an EfficientNet-B4 classifier gates the EfficientNet-B4 U-Net."""

    TASK_CONFIG = TwoStage
    DESCRIPTION = "SIIM 2nd place recipe: an EfficientNet-B4 classifier gates the EfficientNet-B4 U-Net"
