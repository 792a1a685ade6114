"""The federated job's options, declared once: the server's (rounds, sites, privacy) and each round's local training.

Each field carries its command-line flag and help, so ``ptxseg federate``'s parser follows from the declaration. The
round options travel to the sites inside the task (the model's meta), never as code or a command line: a site checks
them with :meth:`RoundOptions.from_dict`, which refuses unknown keys and out-of-range values, so a job cannot make a
site run anything but ptxseg's own fine-tuning.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields

from ptxseg.options import check_at_least, check_fraction, check_input_side

__all__ = ["PRIVACY_FILTERS", "TRANSFERS", "JobOptions", "RoundOptions", "add_arguments", "from_arguments"]

PRIVACY_FILTERS = ("none", "percentile", "svt")
TRANSFERS = ("diff", "weights")
_FLAG_TYPES = {"int": int, "float": float, "str": str, "int | None": int}


def _option(default, flag: str, help: str, **argparse_options):
    """A field with its command-line flag; a bool field's flag flips its default."""
    return field(default=default, metadata={"flag": flag, "help": help, **argparse_options})


@dataclass(frozen=True)
class RoundOptions:
    """What each site does with the global model in one round: the paper's recipe for ``local_epochs`` epochs.

    Example:
        >>> RoundOptions.from_dict({"local_epochs": 2}).local_epochs
        2
        >>> RoundOptions.from_dict({"local_epoch": 2})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: unknown round option(s) ['local_epoch']; valid: [...]
    """

    local_epochs: int = _option(1, "--local-epochs", "epochs of local fine-tuning per round at each site")
    learning_rate: float = _option(1e-4, "--lr", "local learning rate (cosine decay within the round)")
    batch_size: int = _option(4, "--batch-size", "local batch size")
    image_size: int = _option(512, "--image-size", "model input side (multiple of 32)")
    val_fraction: float = _option(0.2, "--val-fraction", "share of each site's labels kept for its validation")
    seed: int = _option(0, "--seed", "seed of the local sampling and augmentation")
    max_steps_per_epoch: int | None = _option(None, "--max-steps-per-epoch", "cap the steps of each local epoch")

    def __post_init__(self):
        for name in ("local_epochs", "batch_size"):
            check_at_least(name, getattr(self, name), 1)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        check_input_side(self.image_size)
        check_fraction("val_fraction", self.val_fraction)
        if self.max_steps_per_epoch is not None:
            check_at_least("max_steps_per_epoch", self.max_steps_per_epoch, 1)

    @classmethod
    def from_dict(cls, values: Mapping) -> RoundOptions:
        """Options received from the server, checked: unknown keys and wrong types are refused."""
        if not isinstance(values, Mapping):
            raise ValueError(f"round options must be a mapping, got {type(values).__name__}")
        known = {item.name: item for item in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown round option(s) {unknown}; valid: {sorted(known)}")
        for name, value in values.items():
            expected = _FLAG_TYPES[known[name].type]
            if value is not None and (isinstance(value, bool) or not isinstance(value, (expected, int))):
                raise ValueError(f"round option {name}={value!r} is not a {expected.__name__}")
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain values, as sent to the sites."""
        return asdict(self)


@dataclass(frozen=True)
class JobOptions:
    """The server's side of the job: FedAvg rounds, how many sites must answer, and what each site may send.

    Example:
        >>> JobOptions(min_sites=2, sites=3).privacy
        'percentile'
        >>> JobOptions(min_sites=3, sites=2)
        Traceback (most recent call last):
        ValueError: min_sites (3) cannot exceed sites (2): a round could never finish; lower --min-sites
    """

    rounds: int = _option(5, "--rounds", "FedAvg rounds")
    sites: int = _option(2, "--sites", "number of sites (hospitals) in the job")
    min_sites: int = _option(2, "--min-sites", "sites whose results a round needs; the others may drop out")
    privacy: str = _option(
        "percentile",
        "--privacy",
        "filter on what each site sends: percentile (share only the largest updates, clipped), svt (sparse vector"
        " technique, differential privacy) or none",
        choices=PRIVACY_FILTERS,
    )
    percentile: float = _option(10.0, "--percentile", "percentile filter: updates below this percentile are zeroed")
    gamma: float = _option(0.01, "--gamma", "percentile filter: updates are clipped to [-gamma, gamma]")
    svt_fraction: float = _option(0.1, "--svt-fraction", "svt filter: share of the updates a site releases")
    svt_epsilon: float = _option(0.1, "--svt-epsilon", "svt filter: privacy budget")
    exclude_batchnorm: bool = _option(
        False, "--exclude-batchnorm", "sites keep their BatchNorm statistics (intensity profiles) to themselves"
    )
    send: str = _option("diff", "--send", "what sites send: diff (weight differences) or weights", choices=TRANSFERS)
    round_timeout: int = _option(
        0, "--round-timeout", "seconds a round waits for min-sites results (0: no limit); later ones are dropped"
    )

    def __post_init__(self):
        for name in ("rounds", "sites", "min_sites"):
            check_at_least(name, getattr(self, name), 1)
        if self.min_sites > self.sites:
            raise ValueError(
                f"min_sites ({self.min_sites}) cannot exceed sites ({self.sites}): a round could never finish;"
                " lower --min-sites"
            )
        if self.privacy not in PRIVACY_FILTERS:
            raise ValueError(f"privacy must be one of {', '.join(PRIVACY_FILTERS)}, got {self.privacy!r}")
        if self.send not in TRANSFERS:
            raise ValueError(f"send must be one of {', '.join(TRANSFERS)}, got {self.send!r}")
        if self.privacy != "none" and self.send != "diff":
            raise ValueError(f"the {self.privacy} privacy filter works on weight differences: use --send diff")
        if not 0 <= self.percentile <= 100:
            raise ValueError(f"percentile must lie in [0, 100], got {self.percentile}")
        for name in ("gamma", "svt_epsilon"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        check_fraction("svt_fraction", self.svt_fraction)
        check_at_least("round_timeout", self.round_timeout, 0)


def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
    """One flag per field of ``cls`` (:class:`JobOptions` or :class:`RoundOptions`), with its default and help.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(JobOptions, parser)
        >>> from_arguments(JobOptions, parser.parse_args(["--rounds", "3", "--privacy", "none"])).rounds
        3
    """
    for item in fields(cls):
        options = {key: value for key, value in item.metadata.items() if key != "flag"}
        if item.type == "bool":
            action = "store_false" if item.default else "store_true"
            parser.add_argument(item.metadata["flag"], dest=item.name, action=action, **options)
            continue
        default = item.default if item.default is not MISSING else None
        help_text = options.pop("help") + ("" if default is None else f" (default: {default})")
        kind = _FLAG_TYPES[item.type]
        parser.add_argument(
            item.metadata["flag"], dest=item.name, type=kind, default=default, help=help_text, **options
        )


def from_arguments(cls, args: argparse.Namespace):
    """The ``cls`` a parsed command line describes (flags added by :func:`add_arguments`)."""
    return cls(**{item.name: getattr(args, item.name) for item in fields(cls)})
