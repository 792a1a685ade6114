"""Choosing the CPU runtime by measurement on the machine that serves, among those the accuracy gate lets through.

CPUs differ (AVX2 only, AVX-512 with VNNI/BF16, AMX), and so does the fastest runtime: a table of CPU names would be
wrong on the next machine. So each candidate (OpenVINO int8, OpenVINO bf16 where the CPU has native bf16, OpenVINO
f32, ONNX Runtime f32) is built, judged against the PyTorch fp32 reference on held-out inputs, and timed; the
fastest that agrees serves, and PyTorch fp32 itself when none does. The decision, with every candidate's numbers,
is what ``/info`` and the log show.

The measurement runs in a short-lived child process (``python -m ptxseg.inference.runtime_choice``, started lean
by ``ptxseg.compute.lean_process``): the ONNX export, NNCF's calibration and the candidates' compilations peak at
2.3 GB at 512 px (benchmarks/RESULTS.md), which the serving process must not keep. The child writes its decision
beside the checkpoint, stamped with the checkpoint's digest and the CPU it was measured on, so the next start on the
same machine reuses it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ptxseg.compute.device import cpu_model_and_flags, cpu_supports_bf16
from ptxseg.compute.lean_process import lean_command
from ptxseg.inference.calibration import runtime_inputs
from ptxseg.inference.int8 import cached_int8_model, int8_model_path
from ptxseg.inference.runtime_gate import GateResult, gate_runtime
from ptxseg.inference.runtimes import OnnxRuntimeBackend, OpenVINOBackend, TorchBackend
from ptxseg.io.atomic import write_text_atomically
from ptxseg.model.checkpoint import load_model
from ptxseg.model.identity import file_digest
from ptxseg.model.onnx import cached_onnx_export

__all__ = [
    "RuntimeChoice",
    "build_runtime",
    "choose_cpu_runtime",
    "current_decision",
    "decided_runtime",
    "served_runtime",
]

LOGGER = logging.getLogger(__name__)
REFERENCE = "torch-cpu-fp32"


@dataclass
class RuntimeChoice:
    """The decision: which runtime serves, why, and every candidate's gate verdict and median latency."""

    chosen: str
    reason: str
    candidates: list[dict] = field(default_factory=list)
    cpu: str = ""
    checkpoint_sha256: str = ""
    calibration: str = ""

    def to_dict(self) -> dict:
        """Plain-JSON form (``/info``, the decision file)."""
        return asdict(self)


def _interleaved_median_ms(backends: dict[str, object], batch: np.ndarray, repeats: int) -> dict[str, float]:
    """Median latency of each backend, timed in rounds (one call of each per round) so that a load spike on a shared
    machine slows every candidate alike instead of deciding the race."""
    for backend in backends.values():
        backend(batch)  # the first call compiles kernels and allocates: not what a request waits for
    times: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(repeats):
        for name, backend in backends.items():
            started = time.perf_counter()
            backend(batch)
            times[name].append(1000 * (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in times.items()}


def _cpu_signature() -> str:
    model, flags = cpu_model_and_flags()
    features = " ".join(sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"}))
    return f"{model or platform.machine()} {os.cpu_count()} cpus [{features}]"


def build_runtime(name: str, model, onnx_path: Path, int8_path: Path | None, threads: int | None):
    """The runtime called ``name`` (a ``RuntimeChoice.chosen``) for this model.

    Example:
        >>> build_runtime("tpu-magic", None, Path("m.onnx"), None, None)
        Traceback (most recent call last):
        ValueError: unknown runtime 'tpu-magic'
    """
    if name == REFERENCE:
        return TorchBackend(model, "cpu")
    if name.startswith("openvino-int8-"):
        if int8_path is None:
            raise ValueError("the int8 runtime needs its quantised model")
        return OpenVINOBackend(int8_path, name.rsplit("-", 1)[1], threads, int8=True)
    if name in ("openvino-bf16", "openvino-f32"):
        return OpenVINOBackend(onnx_path, name.split("-")[1], threads)
    if name == "onnxruntime-fp32":
        return OnnxRuntimeBackend(onnx_path, threads)
    raise ValueError(f"unknown runtime {name!r}")


def _candidate_names(int8: bool) -> list[str]:
    precision = "bf16" if cpu_supports_bf16() else "f32"
    names = [f"openvino-int8-{precision}"] if int8 else []
    return [*names, *(["openvino-bf16"] if precision == "bf16" else []), "openvino-f32", "onnxruntime-fp32"]


def choose_cpu_runtime(
    model,
    onnx_path: Path,
    int8_factory: Callable[[], Path] | None,
    gate_inputs: Sequence[np.ndarray],
    threads: int | None = None,
    postprocess=None,
    repeats: int = 5,
) -> RuntimeChoice:
    """Gate and time every CPU candidate against the PyTorch fp32 reference; the fastest that agrees wins.

    Args:
        model: the network (PyTorch, eval mode): the reference.
        onnx_path: its ONNX export.
        int8_factory: builds (or finds) the int8 model when called; None leaves int8 out.
        gate_inputs: held-out normalised inputs the candidates are judged on.
        threads: CPU threads for the runtimes.
        postprocess: the served post-processing (the masks compared are the served masks).
        repeats: timed forwards per candidate (median), interleaved across the candidates.
    """
    reference = TorchBackend(model, "cpu")
    rows, passing_backends = [{"runtime": REFERENCE, "passed": True}], {REFERENCE: reference}
    for name in _candidate_names(int8_factory is not None):
        try:
            int8_path = int8_factory() if name.startswith("openvino-int8") else None
            candidate = build_runtime(name, model, onnx_path, int8_path, threads)
        except (ImportError, RuntimeError, ValueError, OSError) as error:
            rows.append({"runtime": name, "passed": False, "reason": f"not available: {error}"[:300]})
            continue
        gate: GateResult = gate_runtime(reference, candidate, gate_inputs, postprocess)
        row = {"runtime": name, "passed": gate.passed, "reason": gate.reason, "mask_dice": round(gate.mask_dice, 5)}
        row["max_probability_difference"] = round(gate.max_probability_difference, 5)
        if gate.passed:
            passing_backends[name] = candidate
        rows.append(row)
    for name, median_ms in _interleaved_median_ms(passing_backends, gate_inputs[0], repeats).items():
        next(row for row in rows if row["runtime"] == name)["median_ms"] = median_ms
    passing = [row for row in rows if row["passed"]]
    best = min(passing, key=lambda row: row["median_ms"])
    timings = ", ".join(f"{row['runtime']} {row['median_ms']:.1f} ms" for row in passing)
    refused = [row["runtime"] for row in rows if not row["passed"]]
    reason = f"{best['runtime']}: fastest of the runtimes that agree with PyTorch fp32 ({timings})"
    if refused:
        reason += f"; not served: {', '.join(refused)}"
    return RuntimeChoice(best["runtime"], reason, rows, _cpu_signature())


def _decision_path(checkpoint: Path, image_size: int) -> Path:
    return checkpoint.with_name(f"{checkpoint.name}.{image_size}.runtime.json")


def _read_decision(path: Path, digest: str) -> RuntimeChoice | None:
    try:
        values = json.loads(path.read_text())
        choice = RuntimeChoice(**values)
    except (OSError, ValueError, TypeError):
        return None
    return choice if (choice.checkpoint_sha256, choice.cpu) == (digest, _cpu_signature()) else None


def current_decision(checkpoint: Path, image_size: int) -> RuntimeChoice | None:
    """The decision measured for this checkpoint on this CPU, or None (never measures).

    Example:
        >>> current_decision(Path("no-such-model.safetensors"), 512) is None
        True
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        return None
    return _read_decision(_decision_path(checkpoint, image_size), file_digest(checkpoint))


def served_runtime(choice: RuntimeChoice, checkpoint: Path, model, image_size: int, threads: int | None = None):
    """The runtime a decision names, built from the exports the measurement left beside the checkpoint."""
    checkpoint = Path(checkpoint)
    onnx_path = cached_onnx_export(model, image_size, checkpoint)
    return build_runtime(choice.chosen, model, onnx_path, int8_model_path(checkpoint, image_size), threads)


def decided_runtime(
    checkpoint: Path,
    image_size: int,
    threads: int | None = None,
    int8: bool = True,
    studies: Path | None = None,
    timeout_s: float = 1800,
) -> RuntimeChoice:
    """The runtime decision for ``checkpoint`` on this CPU: read from beside it, else measured in a child process
    that calibrates int8 on the served studies in ``studies`` when there are enough (``ptxseg.inference.calibration``).

    Example:
        >>> decided_runtime(Path("model.safetensors"), 512).chosen  # doctest: +SKIP
        'openvino-int8-bf16'
    """
    checkpoint = Path(checkpoint)
    cached = current_decision(checkpoint, image_size)
    if cached is not None:
        return cached
    command = lean_command("ptxseg.inference.runtime_choice", str(checkpoint), "--image-size", str(image_size))
    command += (["--threads", str(threads)] if threads else []) + ([] if int8 else ["--no-int8"])
    command += ["--studies", str(studies)] if studies is not None else []
    finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    choice = current_decision(checkpoint, image_size)
    if finished.returncode != 0 or choice is None:
        raise RuntimeError(f"measuring the CPU runtimes failed (exit {finished.returncode}): {finished.stderr[-1500:]}")
    return choice


def _measure(checkpoint: Path, image_size: int, threads: int | None, int8: bool, studies: Path | None) -> RuntimeChoice:
    model, metadata = load_model(checkpoint)
    onnx_path = cached_onnx_export(model, image_size, checkpoint)
    inputs = runtime_inputs(image_size, studies)

    def int8_model() -> Path:
        return cached_int8_model(onnx_path, checkpoint, image_size, inputs.calibration, inputs.source)

    choice = choose_cpu_runtime(
        model, onnx_path, int8_model if int8 else None, inputs.gate, threads, metadata.postprocessor()
    )
    choice.checkpoint_sha256 = file_digest(checkpoint)
    choice.calibration = inputs.source if int8 else "none (int8 not tried)"
    return choice


def main(argv: Sequence[str] | None = None) -> int:
    """The child process: measure, write the decision beside the checkpoint, print its reason."""
    parser = argparse.ArgumentParser(prog="python -m ptxseg.inference.runtime_choice")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--no-int8", dest="int8", action="store_false")
    parser.add_argument("--studies", type=Path, help="served studies to calibrate int8 on (else phantoms)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    choice = _measure(args.checkpoint, args.image_size, args.threads, args.int8, args.studies)
    write_text_atomically(_decision_path(args.checkpoint, args.image_size), json.dumps(choice.to_dict(), indent=1))
    print(choice.reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
