"""Pre-screening at archive scale on a real Orthanc: how soon a new study is screened while a backlog is, what an
idle server asks of the PACS, and the ledger's size.

An Orthanc (Debian's package, as in the PACS tests; ``tests.support.orthanc``) is filled with ``--instances``
CR phantoms (one study each, dated over the past years), behind a proxy that counts every request. A pre-screener
(the library's, as ``ptxseg serve --conf prescreen true`` runs it) starts on the whole archive; after
``--arrival-after-s`` a new study arrives, and the time from its upload to its result (SEG stored) is measured
beside one model forward. Once the backlog is done, the PACS requests of ``--idle-s`` seconds of idle rounds are
counted. Targets (the issue's): a new study within one forward + 15 s whatever the archive size; idle load that
does not grow with the archive.

    python -m benchmarks.bench_prescreen --instances 2000
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from benchmarks.common.machine import describe_machine
from benchmarks.common.report import finish, print_setup_table, verdict
from ptxseg.evaluation.triage import recorded_qualification
from ptxseg.inference.predictor import Predictor
from ptxseg.io.reader import read_cxr
from ptxseg.serving.dicomweb.client import PacsAuth, PacsClient
from ptxseg.serving.dicomweb.prescreen import ModelForScreening, Prescreener
from ptxseg.serving.dicomweb.studies import PacsStudies
from tests.support.orthanc import Orthanc
from tests.support.pacs_images import write_cr_phantom
from tests.support.paging_proxy import PagingProxy
from tests.support.small_model import write_small_checkpoint

__all__ = ["main", "run_benchmark"]

COLUMNS = [("what", "what"), ("value", "value"), ("unit", "unit")]


def _fill(orthanc: Orthanc, template: Path, count: int) -> None:
    """``count`` studies from one phantom file, each with its own UIDs and a date over the past years."""
    dataset = pydicom.dcmread(template)
    for number in range(count):
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        day = f"{2020 + number % 6}{1 + number % 12:02d}{1 + number % 28:02d}"
        dataset.StudyDate = dataset.AcquisitionDate = dataset.ContentDate = day
        path = template.with_name("instance.dcm")
        dataset.save_as(path, write_like_original=False)
        orthanc.upload(path)


def _wait(condition, timeout_s: float, poll_s: float = 0.05) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"not done within {timeout_s} s")
        time.sleep(poll_s)
    return time.monotonic() - started


def run_benchmark(args: argparse.Namespace) -> dict:
    """Fill, screen, measure; returns the results (rows, verdicts)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-prescreen-"))
    orthanc = Orthanc(folder / "orthanc").start()
    try:
        template = write_cr_phantom(folder / "template.dcm", seed=1, size=args.size)
        started = time.perf_counter()
        _fill(orthanc, template, args.instances)
        fill_s = time.perf_counter() - started
        checkpoint = write_small_checkpoint(folder / "model.safetensors", size=args.size)
        predictor = Predictor.from_checkpoint(checkpoint, "cpu", "torch")
        image = read_cxr(template)
        predictor.predict(image)
        forward_s = min(_timed(lambda: predictor.predict(image)) for _ in range(5))
        model = ModelForScreening(predictor, "v1", recorded_qualification({}))
        with PagingProxy(orthanc.url, page_size=100) as proxy:
            client = PacsClient(proxy.dicomweb, PacsAuth(*orthanc.auth), timeout_s=60)
            studies = PacsStudies(client, folder / "state", refresh_s=args.refresh_s)
            prescreener = Prescreener(studies, lambda: model)
            stop = threading.Event()
            worker = threading.Thread(target=prescreener.run_forever, args=(stop, args.refresh_s), daemon=True)
            worker.start()
            time.sleep(args.arrival_after_s)
            backlog_left = args.instances - prescreener.status()["screened"]
            new = write_cr_phantom(folder / "new.dcm", seed=2, size=args.size, AcquisitionDate="20261207")
            arrived = time.monotonic()
            orthanc.upload(new)
            uid = pydicom.dcmread(new).SOPInstanceUID
            _wait(lambda: prescreener.result(uid) is not None, args.timeout_s)
            arrival_s = time.monotonic() - arrived
            backlog_s = _wait(lambda: prescreener.status()["screened"] >= args.instances + 1, args.timeout_s, 0.5)
            before = sum(proxy.requests.values())
            time.sleep(args.idle_s)
            idle_per_min = (sum(proxy.requests.values()) - before) * 60 / args.idle_s
            stop.set()
            worker.join(60)
            ledger_bytes = prescreener.ledger.size_bytes()
    finally:
        orthanc.stop()
    rows = [
        {"what": "archive filled", "value": args.instances, "unit": f"instances in {fill_s:.0f} s"},
        {"what": "one model forward", "value": round(1000 * forward_s, 1), "unit": "ms"},
        {"what": "backlog left when the new study arrived", "value": backlog_left, "unit": "instances"},
        {"what": "new study: upload to stored SEG", "value": round(arrival_s, 2), "unit": "s"},
        {"what": "rest of the backlog after that", "value": round(backlog_s, 1), "unit": "s"},
        {"what": "PACS requests when idle", "value": round(idle_per_min, 1), "unit": "per minute"},
        {"what": "ledger", "value": ledger_bytes, "unit": f"bytes ({ledger_bytes / (args.instances + 1):.0f} each)"},
    ]
    verdicts = [verdict("new study screened after arrival", arrival_s, forward_s + 15, " s")]
    setup = f"{args.instances} CR phantoms at {args.size} px, b0 U-Net, refresh every {args.refresh_s:g} s"
    return {"machine": describe_machine(), "setup": setup, "rows": rows, "verdicts": verdicts}


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _print(results: dict) -> None:
    print_setup_table(results, COLUMNS)
    for item in results["verdicts"]:
        print(item["line"])


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2000, help="studies in the archive (default 2000)")
    parser.add_argument("--size", type=int, default=64, help="phantom and model side in pixels (default 64)")
    parser.add_argument("--refresh-s", type=float, default=10.0, help="search interval, as the server's default")
    parser.add_argument("--arrival-after-s", type=float, default=20.0, help="when the new study arrives")
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle time whose PACS requests are counted")
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="give up after this long")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    return finish(run_benchmark(args), _print, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
