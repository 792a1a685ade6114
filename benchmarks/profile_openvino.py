"""Where the served CPU forward spends its time: OpenVINO's per-layer counters by layer type, f32 against bf16
(and, with ``--int8``, the int8 model the server would quantise).

Compiles the network's ONNX export with the hints ``ptxseg.inference.runtimes.OpenVINOBackend`` uses plus
``PERF_COUNT``, runs ``--repeats`` forwards per variant and sums each layer type's time. Shows which layers native
bf16 speeds up (dense convolutions on dot-product kernels) and which it barely does (memory-bound depthwise
convolutions, activations, reorders): the reason the bf16 forward's ratio to fp32 differs from CPU to CPU. The int8
column (quantised as the server does, calibrated on 32 phantoms, its other layers at bf16 where the CPU has it) says
what int8 gains on the convolutions and what its quantise/dequantise steps cost.

    python -m benchmarks.profile_openvino --encoder efficientnet-b4 --size 512 --int8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import openvino as ov

from benchmarks.common.machine import describe_machine, machine_lines
from benchmarks.common.model_inputs import phantom_batch
from benchmarks.common.report import format_table, write_json
from ptxseg.compute.device import cpu_supports_bf16
from ptxseg.inference.calibration import CALIBRATION_SEEDS, phantom_inputs
from ptxseg.inference.int8 import quantize_int8
from ptxseg.model.checkpoint import load_model
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture
from ptxseg.model.onnx import export_onnx

__all__ = ["main", "layer_times"]


def layer_times(onnx_path: Path, size: int, precision: str, repeats: int) -> tuple[Counter, Counter, set[str]]:
    """Milliseconds per forward and layer count by layer type, and the kernels OpenVINO chose."""
    config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": True}
    request = ov.Core().compile_model(str(onnx_path), "CPU", config).create_infer_request()
    batch = phantom_batch(size)
    request.infer([batch])  # warm-up: first-run allocations are not the steady state
    times, counts, kernels = Counter(), Counter(), set()
    for _ in range(repeats):
        request.infer([batch])
        for layer in request.get_profiling_info():
            times[layer.node_type] += layer.real_time.total_seconds() * 1000 / repeats
            counts[layer.node_type] += 1
            kernels.add(layer.exec_type)
    return times, Counter({name: count // repeats for name, count in counts.items()}), kernels


def compare(variants: dict[str, tuple[Path, str]], size: int, repeats: int) -> dict:
    """Per layer type: count, ms per forward in each variant (name -> model file and precision), and (between the
    first two variants) the speed-up."""
    measured = {name: layer_times(path, size, precision, repeats) for name, (path, precision) in variants.items()}
    precisions = list(variants)
    last = precisions[1] if len(precisions) > 1 else precisions[0]
    summed = {name: sum(measured[name][0].values()) for name in precisions}
    layer_types = Counter()
    for times, _, _ in measured.values():
        layer_types |= times  # each type at its largest time in any variant: int8's quantise steps are listed too
    rows = []
    for layer, _ in layer_types.most_common():
        row = {
            "layer": layer,
            "count": max(measured[name][1][layer] for name in precisions),
            "share": round(measured[last][0][layer] / summed[last], 3),
        }
        for name in precisions:
            row[f"{name}_ms"] = round(measured[name][0][layer], 2)
        if len(precisions) > 1 and row[f"{last}_ms"] > 0:
            row["speedup"] = round(row[f"{precisions[0]}_ms"] / row[f"{last}_ms"], 2)
        rows.append(row)
    return {
        "precisions": precisions,
        "summed_ms": {name: round(value, 1) for name, value in summed.items()},
        "kernels": {name: sorted(measured[name][2]) for name in precisions},
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Profile and print the layer-type table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_openvino", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="trained checkpoint (default: random-init --encoder)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=10, help="rows to print")
    parser.add_argument("--int8", action="store_true", help="also profile the int8 model (NNCF, 32 phantoms)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    model = load_model(args.model)[0] if args.model else build_architecture(args.encoder).eval()
    with tempfile.TemporaryDirectory(prefix="ptxseg-profile-") as folder:
        onnx_path = export_onnx(model, args.size, Path(folder) / "model.onnx")
        variants = {"f32": (onnx_path, "f32")}
        if cpu_supports_bf16():
            variants["bf16"] = (onnx_path, "bf16")
        if args.int8:
            calibration = phantom_inputs(32, args.size, CALIBRATION_SEEDS)
            int8_path = quantize_int8(onnx_path, calibration, Path(folder) / "int8")
            variants["int8"] = (int8_path, "bf16" if cpu_supports_bf16() else "f32")
        results = compare(variants, args.size, args.repeats)
    precisions = list(variants)
    machine = describe_machine()
    for line in machine_lines(machine):
        print(line)
    summed = ", ".join(f"{precision} {ms} ms" for precision, ms in results["summed_ms"].items())
    print(f"OpenVINO layer time per forward, {args.model or args.encoder} at {args.size}: {summed}")
    columns = [("layer", "layer type"), ("count", "layers")]
    columns += [(f"{precision}_ms", f"{precision} ms") for precision in precisions]
    if len(precisions) > 1:
        columns += [("speedup", f"{precisions[1]} speed-up"), ("share", f"share of {precisions[1]}")]
    print(format_table(results["rows"][: args.top], columns))
    for name in precisions[1:]:
        print(f"kernels ({name}): {', '.join(results['kernels'][name])}")
    if args.json:
        write_json(args.json, {"benchmark": "profile_openvino", "machine": machine, **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
