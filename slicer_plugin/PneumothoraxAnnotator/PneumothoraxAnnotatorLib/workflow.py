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

__all__ = ["AnnotationSession", "Prediction", "label_info"]

CLIENT_ID = "PneumothoraxAnnotator"


def label_info(annotator: str | None, accepted_as_is: bool) -> dict:
    """The info stored with a submitted label: who labelled it, and whether the model's outline was kept unedited.

    Sent as the label upload's params (MONAI Label keeps them as the label's info, ``client_id`` as its clients do).

    Example:
        >>> label_info("Dr. A. Reader", accepted_as_is=True)
        {'client_id': 'PneumothoraxAnnotator', 'annotator': 'Dr. A. Reader', 'accepted_as_is': True}
    """
    name = (annotator or "").strip() or "unknown"
    return {"client_id": CLIENT_ID, "annotator": name, "accepted_as_is": accepted_as_is}


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
        >>> session.can_submit  # the model's outline alone is not a label: edit it or accept it as is
        False
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
    accepted_as_is: bool = False
    submitted: bool = False
    submitted_count: int = 0
    visited: list[str] = field(default_factory=list)
    position: int = -1
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

    def open_image(self, image_id: str, going_back: bool = False) -> None:
        """Start on an image: no prediction, nothing edited or submitted yet.

        ``going_back`` steps back through the images opened so far; any other opening continues from the
        current image, as a browser's history does.

        Example:
            >>> session = AnnotationSession()
            >>> for image_id in ("a", "b", "c"):
            ...     session.open_image(image_id)
            >>> session.open_image(session.previous_image_id, going_back=True)
            >>> session.image_id, session.previous_image_id
            ('b', 'a')
        """
        if not image_id:
            raise ValueError("image id must be non-empty; pick an image from the worklist or press Next")
        if going_back:
            if image_id != self.previous_image_id:
                raise ValueError(f"{image_id} is not the previous image ({self.previous_image_id})")
            self.position -= 1
        else:
            kept = self.visited[: self.position + 1]
            self.visited = [visited for visited in kept if visited != image_id] + [image_id]
            self.position = len(self.visited) - 1
        self._reset(image_id)

    def close_image(self) -> None:
        """No image open."""
        self._reset(None)

    def set_prediction(self, prediction: Prediction) -> None:
        """The model's outline replaced the segment: it is the new unedited starting point."""
        self._require_image("predict")
        self.prediction = prediction
        self.edited = False
        self.accepted_as_is = False
        self.submitted = False

    def set_stored_label(self) -> None:
        """The segment shows the label already submitted for this image (going back to correct it)."""
        self._require_image("show a stored label")
        self.edited = False
        self.accepted_as_is = False
        self.submitted = True

    def mark_edited(self) -> None:
        """The annotator changed the segment (a stroke, an undo, a removed segment): it needs submitting again."""
        if self.image_id is None:
            return
        self.edited = True
        self.submitted = False

    def accept_prediction(self) -> None:
        """The annotator reviewed the model's outline and keeps it unedited: it may be submitted, recorded as such."""
        if self.prediction is None:
            raise ValueError("there is no prediction to accept; press Predict (P) first")
        self.accepted_as_is = True

    def mark_submitted(self) -> None:
        """The server stored the current segment as the final label."""
        self._require_image("submit")
        self.submitted = True
        self.submitted_count += 1

    def submission_info(self, annotator: str | None) -> dict:
        """The label info to send with the current segment (see ``label_info``)."""
        return label_info(annotator, accepted_as_is=self.accepted_as_is and not self.edited)

    @property
    def previous_image_id(self) -> str | None:
        """The image opened before the current one (Back reopens it with its submitted label)."""
        return self.visited[self.position - 1] if self.position > 0 else None

    @property
    def prediction_replaces_edits(self) -> bool:
        """Predict would replace the annotator's unsubmitted work: confirm first."""
        return self.has_unsubmitted_edits

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
        """Send the segment as the final label: edited, or the prediction explicitly accepted, and not yet sent.

        An unreviewed model outline is never sent as ``final``: the model would be fine-tuned on its own guess.
        """
        reviewed = self.edited or self.accepted_as_is
        return self.connected and self.image_id is not None and reviewed and not self.submitted

    @property
    def can_accept_prediction(self) -> bool:
        """Keep the model's outline as it is (an explicit review, recorded with the label)."""
        return self.can_predict and self.prediction is not None and not self.edited and not self.submitted

    @property
    def can_go_back(self) -> bool:
        """Reopen the previous image."""
        return self.connected and self.previous_image_id is not None

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
        if self.accepted_as_is:
            return f"{self.image_id}: prediction accepted as is (S submits)."
        if self.prediction is not None:
            return f"{self.image_id}: {self.prediction.summary()} (edit it, or accept it as is)"
        return f"{self.image_id}: no prediction yet (P predicts)."

    def _reset(self, image_id: str | None) -> None:
        self.image_id = image_id
        self.prediction = None
        self.edited = False
        self.accepted_as_is = False
        self.submitted = False

    def _require_image(self, action: str) -> None:
        if self.image_id is None:
            raise ValueError(f"cannot {action} without an open image; press Next image first")
