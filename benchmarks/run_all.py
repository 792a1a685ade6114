"""Run the CPU benchmarks (model, server, throughput, training) and rewrite ``benchmarks/RESULTS.md`` with their output.

Steps: wait until the machine is quiet (1-minute load below ``--max-load``, timings on a busy 2-core machine mean
little); train a small EfficientNet-B4 on 128 px phantoms with ``ptxseg train`` (about 3 minutes on 2 cores) so
that fast-path mask agreement is measured on a model that has learnt something; then run each benchmark as
``python -m benchmarks.<name>`` and record its command, the load around it, and its output. Takes about 35
minutes on 2 cores.

    python -m benchmarks.run_all                      # the recorded run
    python -m benchmarks.run_all --quick --out /tmp/RESULTS.md   # tiny sizes, to check the pipeline
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common.machine import describe_machine, machine_lines

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# The agreement model: B4 from scratch on easy 128 px phantoms, as docs/architecture.md records (Dice ~0.97 in ~150
# steps).
AGREEMENT_TRAINING = {"size": 128, "phantoms": 96, "epochs": 14, "batch": 8}
QUICK_TRAINING = {"size": 64, "phantoms": 12, "epochs": 1, "batch": 4}


def _load() -> float:
    return os.getloadavg()[0]


def wait_until_quiet(max_load: float, patience_s: float) -> float:
    """Wait (up to ``patience_s``) for the 1-minute load to drop below ``max_load``; returns the load at the end."""
    deadline = time.monotonic() + patience_s
    while _load() >= max_load and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: load {_load():.2f} >= {max_load}", flush=True)
        time.sleep(30)
    return _load()


def _run(command: list[str]) -> str:
    """Run a command from the repository root, echoing and returning its standard output."""
    print(f"$ {shlex.join(command)}", flush=True)
    completed = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    print(completed.stdout, flush=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited with {completed.returncode}")
    return completed.stdout


def _ptxseg(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "ptxseg", *arguments]


def _benchmark(name: str, *arguments: str) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.{name}", *arguments]


def train_agreement_model(folder: Path, shape: dict) -> tuple[Path, list[tuple[list[str], str]]]:
    """Write phantoms and train the agreement model with the ``ptxseg`` command line; returns its checkpoint."""
    phantoms, run = folder / "phantoms", folder / "run"
    commands = [
        _ptxseg(
            "phantoms",
            "--out",
            str(phantoms),
            "--n",
            str(shape["phantoms"]),
            "--size",
            str(shape["size"]),
            "--difficulty",
            "0.2",
        ),
        _ptxseg(
            "train",
            "--data",
            f"folder:{phantoms / 'images'},{phantoms / 'masks'}",
            "--out",
            str(run),
            "--encoder",
            "efficientnet-b4",
            "--image-size",
            str(shape["size"]),
            "--batch-size",
            str(shape["batch"]),
            "--epochs",
            str(shape["epochs"]),
            "--lr",
            "1e-3",
            "--no-augment",
            "--monitor",
            "per_image_dice",
            "--device",
            "cpu",
        ),
    ]
    outputs = []
    for command in commands:
        output = _run(command)
        outputs.append((command, output if "train" in command else output.splitlines()[-1]))
    return run / "best.safetensors", outputs


def _section(title: str, command: list[str], load_before: float, output: str) -> str:
    return (
        f"## {title}\n\n`{shlex.join(command)}`  \n1-minute load before: {load_before:.2f}, after: {_load():.2f}\n\n"
        f"```text\n{output.rstrip()}\n```\n"
    )


def _display(command: list[str]) -> list[str]:
    """The command as a reader would type it: this Python shown as ``.venv/bin/python``, temp paths kept."""
    return [".venv/bin/python" if part == sys.executable else part for part in command]


def benchmark_plan(checkpoint: Path, quick: bool) -> list[tuple[str, list[str]]]:
    """(section title, command) for every benchmark; ``quick`` shrinks each to seconds."""
    tiny = ["--encoder", "efficientnet-b0", "--size", "64"] if quick else []
    repeats = ["--repeats", "2" if quick else "20"]
    server = ["--image-side", "128", *tiny, "--requests", "3"] if quick else ["--requests", "20"]
    train = [*tiny[:2], "--size", "64", "--batch-size", "2", "--steps", "2", "--epochs", "1"] if quick else []
    trainer = ["--image-side", "128", "--trainer-encoder", "efficientnet-b0", "--trainer-size", "64"] if quick else []
    folder = ["--image-side", "128", "--images", "4", "--batch-sizes", "1", "2"] if quick else ["--images", "16"]
    precision = ["--size", "64", "--train", "8", "--epochs", "1"] if quick else []
    return [
        ("Model forward: random-init network at the served size", _benchmark("bench_model", *tiny, *repeats)),
        ("Profile of the OpenVINO forward by layer type", _benchmark("profile_openvino", *tiny, "--int8")),
        (
            "Model forward: trained checkpoint (mask agreement that means something)",
            _benchmark("bench_model", "--model", str(checkpoint), *repeats),
        ),
        ("Server: /infer over HTTP vs forward vs stock MONAI", _benchmark("bench_server", *server)),
        (
            "Throughput over a folder of DICOMs: batched with reads overlapped vs one at a time",
            _benchmark("bench_throughput", *tiny, *folder),
        ),
        ("Training on CPU", _benchmark("bench_train", *train, "--workers", "0", "1")),
        ("CPU fine-tuning: bf16 autocast vs fp32, same seed", _benchmark("bench_train_precision", *precision)),
        (
            "Active-learning scoring: flip-TTA vs MC dropout",
            _benchmark("bench_uncertainty", *tiny, "--repeats", "1" if quick else "3"),
        ),
        (
            "Inference while the CPU trains",
            _benchmark("bench_contention", *tiny, *trainer, "--repeats", "2" if quick else "10"),
        ),
    ]


def write_results(path: Path, started: str, argv, verdicts: list, training: list, sections: list[str]) -> None:
    """The results file: how it was made, the machine, the target verdicts, the agreement model, each output."""
    header = [
        "# Benchmark results",
        "",
        f"Written by `{shlex.join(_display([sys.executable, '-m', 'benchmarks.run_all', *(argv or sys.argv[1:])]))}`"
        f" (started {started}). Interpretation and profiles: README.md.",
        "",
        *(f"- {line}" for line in machine_lines(describe_machine())),
        "",
        "## Targets",
        "",
        *(f"- {verdict['line']}" for verdict in verdicts),
        "",
    ]
    if training:
        header += ["## Agreement model (trained for this run)", ""]
        for command, output in training:
            header += [f"`{shlex.join(_display(command))}`", "", "```text", output.rstrip()[-1500:], "```", ""]
    path.write_text("\n".join(header) + "\n" + "\n".join(sections))


def main(argv: list[str] | None = None) -> int:
    """Run everything and write the results file."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(RESULTS), help="results file (default: benchmarks/RESULTS.md)")
    parser.add_argument("--model", help="use this checkpoint for the agreement run instead of training one")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline, not the machine")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a 1-minute load below this")
    parser.add_argument("--patience", type=float, default=1800, help="seconds to wait for that before going on")
    args = parser.parse_args(argv)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sections, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-") as folder:
        json_dir = Path(folder)
        if args.model:
            checkpoint, training = Path(args.model), []
        else:
            wait_until_quiet(args.max_load, args.patience)
            shape = QUICK_TRAINING if args.quick else AGREEMENT_TRAINING
            checkpoint, training = train_agreement_model(json_dir / "agreement", shape)
        for index, (title, command) in enumerate(benchmark_plan(checkpoint, args.quick)):
            load_before = wait_until_quiet(args.max_load, args.patience)
            json_path = json_dir / f"{index}.json"
            output = _run([*command, "--json", str(json_path)])
            sections.append(_section(title, _display(command), load_before, output))
            verdicts += json.loads(json_path.read_text()).get("targets", [])
    write_results(Path(args.out), started, argv, verdicts, training, sections)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
