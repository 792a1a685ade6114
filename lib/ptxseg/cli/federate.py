"""``ptxseg federate``: write the FedAvg job for NVIDIA FLARE, and with ``--simulate`` run it in FLARE's simulator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ptxseg.federated.options import JobOptions, RoundOptions, add_arguments, from_arguments

__all__ = ["register", "run"]

MISSING_FLARE = "NVIDIA FLARE is not installed: pip install -e .[federated] (see docs/federated.md)"


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``federate`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "federate",
        help="federated fine-tuning across hospitals (NVIDIA FLARE): write the job, or simulate it",
        description="Write the FedAvg job folder OUT/ptxseg-fedavg that a FLARE deployment runs (submit it with "
        "FLARE's admin console), or run it here with --simulate. Each site fine-tunes the global model on its own "
        "labels/final; the final global model is a challenger at each site (docs/federated.md).",
    )
    parser.add_argument("--init", required=True, help="the ptxseg checkpoint every site starts from")
    parser.add_argument("--out", required=True, help="folder for the job (and, with --simulate, its workspace)")
    parser.add_argument("--simulate", action="store_true", help="run the job in FLARE's simulator on this machine")
    parser.add_argument(
        "--sites-file",
        help="with --simulate: JSON mapping site-1..site-N to their studies and model_dir (docs/federated.md)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="with --simulate: stop the simulator after this many seconds"
    )
    add_arguments(JobOptions, parser.add_argument_group("job (server)"))
    add_arguments(RoundOptions, parser.add_argument_group("each round at each site"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the job; with ``--simulate`` run it and print where the global model and the round record are."""
    options, rounds = from_arguments(JobOptions, args), from_arguments(RoundOptions, args)
    if args.simulate and not args.sites_file:
        raise ValueError("--simulate needs --sites-file: each simulated site's studies and model_dir")
    try:
        from ptxseg.federated.job import write_job
        from ptxseg.federated.simulate import simulate
    except ImportError as error:
        raise ValueError(f"{MISSING_FLARE} ({error})") from error
    out = Path(args.out)
    job = write_job(args.init, out / "jobs", options, rounds)
    print(f"wrote the FLARE job {job}")
    if not args.simulate:
        return 0
    try:
        result = simulate(job, out / "workspace", options.sites, Path(args.sites_file), args.timeout)
    except RuntimeError as error:
        print(f"ptxseg federate: error: {error}")
        return 1
    for entry in json.loads(result.rounds_record.read_text()):
        print(json.dumps({key: entry[key] for key in ("task", "round", "site", "metrics")}))
    print(f"global model: {result.global_model}")
    return 0
