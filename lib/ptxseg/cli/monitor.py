"""``ptxseg monitor``: the served model's input drift, real-world agreement and timeline, as a report with plots."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``monitor`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "monitor",
        help="report the served model's input drift, agreement with final labels and model timeline",
        description="Read the app's monitoring records (APP/monitoring) and model record (APP/model) and write "
        "OUT/monitoring.md with plots: per period and per source (station, manufacturer, model, view position, "
        "modality), the image-level probability, flag rate and intensity compared with the period the served model "
        "was promoted on (two-sample Kolmogorov-Smirnov; alert past --threshold), the Dice between each prediction "
        "and the final label a human saved after it, the flag's sensitivity/specificity, and every model version's "
        "promotion or refusal with its validation Dice.",
    )
    parser.add_argument("--app", required=True, metavar="DIR", help="the MONAI Label app folder")
    parser.add_argument("--out", required=True, metavar="DIR", help="report folder (created if missing)")
    parser.add_argument("--model-dir", metavar="DIR", help="the served model's folder when not APP/model")
    parser.add_argument("--period", choices=("week", "day"), default="week", help="period length (default week)")
    parser.add_argument("--threshold", type=float, default=0.3, help="KS statistic that alerts (default 0.3)")
    parser.add_argument("--alpha", type=float, default=0.01, help="p-value below which a shift counts (default 0.01)")
    parser.add_argument("--min-samples", type=int, default=10, help="fewest images a side to test (default 10)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print the alert."""
    from pathlib import Path

    from ptxseg.serving.install import app_model_dir
    from ptxseg.serving.monitoring.analysis import MonitorConfig
    from ptxseg.serving.monitoring.report import write_monitoring_report
    from ptxseg.serving.monitoring.store import MONITORING_FOLDER, MonitorStore

    app = Path(args.app)
    if not (app / MONITORING_FOLDER).is_dir():
        raise ValueError(f"{app} has no {MONITORING_FOLDER}/ folder; pass the app folder the server ran (--app DIR)")
    config = MonitorConfig(args.period, args.threshold, args.alpha, args.min_samples)
    model_dir = Path(args.model_dir) if args.model_dir else app_model_dir(app)
    report = write_monitoring_report(MonitorStore.for_app(app), model_dir, args.out, config)
    print(f"report: {report}")
    return 0
