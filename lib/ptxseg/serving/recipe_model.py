"""The served model of a recipe app: a ``ServedModel`` whose file is an ensemble or two-stage bundle.

Everything else (the store, the reload on promotion, rejection of a broken file, warm-up) is ``ServedModel``'s;
only what the first start installs, how the file becomes a predictor, and what ``/info`` says are the recipe's.
"""

from __future__ import annotations

from pathlib import Path

from ptxseg.inference.loading import load_predictor
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.two_stage import TwoStagePredictor
from ptxseg.model.bundle import ClassifierMetadata, ModelBundle, load_bundle, save_bundle
from ptxseg.model.checkpoint import CheckpointMetadata
from ptxseg.model.classifier import build_classifier
from ptxseg.model.factory import build_model
from ptxseg.model.network import describe_weights
from ptxseg.serving.recipe_settings import RecipeSettings
from ptxseg.serving.served_model import OneCallAtATime, ServedModel

__all__ = ["RecipeServedModel"]


class RecipeServedModel(ServedModel):
    """The served ensemble or two-stage model; its post-processing is the conf's (``RecipeSettings.options``).

    Example:
        >>> served = RecipeServedModel(RecipeSettings.from_conf("ensemble", {}), Path("model"))  # doctest: +SKIP
        >>> [member["encoder"] for member in served.describe()["members"]]  # doctest: +SKIP
        ['efficientnet-b4', 'efficientnet-b2', 'efficientnet-b0']
    """

    def __init__(self, recipe: RecipeSettings, model_dir: Path):
        self.recipe = recipe
        super().__init__(recipe.serving, model_dir)

    def _install_initial(self) -> None:
        settings = self.settings
        if settings.model:
            return super()._install_initial()
        encoders = self.recipe.members if self.recipe.kind == "ensemble" else (settings.encoder,)
        unets = [(build_model(name, encoder_weights=settings.encoder_weights), name) for name in encoders]
        members = [(model, CheckpointMetadata(name, image_size=settings.image_size)) for model, name in unets]
        classifier = None
        if self.recipe.kind == "two_stage":
            classifier = (build_classifier(settings.encoder), ClassifierMetadata(settings.encoder, settings.image_size))
        bundle = ModelBundle(self.recipe.kind, members, self.recipe.options, classifier)
        self.store.directory.mkdir(parents=True, exist_ok=True)
        staging = save_bundle(self.store.directory / ".initial.safetensors", bundle)
        weights = describe_weights(members[0][0])
        self.store.install(staging, trained=False, weights=weights, source="initial (untrained)")
        staging.unlink()

    def _measures_runtimes(self) -> bool:
        return False  # the measured choice covers single U-Nets; a bundle's networks run on the default runtime

    def predictor(self) -> Predictor:
        """The warm predictor of the current bundle (reloaded after a promotion, else reused)."""
        with self._lock:
            stat = self.store.served_path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._predictor is None or stamp != self._loaded_stamp:
                self._predictor = load_predictor(
                    self.store.served_path,
                    self.settings.device,
                    self.settings.backend,
                    triage_threshold=self.settings.triage_threshold,
                    options=self.recipe.options,
                )
                self._predictor.backend = OneCallAtATime(self._predictor.backend)
                if isinstance(self._predictor, TwoStagePredictor):  # a compiled runtime too: one caller at a time
                    self._predictor.classifier = OneCallAtATime(self._predictor.classifier)
                self._uncertainty = None
                self._loaded_stamp = stamp
            return self._predictor

    def describe(self) -> dict:
        """``ServedModel.describe`` plus the recipe: its kind, options and each member's encoder and version."""
        bundle = load_bundle(self.store.served_path)
        version = self.record.version
        members = [{**member, "version": version} for member in bundle.describe()]
        for member in members:
            member.pop("metrics", None)
        return {**super().describe(), "kind": bundle.kind, "options": bundle.options, "members": members}
