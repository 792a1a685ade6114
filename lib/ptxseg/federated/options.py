"""The federated job's options, declared once: the server's (rounds, sites, privacy) and each round's local training.

Each field carries its command-line flag and help, so ``ptxseg federate``'s parser follows from the declaration. The
round options travel to the sites inside the task (the model's meta), never as code or a command line: a site checks
them with :meth:`RoundOptions.from_dict`, which refuses unknown keys and out-of-range values, so a job cannot make a
site run anything but ptxseg's own fine-tuning.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from ptxseg.options import check_at_least, check_fraction, check_input_side
from ptxseg.options.flags import FLAG_TYPES, add_flags, flag_option, from_flags

__all__ = ["PRIVACY_FILTERS", "TRANSFERS", "JobOptions", "RoundOptions", "add_arguments", "from_arguments"]

PRIVACY_FILTERS = ("none", "percentile", "svt")
TRANSFERS = ("diff", "weights")


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

    local_epochs: int = flag_option(1, "--local-epochs", "epochs of local fine-tuning per round at each site")
    learning_rate: float = flag_option(1e-4, "--lr", "local learning rate (cosine decay within the round)")
    batch_size: int = flag_option(4, "--batch-size", "local batch size")
    image_size: int = flag_option(512, "--image-size", "model input side (multiple of 32)")
    val_fraction: float = flag_option(0.2, "--val-fraction", "share of each site's labels kept for its validation")
    seed: int = flag_option(0, "--seed", "seed of the local sampling and augmentation")
    max_steps_per_epoch: int | None = flag_option(None, "--max-steps-per-epoch", "cap the steps of each local epoch")

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
            expected = FLAG_TYPES[known[name].type]
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

    rounds: int = flag_option(5, "--rounds", "FedAvg rounds")
    sites: int = flag_option(2, "--sites", "number of sites (hospitals) in the job")
    min_sites: int = flag_option(2, "--min-sites", "sites whose results a round needs; the others may drop out")
    privacy: str = flag_option(
        "percentile",
        "--privacy",
        "filter on what each site sends: percentile (share only the largest updates, clipped), svt (sparse vector"
        " technique, differential privacy) or none",
        choices=PRIVACY_FILTERS,
    )
    percentile: float = flag_option(10.0, "--percentile", "percentile filter: updates below this percentile are zeroed")
    gamma: float = flag_option(0.01, "--gamma", "percentile filter: updates are clipped to [-gamma, gamma]")
    svt_fraction: float = flag_option(0.1, "--svt-fraction", "svt filter: share of the updates a site releases")
    svt_epsilon: float = flag_option(0.1, "--svt-epsilon", "svt filter: privacy budget")
    exclude_batchnorm: bool = flag_option(
        False, "--exclude-batchnorm", "sites keep their BatchNorm statistics (intensity profiles) to themselves"
    )
    send: str = flag_option(
        "diff", "--send", "what sites send: diff (weight differences) or weights", choices=TRANSFERS
    )
    round_timeout: int = flag_option(
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
    add_flags(cls, parser)


def from_arguments(cls, args: argparse.Namespace):
    """The ``cls`` a parsed command line describes (flags added by :func:`add_arguments`)."""
    return from_flags(cls, args)
