"""The ``pneumothorax`` task served by the ensemble recipe (conf keys: README.md)."""

from ptxseg_recipe_app import RecipeTask


class Ensemble(RecipeTask):
    """SIIM 1st place recipe: several U-Nets averaged with flip-TTA, triplet thresholds."""

    KIND = "ensemble"
