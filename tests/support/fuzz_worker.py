"""Reads fuzz cases in a process of its own, so that a crash, a hang or a memory blow-up is one failed case.

``python fuzz_worker.py SEEDS_DIR SIIM_DIR SEED START STOP MAX_RSS_MB``: prints one JSON line per case, after
``RECORD_PREFIX`` (name, mutations, outcome ``result``/``refused``/``failure``, reason, seconds), from case START.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Run as a script by the fuzz tests: the repository root makes `tests.support` importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ptxseg.image import CXRReadError  # noqa: E402
from ptxseg.io.labels import read_label  # noqa: E402
from ptxseg.io.reader import read_cxr  # noqa: E402
from tests.support.fuzz_inputs import fuzz_case, make_seeds  # noqa: E402

MEMORY_EXIT = 3
# Decoders print to stdout too (libjpeg: "Corrupt JPEG data..."): records are the lines with this prefix.
RECORD_PREFIX = "fuzz-record: "


def outcome(case, path: Path, like: dict) -> tuple[str, str]:
    """``result``/``refused`` with the reason, or ``failure`` with what went wrong."""
    try:
        if case.label:
            values = read_label(path, like=like[case.suffix == ".png"])
            return "result", f"label {values.shape} {values.dtype}"
        image = read_cxr(path)
    except CXRReadError as error:
        return "refused", str(error).replace(str(path), path.name)[:300]
    except ValueError as error:
        if case.label:  # off the image's grid or out of range: read_label's documented refusal
            return "refused", str(error).replace(str(path), path.name)[:300]
        return "failure", f"ValueError (not a CXRReadError): {error}"[:500]
    except Exception as error:
        return "failure", f"{type(error).__name__}: {error}"[:500]
    pixels = image.pixels
    if pixels.ndim != 2 or pixels.dtype != np.float32 or not np.isfinite(pixels).all():
        return "failure", f"bad pixels {pixels.shape} {pixels.dtype}"
    if pixels.size and (pixels.min() < 0 or pixels.max() > 1):
        return "failure", f"pixels outside [0, 1]: {pixels.min()}..{pixels.max()}"
    return "result", f"image {pixels.shape}"


def peak_rss_bytes() -> int:
    """This process's own peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that across ``execve``
    from the parent, so a worker started by a large pytest process would read the parent's peak as its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(seeds_dir: str, siim_dir: str, seed: str, start: str, stop: str, max_rss_mb: str) -> None:
    limit = int(max_rss_mb) * 2**20
    seeds = make_seeds(Path(seeds_dir), sorted(Path(siim_dir).glob("*.dcm")) if siim_dir else [])
    like = {False: read_cxr(Path(seeds_dir) / "p8.dcm"), True: read_cxr(Path(seeds_dir) / "g.png")}
    # Address space capped a little above the limit: a blow-up fails its case instead of the machine.
    resource.setrlimit(resource.RLIMIT_AS, (limit * 4, limit * 4))
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(int(start), int(stop)):
            case = fuzz_case(seeds, index, int(seed))
            path = Path(scratch) / f"case{case.suffix}"
            path.write_bytes(case.content)
            began = time.perf_counter()
            kind, reason = outcome(case, path, like)
            seconds = time.perf_counter() - began
            rss = peak_rss_bytes()
            if rss > limit:
                kind, reason = "failure", f"resident memory reached {rss // 2**20} MB ({reason})"
            record = {"index": index, "name": case.name, "mutations": case.mutations, "outcome": kind}
            print(RECORD_PREFIX + json.dumps({**record, "reason": reason, "seconds": round(seconds, 3)}), flush=True)
            if rss > limit:  # the peak stays: a fresh worker measures the next case
                sys.exit(MEMORY_EXIT)


if __name__ == "__main__":
    main(*sys.argv[1:])
