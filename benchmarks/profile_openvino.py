"""Where the served CPU forward spends its time: OpenVINO's per-layer counters by layer type, f32 against bf16.

Compiles the network's ONNX export with the hints ``ptxseg.inference.runtimes.OpenVINOBackend`` uses plus
``PERF_COUNT``, runs ``--repeats`` forwards per precision and sums each layer type's time. Shows which layers native
bf16 speeds up (dense convolutions on dot-product kernels) and which it barely does (memory-bound depthwise
convolutions, activations, reorders): the reason the bf16 forward's ratio to fp32 differs from CPU to CPU.

    python -m benchmarks.profile_openvino --encoder efficientnet-b4 --size 512
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


def compare(onnx_path: Path, size: int, precisions: list[str], repeats: int) -> dict:
    """Per layer type: count, ms per forward in each precision, and (with two precisions) the speed-up."""
    measured = {precision: layer_times(onnx_path, size, precision, repeats) for precision in precisions}
    last = precisions[-1]
    times, counts, _ = measured[last]
    summed = {precision: sum(measured[precision][0].values()) for precision in precisions}
    rows = []
    for layer, _ in times.most_common():
        row = {"layer": layer, "count": counts[layer], "share": round(times[layer] / summed[last], 3)}
        for precision in precisions:
            row[f"{precision}_ms"] = round(measured[precision][0][layer], 2)
        if len(precisions) == 2 and row[f"{last}_ms"] > 0:
            row["speedup"] = round(row[f"{precisions[0]}_ms"] / row[f"{last}_ms"], 2)
        rows.append(row)
    return {
        "precisions": precisions,
        "summed_ms": {precision: round(value, 1) for precision, value in summed.items()},
        "kernels": {precision: sorted(measured[precision][2]) for precision in precisions},
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
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    precisions = ["f32", "bf16"] if cpu_supports_bf16() else ["f32"]
    model = load_model(args.model)[0] if args.model else build_architecture(args.encoder).eval()
    with tempfile.TemporaryDirectory(prefix="ptxseg-profile-") as folder:
        onnx_path = export_onnx(model, args.size, Path(folder) / "model.onnx")
        results = compare(onnx_path, args.size, precisions, args.repeats)
    machine = describe_machine()
    for line in machine_lines(machine):
        print(line)
    summed = ", ".join(f"{precision} {ms} ms" for precision, ms in results["summed_ms"].items())
    print(f"OpenVINO layer time per forward, {args.model or args.encoder} at {args.size}: {summed}")
    columns = [("layer", "layer type"), ("count", "layers")]
    columns += [(f"{precision}_ms", f"{precision} ms") for precision in precisions]
    columns += [("speedup", "bf16 speed-up"), ("share", f"share of {precisions[-1]}")] if len(precisions) == 2 else []
    print(format_table(results["rows"][: args.top], columns))
    print(f"kernels ({precisions[-1]}): {', '.join(results['kernels'][precisions[-1]])}")
    if args.json:
        write_json(args.json, {"benchmark": "profile_openvino", "machine": machine, **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
