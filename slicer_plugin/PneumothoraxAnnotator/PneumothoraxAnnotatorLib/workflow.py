"""The annotation session as plain state: what is open, what the model said, what the annotator did.

The Slicer widget only mirrors this object (enables buttons from ``can_*``, shows ``status_text``); the
rules of when an action makes sense live here, where they are tested without Slicer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .server_info import ServerInfo
from .training import TrainingProgress
from .values import finite_or_none
from .worklist import WorklistRow

__all__ = ["AnnotationSession", "Prediction"]


@dataclass(frozen=True)
class Prediction:
    """The server's inference result for one image.

    Attributes:
        probability: image-level pneumothorax probability in [0, 1], None when not reported.
        area_px, area_cm2: size of the predicted pneumothorax.
        side: ``left``, ``right``, ``bilateral`` or ``none`` as the server reports it (patient's side).
        flagged: the server flags the image as suspected pneumothorax.
        model_version: the model that produced it.
    """

    probability: float | None = None
    area_px: int | None = None
    area_cm2: float | None = None
    side: str | None = None
    flagged: bool = False
    model_version: str | None = None

    @classmethod
    def from_result(cls, result: dict) -> Prediction:
        """Read the JSON part of ``/infer?output=all``; absent or malformed fields become None.

        Example:
            >>> Prediction.from_result({"pneumothorax_probability": 0.9, "area_px": 1200, "side": "left",
            ...                         "flag": True, "model_version": "3"}).flagged
            True
        """
        result = result if isinstance(result, dict) else {}
        area_px = finite_or_none(result.get("area_px"))
        version = result.get("model_version")
        side = result.get("side")
        return cls(
            probability=finite_or_none(result.get("pneumothorax_probability")),
            area_px=None if area_px is None else int(area_px),
            area_cm2=finite_or_none(result.get("area_cm2")),
            side=side if isinstance(side, str) else None,
            flagged=result.get("flag") is True,
            model_version=None if version is None else str(version),
        )

    def summary(self) -> str:
        """One line for the annotator.

        Example:
            >>> Prediction(0.87, 5000, 12.34, "right", True, "3").summary()
            'FLAGGED: pneumothorax 87%, right, 12.3 cm² (5000 px), model 3'
        """
        facts = ["pneumothorax " + ("?" if self.probability is None else f"{self.probability:.0%}")]
        if self.side:
            facts.append(self.side)
        if self.area_cm2 is not None:
            facts.append(f"{self.area_cm2:.1f} cm²" + (f" ({self.area_px} px)" if self.area_px is not None else ""))
        elif self.area_px is not None:
            facts.append(f"{self.area_px} px")
        if self.model_version:
            facts.append(f"model {self.model_version}")
        return ("FLAGGED: " if self.flagged else "") + ", ".join(facts)


@dataclass
class AnnotationSession:
    """One annotator's session with one server.

    Example:
        >>> session = AnnotationSession()
        >>> session.connect("http://127.0.0.1:8000", ServerInfo(model_version="1"))
        >>> session.open_image("1.2.3")
        >>> session.can_predict, session.can_submit
        (True, False)
        >>> session.set_prediction(Prediction(probability=0.2))
        >>> session.mark_edited()
        >>> session.can_submit, session.has_unsubmitted_edits
        (True, True)
        >>> session.mark_submitted()
        >>> session.can_submit, session.submitted_count
        (False, 1)
    """

    server_url: str | None = None
    server: ServerInfo | None = None
    image_id: str | None = None
    prediction: Prediction | None = None
    edited: bool = False
    submitted: bool = False
    submitted_count: int = 0
    training: TrainingProgress = field(default_factory=TrainingProgress)
    worklist: list[WorklistRow] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        """A server answered ``/info/``."""
        return self.server is not None

    def connect(self, server_url: str, server: ServerInfo) -> None:
        """Record a successful connection; a different server closes the open image."""
        if server_url != self.server_url:
            self.close_image()
            self.worklist = []
            self.training = TrainingProgress()
        self.server_url = server_url
        self.server = server

    def disconnect(self) -> None:
        """Forget the server (after it became unreachable); the open image stays for saving edits locally."""
        self.server = None

    def open_image(self, image_id: str) -> None:
        """Start on a new image: no prediction, nothing edited or submitted yet."""
        if not image_id:
            raise ValueError("image id must be non-empty; pick an image from the worklist or press Next")
        self.image_id = image_id
        self.prediction = None
        self.edited = False
        self.submitted = False

    def close_image(self) -> None:
        """No image open."""
        self.image_id = None
        self.prediction = None
        self.edited = False
        self.submitted = False

    def set_prediction(self, prediction: Prediction) -> None:
        """The model's outline replaced the segment: it is the new unedited starting point."""
        self._require_image("predict")
        self.prediction = prediction
        self.edited = False
        self.submitted = False

    def mark_edited(self) -> None:
        """The annotator changed the segment; a submitted label needs submitting again."""
        if self.image_id is None:
            return
        self.edited = True
        self.submitted = False

    def mark_submitted(self) -> None:
        """The server stored the current segment as the final label."""
        self._require_image("submit")
        self.submitted = True
        self.submitted_count += 1

    def update_training(self, progress: TrainingProgress) -> None:
        """The latest fine-tuning progress from the server."""
        self.training = progress

    def set_worklist(self, rows: list[WorklistRow]) -> None:
        """The latest worklist from the server."""
        self.worklist = list(rows)

    @property
    def has_unsubmitted_edits(self) -> bool:
        """Leaving the image now would lose the annotator's work: ask first."""
        return self.image_id is not None and self.edited and not self.submitted

    @property
    def can_next(self) -> bool:
        """Ask the server for the next image."""
        return self.connected

    @property
    def can_predict(self) -> bool:
        """Run the model on the open image."""
        return self.connected and self.image_id is not None

    @property
    def can_submit(self) -> bool:
        """Send the segment as the final label: there is one (predicted or drawn) not yet sent as it is."""
        has_segment = self.prediction is not None or self.edited
        return self.connected and self.image_id is not None and has_segment and not self.submitted

    @property
    def can_start_training(self) -> bool:
        """Start fine-tuning: connected, nothing training now, and labels to train on."""
        labelled = self.server.labelled_images if self.server is not None else None
        has_labels = bool(labelled) or self.submitted_count > 0
        return self.connected and not self.training.running and has_labels

    @property
    def can_stop_training(self) -> bool:
        """Stop the fine-tuning that is queued or running."""
        return self.connected and self.training.running

    @property
    def can_refresh_worklist(self) -> bool:
        """Score images or reload the worklist."""
        return self.connected

    def status_text(self) -> str:
        """Where the session stands, in one line.

        Example:
            >>> AnnotationSession().status_text()
            'Not connected: enter the server address and press Connect.'
        """
        if not self.connected:
            return "Not connected: enter the server address and press Connect."
        if self.image_id is None:
            return "Connected. Press Next image (N) or double-click a worklist row."
        if self.submitted:
            return f"{self.image_id}: label submitted."
        if self.edited:
            return f"{self.image_id}: edited, not submitted yet (S submits)."
        if self.prediction is not None:
            return f"{self.image_id}: {self.prediction.summary()}"
        return f"{self.image_id}: no prediction yet (P predicts)."

    def _require_image(self, action: str) -> None:
        if self.image_id is None:
            raise ValueError(f"cannot {action} without an open image; press Next image first")
