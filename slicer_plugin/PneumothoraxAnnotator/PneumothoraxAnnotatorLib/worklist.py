"""Worklist rows from the server's datastore listing: most likely pneumothorax first, flagged ones marked."""

from __future__ import annotations

from dataclasses import dataclass

from .values import finite_or_none, mapping_or_empty

__all__ = ["FINAL_TAG", "WorklistRow", "worklist_rows"]

FINAL_TAG = "final"
NOT_QUALIFIED = "not qualified for triage"  # the server's words (ptxseg.io.seg.NOT_QUALIFIED); Slicer cannot import it


@dataclass(frozen=True)
class WorklistRow:
    """One image of the worklist as the current model scored it.

    Attributes:
        image_id: the server's image id.
        probability: image-level pneumothorax probability in [0, 1]; None when not scored (yet).
        flagged: the server flags the image as suspected pneumothorax (its threshold, not ours).
        uncertainty: the model's uncertainty for active learning; None when not reported.
        model_version: version of the model that scored the image.
        labelled: a final label has been submitted for the image.
        stale: scored by a model version other than the server's current one.
        not_qualified: scored by a model not qualified for triage (PACS pre-screening): its score is shown,
            never a flag.
    """

    image_id: str
    probability: float | None
    flagged: bool
    uncertainty: float | None
    model_version: str | None
    labelled: bool
    stale: bool
    not_qualified: bool = False

    @property
    def probability_text(self) -> str:
        """The probability as a percentage for display, or ``not scored``.

        Example:
            >>> WorklistRow("a", 0.934, True, None, "v1", False, False).probability_text
            '93%'
        """
        return "not scored" if self.probability is None else f"{self.probability:.0%}"

    @property
    def flag_text(self) -> str:
        """The flag column: flagged, "not qualified for triage" (a score that is never a flag), or empty.

        Example:
            >>> WorklistRow("a", 0.934, False, None, "v1", False, False, not_qualified=True).flag_text
            'not qualified for triage'
        """
        if self.flagged:
            return "⚑ flagged"
        return NOT_QUALIFIED if self.not_qualified else ""


def worklist_rows(
    datastore: dict, current_model_version: str | None = None, include_labelled: bool = False
) -> list[WorklistRow]:
    """Rows for every image of a ``GET /datastore/?output=all`` answer, highest probability first.

    Unscored images come last, ties in id order. Malformed scores are shown as unscored rather than failing:
    one odd entry must not hide the whole worklist. Studies the server flagged as unreadable
    (``ptx_unreadable``) are left out: they cannot be opened or predicted.

    Args:
        datastore: the server's datastore JSON (``{"objects": {id: {"image": {"info": {...}}, "labels": {...}}}}``).
        current_model_version: marks rows scored by another version as ``stale`` when given.
        include_labelled: keep images that already have a final label.

    Example:
        >>> listing = {"objects": {
        ...     "a": {"image": {"info": {"ptx_probability": 0.2, "ptx_flag": False}}, "labels": {}},
        ...     "b": {"image": {"info": {"ptx_probability": 0.9, "ptx_flag": True}}, "labels": {}},
        ...     "c": {"image": {"info": {}}, "labels": {}},
        ...     "d": {"image": {"info": {"ptx_unreadable": "truncated"}}, "labels": {}}}}
        >>> [(row.image_id, row.flagged) for row in worklist_rows(listing)]
        [('b', True), ('a', False), ('c', False)]
    """
    objects = datastore.get("objects") if isinstance(datastore, dict) else None
    readable = {key: entry for key, entry in (objects or {}).items() if not _unreadable(entry)}
    rows = [_row(image_id, entry, current_model_version) for image_id, entry in readable.items()]
    kept = [row for row in rows if include_labelled or not row.labelled]
    return sorted(kept, key=lambda row: (row.probability is None, -(row.probability or 0.0), row.image_id))


def _unreadable(entry) -> bool:
    info = mapping_or_empty(mapping_or_empty(mapping_or_empty(entry).get("image")).get("info"))
    return bool(info.get("ptx_unreadable"))


def _row(image_id: str, entry, current_model_version: str | None) -> WorklistRow:
    entry = mapping_or_empty(entry)
    info = mapping_or_empty(mapping_or_empty(entry.get("image")).get("info"))
    labels = mapping_or_empty(entry.get("labels"))
    version = info.get("ptx_model_version")
    version = str(version) if version is not None else None
    probability = _fraction(info.get("ptx_probability"))
    # A model not qualified for triage never flags, whatever a score cached beside the statement says.
    not_qualified = info.get("ptx_triage") == NOT_QUALIFIED
    return WorklistRow(
        image_id=str(image_id),
        probability=probability,
        flagged=info.get("ptx_flag") is True and not not_qualified,
        uncertainty=finite_or_none(info.get("ptx_uncertainty")),
        model_version=version,
        labelled=FINAL_TAG in labels,
        stale=probability is not None and current_model_version is not None and version != current_model_version,
        not_qualified=not_qualified,
    )


def _fraction(value) -> float | None:
    number = finite_or_none(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None
