"""What ``GET /info/`` says about the server and its model, as typed fields with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .values import finite_or_none, mapping_or_empty

__all__ = ["ServerInfo"]


@dataclass(frozen=True)
class ServerInfo:
    """The parts of ``/info/`` the annotator shows or acts on; missing keys become None or empty.

    Attributes:
        name: the app name.
        models: inference model names.
        strategies: active learning strategy names.
        scoring_methods: scoring method names (the worklist needs one).
        total_images, labelled_images: datastore counts.
        model_trained, model_version, model_weights, validation_dice, training_images, device: the ``ptxseg``
            block: whether the model has been trained, its version, where its weights came from
            (``random``, ``imagenet`` or ``trained``), its validation Dice, how many images trained it, and
            the device it runs on.
        monitoring, monitoring_alert: the server's monitoring summary in one line (drift, agreement with the
            annotators), and whether it raises a drift alert; None and False when the server has none.
    """

    name: str | None = None
    models: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    scoring_methods: tuple[str, ...] = ()
    total_images: int | None = None
    labelled_images: int | None = None
    model_trained: bool = False
    model_version: str | None = None
    model_weights: str | None = None
    validation_dice: float | None = None
    training_images: int | None = None
    device: str | None = None
    monitoring: str | None = None
    monitoring_alert: bool = False

    @classmethod
    def from_info(cls, info: dict) -> ServerInfo:
        """Read an ``/info/`` answer, tolerating absent or oddly typed keys.

        Example:
            >>> info = {"name": "ptxseg", "models": {"pneumothorax": {}}, "ptxseg": {"model": {
            ...     "trained": True, "version": "3", "weights": "trained", "validation_dice": 0.81}}}
            >>> ServerInfo.from_info(info).model_version, ServerInfo.from_info(info).validation_dice
            ('3', 0.81)
        """
        info = info if isinstance(info, dict) else {}
        ptxseg = mapping_or_empty(info.get("ptxseg"))
        model = mapping_or_empty(ptxseg.get("model"))
        datastore = mapping_or_empty(info.get("datastore"))
        version = model.get("version")
        return cls(
            name=info.get("name") if isinstance(info.get("name"), str) else None,
            models=_names(info.get("models")),
            strategies=_names(info.get("strategies")),
            scoring_methods=_names(info.get("scoring")),
            total_images=_count(datastore.get("total")),
            labelled_images=_count(datastore.get("completed")),
            model_trained=model.get("trained") is True,
            model_version=None if version is None else str(version),
            model_weights=model.get("weights") if isinstance(model.get("weights"), str) else None,
            validation_dice=finite_or_none(model.get("validation_dice")),
            training_images=_count(model.get("training_images")),
            device=ptxseg.get("device") if isinstance(ptxseg.get("device"), str) else None,
        )

    def with_monitoring(self, summary: dict | None) -> ServerInfo:
        """This info with ``GET /monitoring/``'s summary (None: the server has no monitoring).

        Example:
            >>> summary = {"alert": {"state": "drift"}, "text": "Monitoring: drift: station 'X' unseen"}
            >>> ServerInfo().with_monitoring(summary).monitoring_alert
            True
            >>> ServerInfo().with_monitoring(None).monitoring is None
            True
        """
        summary = mapping_or_empty(summary)
        text = summary.get("text") if isinstance(summary.get("text"), str) else None
        alert = mapping_or_empty(summary.get("alert")).get("state") == "drift"
        return replace(self, monitoring=text, monitoring_alert=alert)

    @property
    def warning(self) -> str | None:
        """A sentence for the annotator when predictions cannot be trusted yet, else None.

        Example:
            >>> ServerInfo(model_weights="random").warning.startswith("The model has random weights")
            True
        """
        if self.monitoring_alert:
            return f"The server reports input drift: {self.monitoring}. Check outlines with extra care."
        if self.model_weights == "random":
            return "The model has random weights: its outlines are noise until it is fine-tuned on labels."
        if not self.model_trained:
            return "The model has not been trained on pneumothorax yet: check every outline carefully."
        return None

    def summary(self) -> str:
        """One line describing the model for the status area.

        Example:
            >>> ServerInfo(model_version="3", model_trained=True, validation_dice=0.812, device="cpu").summary()
            'model 3, trained, validation Dice 0.812, on cpu'
        """
        facts = [f"model {self.model_version or '(unknown version)'}", "trained" if self.model_trained else "untrained"]
        if self.model_weights and self.model_weights != "trained":
            facts.append(f"{self.model_weights} weights")
        if self.validation_dice is not None:
            facts.append(f"validation Dice {self.validation_dice:.3f}")
        if self.training_images:
            facts.append(f"{self.training_images} training images")
        if self.device:
            facts.append(f"on {self.device}")
        summary = ", ".join(facts)
        return f"{summary}\n{self.monitoring}" if self.monitoring else summary


def _names(value) -> tuple[str, ...]:
    if isinstance(value, dict):
        return tuple(str(name) for name in value)
    if isinstance(value, (list, tuple)):
        return tuple(str(name) for name in value)
    return ()


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
