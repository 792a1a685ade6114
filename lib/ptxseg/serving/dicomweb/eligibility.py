"""Which PACS instances the model is for: one declared policy, applied to each instance's header before anything
is inferred.

The model was trained and judged on adult frontal chest radiographs. Anything else (a knee, a lateral view, a child,
a bone-subtracted or derived image, a localizer, a multi-frame object) gets no "pneumothorax probability" in the
clinical PACS: it is listed as "not analysed: <reason>", as commercial triage products do. The rules, their
defaults and what an absent attribute means are the conf keys of ``PacsSettings`` (``prescreen_*``), documented in
the README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pydicom.dataset import Dataset

__all__ = ["CHEST_CODES", "ScreeningPolicy", "ScreeningRules", "age_in_years"]

# Anatomic Region Sequence codes meaning the chest (SNOMED CT: Chest, Thoracic structure, Chest wall structure).
CHEST_CODES = frozenset({"43799004", "51185008", "78904004", "T-D3000", "T-D3050"})
# Image Type values that mark an image as processed away from the original radiograph (PS3.3 C.8.11.1.1.1, C.7.6.1.1.2).
_DERIVED_MARKERS = ("LOCALIZER", "BONE", "SOFT_TISSUE", "SOFT TISSUE", "SUBTRACTION", "BONE_SUBTRACTED", "ENERGY")
# PS3.5 AS is nnnD/W/M/Y; bare digits ("53", as SIIM-ACR's files carry) are read as years.
_AGE = re.compile(r"^(\d{1,3})([DWMY]?)$")
_DAYS_PER_UNIT = {"D": 1, "W": 7, "M": 30.4375, "Y": 365.25}


def age_in_years(dataset: Dataset) -> float | None:
    """The patient's age at the study: PatientAge (``045Y``, ``006M``...; bare digits are years), else from the
    birth and study dates; None when neither says.

    Example:
        >>> age_in_years(Dataset.from_json({"00101010": {"vr": "AS", "Value": ["006M"]}}))
        0.5
        >>> age_in_years(Dataset.from_json({"00100030": {"vr": "DA", "Value": ["19800615"]},
        ...                                 "00080020": {"vr": "DA", "Value": ["20260614"]}}))
        45.99...
    """
    match = _AGE.match(str(dataset.get("PatientAge", "") or "").strip().upper())
    if match:
        return round(int(match.group(1)) * _DAYS_PER_UNIT[match.group(2) or "Y"] / 365.25, 2)
    birth, study = _date(dataset.get("PatientBirthDate")), _date(dataset.get("StudyDate") or dataset.get("ContentDate"))
    if birth is None or study is None or study < birth:
        return None
    return (study - birth).days / 365.25


def _date(value) -> date | None:
    text = str(value or "").strip()
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) >= 8 else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ScreeningPolicy:
    """The instances to screen: CR/DX (the served modalities), chest, frontal, adult, original, single frame.

    Example:
        >>> knee = Dataset.from_json({"00180015": {"vr": "CS", "Value": ["KNEE"]}})
        >>> ScreeningPolicy().refusal(knee)
        'body part KNEE is not the chest'
        >>> ScreeningPolicy().refusal(Dataset()) is None  # nothing said: screened (see the missing_* options)
        True
    """

    body_parts: tuple[str, ...] = ("CHEST", "THORAX")
    screen_missing_body_part: bool = True
    views: tuple[str, ...] = ("PA", "AP")
    screen_missing_view: bool = True
    min_age_years: float = 18.0
    screen_unknown_age: bool = True

    def refusal(self, dataset: Dataset) -> str | None:
        """Why the instance is not analysed (``"body part KNEE is not the chest"``), or None to screen it."""
        for rule in (self._frames, self._image_type, self._body_part, self._view, self._age):
            reason = rule(dataset)
            if reason:
                return reason
        return None

    def _frames(self, dataset: Dataset) -> str | None:
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
        return f"multi-frame image ({frames} frames)" if frames > 1 else None

    def _image_type(self, dataset: Dataset) -> str | None:
        values = [str(value).upper() for value in (dataset.get("ImageType") or [])]
        if values and values[0] != "ORIGINAL":
            return f"image type {values[0]} (not an original radiograph)"
        marked = [marker for marker in _DERIVED_MARKERS if marker in values[1:]]
        return f"image type {marked[0]} (processed image)" if marked else None

    def _body_part(self, dataset: Dataset) -> str | None:
        part = str(dataset.get("BodyPartExamined", "") or "").strip().upper()
        codes = {str(item.get("CodeValue", "")) for item in dataset.get("AnatomicRegionSequence", [])}
        if part:
            return None if part in self.body_parts else f"body part {part} is not the chest"
        if codes:
            return None if codes & CHEST_CODES else f"anatomic region {sorted(codes)[0]} is not the chest"
        return None if self.screen_missing_body_part else "body part not stated (conf prescreen_missing_body_part)"

    def _view(self, dataset: Dataset) -> str | None:
        view = str(dataset.get("ViewPosition", "") or "").strip().upper()
        if view:
            return None if view in self.views else f"view {view} is not frontal ({'/'.join(self.views)})"
        return None if self.screen_missing_view else "view position not stated (conf prescreen_missing_view)"

    def _age(self, dataset: Dataset) -> str | None:
        age = age_in_years(dataset)
        if age is None:
            return None if self.screen_unknown_age else "age unknown (conf prescreen_unknown_age)"
        return f"patient under {self.min_age_years:g} years" if age < self.min_age_years else None


@dataclass(frozen=True)
class ScreeningRules:
    """What pre-screening analyses and how it retries a failed instance (``PacsSettings``' ``prescreen_*`` keys):
    ``retry_s`` after the first failure, doubling, ``max_attempts`` in all per model version; ``rescreen_days`` > 0
    keeps the results of instances acquired longer ago than that when a new model is promoted; the pending list is
    searched again every ``refresh_s`` during a round."""

    policy: ScreeningPolicy = ScreeningPolicy()
    max_attempts: int = 3
    retry_s: float = 60.0
    rescreen_days: int = 0
    refresh_s: float = 10.0
