"""End-to-end /infer over HTTP on the real server, against the model forward alone and a stock MONAI pipeline.

Starts ``python -m ptxseg serve`` (the MONAI Label app) on a temporary studies folder holding one DICOM phantom
(1024x1024 by default), then times ``POST /infer/pneumothorax?image=ID&output=image`` (p50/p95 after warm-up) and
samples the server's peak RSS over its process tree. In the same run it times, in this process, the served model's
forward alone (the fast CPU path ``ptxseg`` picks), the library's read + predict + write without HTTP, and a stock
MONAI Label 2D pipeline (MONAI transforms, fp32 forward) on the same image. ``latencies_ms`` from JSON answers split
the server's time into read, preprocess, forward, postprocess, write and HTTP.

    python -m benchmarks.bench_server --requests 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from benchmarks.common.machine import describe_machine, machine_lines
from benchmarks.common.model_inputs import input_side
from benchmarks.common.process_memory import (
    PeakMemory,
    tree_memory_by_process,
    tree_pss_bytes,
    tree_rss_by_process,
    tree_rss_bytes,
)
from benchmarks.common.report import finish, format_table, verdict
from benchmarks.common.stock_monai import StockMonaiPipeline
from benchmarks.common.studies import write_dicom_studies
from benchmarks.common.timing import summarize, time_ms
from ptxseg.io.labels import write_label
from ptxseg.io.reader import image_id, read_cxr
from ptxseg.model.checkpoint import load_model
from ptxseg.model.network import DEFAULT_ENCODER
from ptxseg.serving.local_server import running_server
from ptxseg.serving.served_model import ServedModel
from ptxseg.serving.settings import ServingSettings
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize

__all__ = [
    "main",
    "run_benchmark",
    "INFER_VS_FORWARD_TARGET",
    "INFER_VS_STOCK_TARGET",
    "SERVING_RSS_TARGET_GB",
    "STARTUP_RSS_TARGET_GB",
]

INFER_VS_FORWARD_TARGET = 1.5
INFER_VS_STOCK_TARGET = 0.2
STARTUP_RSS_TARGET_GB = 2.0
SERVING_RSS_TARGET_GB = 1.5
STAGES = ("read", "preprocess", "forward", "postprocess", "write", "http")
JSON_SAMPLES = 5
COLUMNS = [("what", "what"), ("median_ms", "median ms"), ("p95_ms", "p95 ms"), ("n", "n")]


def _post_infer(session: requests.Session, url: str, image: str, output: str) -> requests.Response:
    response = session.post(f"{url}/infer/pneumothorax", params={"image": image, "output": output}, timeout=900)
    if response.status_code != 200 or not response.content:
        raise RuntimeError(f"/infer answered {response.status_code}: {response.text[:500]}")
    return response


def _stage_split(answers: list[dict], http_p50_ms: float) -> dict[str, float]:
    """Median server-side stage times; 'write' is what the infer task's total leaves, 'http' what the wall adds."""
    latencies = [answer["latencies_ms"] for answer in answers]
    split = {name: float(np.median([item[name] for item in latencies])) for name in STAGES[:4]}
    total = float(np.median([item["total"] for item in latencies]))
    split["write"] = max(0.0, total - sum(split.values()))
    split["http"] = max(0.0, http_p50_ms - total)
    return {name: round(value, 1) for name, value in split.items()}


def _wait_for_runtime(session: requests.Session, url: str, timeout_s: float) -> dict:
    """Wait until the server has measured its CPU runtimes (``/info`` ptxseg.runtime); returns that entry."""
    deadline = time.monotonic() + timeout_s
    while True:
        runtime = session.get(f"{url}/info/", timeout=60).json()["ptxseg"]["runtime"]
        if not runtime["reason"].startswith("measuring"):
            return runtime
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not finish measuring its runtimes in {timeout_s:.0f} s: {runtime}")
        time.sleep(2)


def _conf(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    """The server's conf (and the in-process measurement's: the same settings, so the same served runtime)."""
    conf = {"model_dir": str(workdir / "model"), "encoder": args.encoder, "image_size": str(args.size)}
    if args.model:
        conf["model"] = str(Path(args.model).resolve())
    return conf


def _served(args: argparse.Namespace, workdir: Path, dicom: Path) -> dict:
    """Everything measured against the running server: start-up (until the measured runtime serves), warm /infer,
    stage split, memory at start-up and while serving."""
    conf = _conf(args, workdir)
    image = image_id(dicom)
    started = time.perf_counter()
    with running_server(dicom.parent, workdir / "model", conf) as server:
        startup_s = time.perf_counter() - started
        idle_rss = tree_rss_bytes(server.process.pid)
        with requests.Session() as session:
            session.headers.update(server.auth_headers)
            # Start-up: the app warms its model in the background, the first request waits for that, and a child
            # process exports, quantises, gates and times the runtimes; the first request after its decision
            # loads the chosen one. PSS is slow to read, so it is sampled here only, not while requests are timed.
            pid = server.process.pid
            startup_memory = PeakMemory(pid, tree_rss_by_process, interval_s=0.1)
            with startup_memory, PeakMemory(pid, tree_pss_bytes, interval_s=0.25) as startup_pss:
                cold_ms = time_ms(lambda: _post_infer(session, server.url, image, "image"), repeats=1, warmup=0)[0]
                runtime = _wait_for_runtime(session, server.url, args.measure_timeout)
                runtime_ready_s = time.perf_counter() - started
                _post_infer(session, server.url, image, "image")
            serving_idle_rss = tree_rss_bytes(pid)
            with PeakMemory(pid) as warm_memory:
                http = summarize(
                    time_ms(lambda: _post_infer(session, server.url, image, "image"), args.requests, args.warmup)
                )
                answers = [_post_infer(session, server.url, image, "json").json() for _ in range(JSON_SAMPLES)]
        by_process = tree_memory_by_process(server.process.pid)
    return {
        "startup_s": round(startup_s, 1),
        "cold_first_infer_ms": round(cold_ms, 1),
        "measured_runtime_serving_after_s": round(runtime_ready_s, 1),
        "runtime_reason": runtime["reason"],
        "infer_http": http,
        "served_backend": answers[0]["backend"],
        "stage_split_ms": _stage_split(answers, http["median_ms"]),
        "idle_rss_mb": round(idle_rss / 1e6),
        "startup_peak_rss_mb": round(startup_memory.peak_bytes / 1e6),
        "startup_peak_pss_mb": round(startup_pss.peak_bytes / 1e6),
        "startup_peak_by_process_mb": {name: round(size / 1e6) for name, size in startup_memory.peak_sample.items()},
        "serving_idle_rss_mb": round(serving_idle_rss / 1e6),
        "serving_peak_rss_mb": round(warm_memory.peak_bytes / 1e6),
        "memory_by_process": by_process,
    }


def _in_process(args: argparse.Namespace, workdir: Path, dicom: Path) -> dict:
    """The served model's forward alone (in the runtime the server measured and serves), the library path without
    HTTP, and the stock MONAI pipeline."""
    served = ServedModel(ServingSettings.from_conf(_conf(args, workdir)), workdir / "model")
    served_path = served.store.served_path
    predictor = served.predictor()  # the server's decision and exports, cached beside the checkpoint
    image = read_cxr(dicom)
    batch = normalize(fit_to_square(image.pixels, predictor.image_size)[0])[None, None]
    forward = summarize(time_ms(lambda: predictor.backend(batch), args.requests, args.warmup))

    def library_path() -> None:
        loaded = read_cxr(dicom)
        write_label(predictor.predict(loaded).mask, like=loaded, path=workdir / "label.nrrd")

    library = summarize(time_ms(library_path, args.requests, args.warmup))
    model, metadata = load_model(served_path)
    stock = StockMonaiPipeline(model, metadata.image_size, workdir / "stock")
    splits = []

    def stock_run() -> None:
        stock(dicom)
        splits.append(stock.timings_ms)

    stock_timing = summarize(time_ms(stock_run, args.stock_repeats, warmup=1))
    stock_split = {name: round(float(np.median([split[name] for split in splits[1:]])), 1) for name in splits[0]}
    return {
        "forward": forward,
        "library": library,
        "stock": stock_timing,
        "stock_split_ms": stock_split,
        "backend": predictor.backend.name,
    }


def run_benchmark(args: argparse.Namespace) -> dict:
    """Serve one phantom, time it every way, and compare with the targets."""
    machine = describe_machine()
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-server-") as folder:
        workdir = Path(folder)
        dicom = write_dicom_studies(workdir / "studies", args.image_side)[0]
        served = _served(args, workdir, dicom)
        local = _in_process(args, workdir, dicom)
    infer_ms = served["infer_http"]["median_ms"]
    rows = [
        {"what": f"POST /infer over HTTP ({served['served_backend']}), p50/p95", **served["infer_http"]},
        {"what": "ptxseg read + predict + write, in-process", **local["library"]},
        {"what": f"model forward alone ({local['backend']}, batch 1)", **local["forward"]},
        {"what": "stock MONAI pipeline (ITK read, fp32 forward, ITK write)", **local["stock"]},
    ]
    return {
        "benchmark": "server",
        "machine": machine,
        "image": f"{args.image_side}x{args.image_side} 12-bit DICOM phantom; model input {args.size}",
        "weights": f"checkpoint {args.model}" if args.model else f"untrained {args.encoder} (the server's initial)",
        "requests": args.requests,
        "warmup": args.warmup,
        **served,
        "stock_split_ms": local["stock_split_ms"],
        "rows": rows,
        "ratios": {
            "infer_vs_forward": round(infer_ms / local["forward"]["median_ms"], 3),
            "infer_vs_stock": round(infer_ms / local["stock"]["median_ms"], 3),
            "infer_vs_library": round(infer_ms / local["library"]["median_ms"], 3),
        },
        "targets": [
            verdict("/infer vs fast forward", infer_ms / local["forward"]["median_ms"], INFER_VS_FORWARD_TARGET, "x"),
            verdict(
                "/infer vs stock MONAI pipeline", infer_ms / local["stock"]["median_ms"], INFER_VS_STOCK_TARGET, "x"
            ),
            verdict(
                "server RSS at its start-up peak (sum over its processes, the measuring child included)",
                served["startup_peak_rss_mb"] / 1000,
                STARTUP_RSS_TARGET_GB,
                " GB",
            ),
            verdict(
                "server RSS while serving (sum over its processes, peak of the timed requests)",
                served["serving_peak_rss_mb"] / 1000,
                SERVING_RSS_TARGET_GB,
                " GB",
            ),
        ],
    }


def print_results(results: dict) -> None:
    """The human-readable report."""
    for line in machine_lines(results["machine"]):
        print(line)
    print(f"image: {results['image']}; weights: {results['weights']}")
    print(f"requests: {results['requests']} timed after {results['warmup']} warm-up (keep-alive session)")
    print(
        f"server start-up {results['startup_s']} s; first /infer right after start-up (waits for the app's "
        f"background warm-up: model load, ONNX export, compile) {results['cold_first_infer_ms']} ms; the measured "
        f"runtime serves {results['measured_runtime_serving_after_s']} s after the start"
    )
    print(f"runtime: {results['runtime_reason']}")
    print(format_table(results["rows"], COLUMNS))
    split = results["stage_split_ms"]
    print("/infer split, median ms: " + ", ".join(f"{name} {split[name]}" for name in STAGES))
    stock = results["stock_split_ms"]
    print("stock MONAI split, median ms: " + ", ".join(f"{name} {value}" for name, value in stock.items()))
    print(
        f"server RSS (sum over its process tree): ready {results['idle_rss_mb']} MB; start-up peak (model load, "
        f"runtime measurement child, first requests) {results['startup_peak_rss_mb']} MB (PSS "
        f"{results['startup_peak_pss_mb']} MB); serving: idle {results['serving_idle_rss_mb']} MB, peak during the "
        f"timed requests {results['serving_peak_rss_mb']} MB"
    )
    peak = results["startup_peak_by_process_mb"]
    print("at the start-up peak: " + "; ".join(f"{name}: RSS {size} MB" for name, size in peak.items()))
    processes = results["memory_by_process"]
    print(
        "after the requests: "
        + "; ".join(f"{p['command']}: RSS {p['rss_mb']} MB, PSS {p['pss_mb']} MB" for p in processes)
    )
    print(f"  PSS sum (shared pages counted once): {sum(p['pss_mb'] for p in processes)} MB")
    ratios = results["ratios"]
    print(
        f"ratios: /infer = {ratios['infer_vs_forward']:.2f}x forward, {ratios['infer_vs_library']:.2f}x in-process "
        f"library, {ratios['infer_vs_stock']:.3f}x stock MONAI"
    )
    for target in results["targets"]:
        print(target["line"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-side", type=int, default=1024, help="rows and columns of the DICOM phantom")
    parser.add_argument("--size", type=input_side, default=512, help="model input side (conf image_size)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="encoder of the server's initial model")
    parser.add_argument("--model", help="serve this checkpoint (conf model) instead of an untrained one")
    parser.add_argument("--requests", type=int, default=20, help="timed requests (and in-process repeats)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests after the first")
    parser.add_argument("--stock-repeats", type=int, default=5, help="timed runs of the stock MONAI pipeline")
    parser.add_argument("--measure-timeout", type=float, default=1800, help="seconds to wait for the runtime decision")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.image_side < 64:
        parser.error(f"--image-side must be >= 64 (the phantom's minimum), got {args.image_side}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write ``--json``."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
