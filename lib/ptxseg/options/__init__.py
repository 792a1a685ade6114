"""Option values as users give them (``--conf`` strings, request JSON, command-line flags): one parser per kind
and one set of range checks, so every front end accepts and refuses the same values with the same words."""

from ptxseg.options.values import (
    check_at_least,
    check_dropout,
    check_fraction,
    check_input_side,
    check_probability,
    parse_bool,
    parse_text,
)

__all__ = [
    "check_at_least",
    "check_dropout",
    "check_fraction",
    "check_input_side",
    "check_probability",
    "parse_bool",
    "parse_text",
]
