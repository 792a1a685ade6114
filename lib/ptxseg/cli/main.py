"""The ``ptxseg`` command line: ``ptxseg <command> ...``, one command per module of the ``ptxseg.cli`` package.

A command module registers itself: any module ``ptxseg/cli/<name>.py`` (other than this one) that defines
``register(commands: argparse._SubParsersAction) -> None`` is found and asked to add its parser, and sets
``run=<function(args) -> int>`` as the parser's default. Adding a command is adding one module; this file does not
change. ``register`` must stay cheap (no torch import): a command imports what it needs inside ``run``, so that
``ptxseg --help`` and light commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import ptxseg
import ptxseg.cli as commands_package

__all__ = ["build_parser", "command_modules", "main"]

_THIS_MODULE = "main"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Bad input (a ``ValueError``, e.g. an unreadable image or a wrong option value) prints a one-line error
    and returns 2; a failing file operation (``OSError``) returns 1; neither prints a traceback.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 on success.

    Example:
        >>> main(["phantoms", "--out", "phantoms", "--n", "4", "--format", "png"])
        phantoms/images/phantom-0000.png  phantoms/masks/phantom-0000.png  (no pneumothorax)
        ...
        wrote 4 png phantoms (2 with pneumothorax) to phantoms
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    try:
        return int(args.run(args) or 0)
    except ValueError as exc:
        print(f"ptxseg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ptxseg {args.command}: error: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options plus every registered command.

    Example:
        >>> build_parser().parse_args(["phantoms", "--out", "phantoms"]).command
        'phantoms'
    """
    parser = argparse.ArgumentParser(
        prog="ptxseg", description="Pneumothorax segmentation on chest X-rays (EfficientNet-B4 U-Net)."
    )
    parser.add_argument("--version", action="version", version=f"ptxseg {ptxseg.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules():
        module.register(commands)
    return parser


def command_modules() -> list[ModuleType]:
    """Every command module of ``ptxseg.cli``, imported, in name order.

    Example:
        >>> [module.__name__ for module in command_modules()][:2]
        ['ptxseg.cli.compare', 'ptxseg.cli.convert_siim']
    """
    names = sorted(info.name for info in pkgutil.iter_modules(commands_package.__path__) if info.name != _THIS_MODULE)
    return [importlib.import_module(f"{commands_package.__name__}.{name}") for name in names]
