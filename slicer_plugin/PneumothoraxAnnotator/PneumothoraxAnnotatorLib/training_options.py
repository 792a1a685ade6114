"""The fine-tuning options the server's trainer accepts, checked before sending and remembered per server."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

__all__ = ["TrainingOptions"]


@dataclass(frozen=True)
class TrainingOptions:
    """Options of ``POST /train/pneumothorax``; None leaves the server's configured default.

    Example:
        >>> TrainingOptions(epochs=3, learning_rate=1e-4).to_params()
        {'max_epochs': 3, 'learning_rate': 0.0001}
        >>> TrainingOptions(val_fraction=1.5)
        Traceback (most recent call last):
        ...
        ValueError: validation share must lie in (0, 1), got 1.5
    """

    epochs: int = 1
    learning_rate: float | None = None
    batch_size: int | None = None
    val_fraction: float | None = None

    def __post_init__(self):
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be a whole number in 1..1000, got {self.epochs!r}")
        if self.learning_rate is not None and not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning rate must lie in (0, 1), got {self.learning_rate}")
        if self.batch_size is not None and not 1 <= self.batch_size <= 256:
            raise ValueError(f"batch size must be in 1..256, got {self.batch_size}")
        if self.val_fraction is not None and not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"validation share must lie in (0, 1), got {self.val_fraction}")

    def to_params(self) -> dict:
        """The request body: the trainer's option names, unset ones left out (``max_epochs`` as MONAI Label's)."""
        params = {"max_epochs": self.epochs}
        for name in ("learning_rate", "batch_size", "val_fraction"):
            if getattr(self, name) is not None:
                params[name] = getattr(self, name)
        return params

    def to_json(self) -> str:
        """For the settings file."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> TrainingOptions:
        """Options saved by ``to_json``; the defaults when nothing (or nothing valid) was saved.

        Example:
            >>> TrainingOptions.from_json('{"epochs": 4, "batch_size": 8}').batch_size
            8
            >>> TrainingOptions.from_json("garbage") == TrainingOptions()
            True
        """
        try:
            saved = json.loads(text) if text else {}
            known = {field.name for field in fields(cls)}
            return cls(**{key: value for key, value in saved.items() if key in known})
        except (TypeError, ValueError, AttributeError):
            return cls()
