"""Parsing and range checks of option values; each raises a ValueError that names the option and the valid range."""

from __future__ import annotations

__all__ = [
    "parse_text",
    "check_at_least",
    "check_dropout",
    "check_fraction",
    "check_input_side",
    "check_probability",
    "parse_bool",
]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(value: str | bool) -> bool:
    """A boolean from a bool or from ``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case).

    Example:
        >>> parse_bool("Yes"), parse_bool(False), parse_bool("0")
        (True, False, False)
        >>> parse_bool("maybe")
        Traceback (most recent call last):
        ValueError: expected true or false, got 'maybe'
    """
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def check_probability(name: str, value: float) -> float:
    """A threshold on a probability: strictly between 0 and 1 (0 would flag everything, 1 nothing).

    Example:
        >>> check_probability("triage_threshold", 1.0)
        Traceback (most recent call last):
        ValueError: triage_threshold must lie strictly between 0 and 1, got 1.0 (the ends of [0, 1] select all or none)
    """
    if not 0.0 < value < 1.0:
        raise ValueError(
            f"{name} must lie strictly between 0 and 1, got {value} (the ends of [0, 1] select all or none)"
        )
    return value


def check_fraction(name: str, value: float) -> float:
    """A share of the data set aside (validation): strictly between 0 and 1.

    Example:
        >>> check_fraction("val_fraction", 0.2)
        0.2
    """
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def check_at_least(name: str, value: int | float, minimum: int | float) -> int | float:
    """``value`` if it is at least ``minimum``.

    Example:
        >>> check_at_least("epochs", 0, 1)
        Traceback (most recent call last):
        ValueError: epochs must be >= 1, got 0
    """
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_input_side(side: int, name: str = "image_size") -> int:
    """Return ``side`` if the U-Net can take square inputs of that side, else raise a ValueError naming ``name``.

    Example:
        >>> check_input_side(512)
        512
    """
    if side < 32 or side % 32:
        raise ValueError(f"{name} must be a multiple of 32 and >= 32 (the encoder downsamples 5 times), got {side}")
    return side


def check_dropout(rate: float) -> float:
    """Return ``rate`` if it is a usable decoder dropout rate (0 <= rate < 1), else raise a ValueError.

    Example:
        >>> check_dropout(0.2)
        0.2
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {rate}")
    return rate


def _optional_text(value: str) -> str | None:
    return value or None


# Postponed annotations are strings: the parser of each annotation option fields use.
_TEXT_PARSERS = {"int": int, "float": float, "bool": parse_bool, "str": str, "str | None": _optional_text}


def parse_text(name: str, annotation: str, value: str):
    """An option given as text (a ``--conf KEY VALUE``) as the type its dataclass field is annotated with.

    Example:
        >>> parse_text("epochs", "int", "3"), parse_text("model", "str | None", "")
        (3, None)
        >>> parse_text("amp", "bool", "sometimes")
        Traceback (most recent call last):
        ValueError: conf amp='sometimes': expected true or false, got 'sometimes'
    """
    try:
        return _TEXT_PARSERS[annotation](value)
    except ValueError as error:
        raise ValueError(f"conf {name}={value!r}: {error}") from error
