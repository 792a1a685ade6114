"""Options declared once as dataclass fields that carry their command-line flag and help, so a command's parser
follows from the declaration (``TrainConfig``, the federated job's options)."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, field, fields

__all__ = ["FLAG_TYPES", "add_flags", "flag_option", "from_flags"]

# Postponed annotations are strings: the argparse type of each one a field may use.
FLAG_TYPES = {"int": int, "float": float, "str": str, "int | None": int, "str | None": str}


def flag_option(default, flag: str, help: str, **argparse_options):
    """A dataclass field with its command-line flag; a bool field's flag flips its default (``--no-augment``)."""
    return field(default=default, metadata={"flag": flag, "help": help, **argparse_options})


def add_flags(cls, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """One flag per field of the dataclass ``cls`` (declared with :func:`flag_option`), with its default and help.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Options:
        ...     rounds: int = flag_option(5, "--rounds", "how many")
        ...     augment: bool = flag_option(True, "--no-augment", "no augmentation")
        >>> parser = argparse.ArgumentParser()
        >>> add_flags(Options, parser)
        >>> from_flags(Options, parser.parse_args(["--rounds", "3", "--no-augment"]))
        Options(rounds=3, augment=False)
    """
    for item in fields(cls):
        options = {key: value for key, value in item.metadata.items() if key != "flag"}
        if item.type == "bool":
            action = "store_false" if item.default else "store_true"
            parser.add_argument(item.metadata["flag"], dest=item.name, action=action, **options)
            continue
        default = item.default if item.default is not MISSING else None
        help_text = options.pop("help") + ("" if default is None else f" (default: {default})")
        kind = FLAG_TYPES[item.type]
        parser.add_argument(
            item.metadata["flag"], dest=item.name, type=kind, default=default, help=help_text, **options
        )


def from_flags(cls, args: argparse.Namespace):
    """The ``cls`` a parsed command line describes (flags added by :func:`add_flags`)."""
    return cls(**{item.name: getattr(args, item.name) for item in fields(cls)})
