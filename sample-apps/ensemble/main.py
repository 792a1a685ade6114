"""ptxseg sample app ``ensemble``: SIIM 1st place recipe: several U-Nets averaged with flip-TTA, triplet thresholds.

Start it with ``ptxseg serve --app sample-apps/ensemble`` or ``monailabel start_server --app sample-apps/ensemble``; the
app is ``sample-apps/common/ptxseg_recipe_app.py`` with this recipe (README.md says when to use it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from monailabel.interfaces.app import MONAILabelApp

# The shared app body lives beside the sample apps under a name of its own (not ``lib``: each app has its own).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "common"))

from lib.configs.ensemble import Ensemble  # noqa: E402
from ptxseg_recipe_app import RecipeApp  # noqa: E402


class EnsembleApp(RecipeApp, MONAILabelApp):
    """SIIM 1st place recipe: several U-Nets averaged with flip-TTA, triplet thresholds."""

    TASK_CONFIG = Ensemble
    DESCRIPTION = "SIIM 1st place recipe: several U-Nets averaged with flip-TTA, triplet thresholds"
