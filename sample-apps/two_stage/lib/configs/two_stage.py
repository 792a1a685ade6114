"""The ``pneumothorax`` task served by the two_stage recipe (conf keys: README.md)."""

from ptxseg_recipe_app import RecipeTask


class TwoStage(RecipeTask):
    """SIIM 2nd place recipe: an EfficientNet-B4 classifier gates the EfficientNet-B4 U-Net."""

    KIND = "two_stage"
