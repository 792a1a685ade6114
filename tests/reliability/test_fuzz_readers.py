"""Fuzzing the readers: every mutated image or label ends in a result or a clear refusal, quickly, in bounded memory.

Thousands of inputs (``fuzz_inputs``: SIIM DICOMs, phantoms, every image and label format; header fields flipped or
removed, lengths corrupted, transfer syntax lies, pixel data truncated, huge declared sizes, wrong photometric
interpretation, sequence bombs, PNG/NRRD/NIfTI field edits, byte mutations) go through ``read_cxr`` and
``read_label`` in a worker process (``fuzz_worker``): a crash, a hang or a memory blow-up fails its case, not the run.

Deterministic: the same seed gives the same cases. ``PTXSEG_FUZZ_CASES`` (default 3000) and ``PTXSEG_FUZZ_SEED``
(default 0) make longer or other runs; the counts are printed (``-s``) for the README.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.fuzz_worker import MEMORY_EXIT, RECORD_PREFIX

CASES = int(os.environ.get("PTXSEG_FUZZ_CASES", "3000"))
SEED = int(os.environ.get("PTXSEG_FUZZ_SEED", "0"))
MAX_SECONDS_PER_CASE = 10.0
MAX_RSS_MB = 1024
WORKER = Path(__file__).resolve().parents[1] / "support" / "fuzz_worker.py"


def run_cases(seeds_dir: Path, siim_dicoms: Path, start: int, stop: int) -> list[dict]:
    """Every case's record; a worker that dies or stalls is replaced, its case recorded as a failure."""
    records: list[dict] = []
    siim = str(siim_dicoms)
    while start < stop:
        command = [sys.executable, str(WORKER), str(seeds_dir), siim, str(SEED), str(start), str(stop)]
        # Its stderr (decoder warnings, thousands of lines) goes to a file: a full pipe would stall it.
        errors = tempfile.TemporaryFile()
        worker = subprocess.Popen([*command, str(MAX_RSS_MB)], stdout=subprocess.PIPE, stderr=errors)
        with selectors.DefaultSelector() as selector:
            selector.register(worker.stdout, selectors.EVENT_READ)
            while start < stop:
                line = worker.stdout.readline() if selector.select(60 + MAX_SECONDS_PER_CASE) else b""
                if not line:
                    break
                if not line.startswith(RECORD_PREFIX.encode()):
                    continue
                records.append(json.loads(line[len(RECORD_PREFIX) :]))
                start = records[-1]["index"] + 1
        if start == stop:
            worker.wait()
            break
        try:
            status = worker.wait(5)
        except subprocess.TimeoutExpired:  # stuck on case `start`
            worker.kill()
            status = worker.wait()
        if status == MEMORY_EXIT:
            continue  # its case is recorded; the rest go to a fresh worker
        errors.seek(0)
        error = errors.read().decode(errors="replace")[-800:]
        reason = f"worker died or hung (status {status}): {error}"
        records.append({"index": start, "name": f"case {start}", "outcome": "failure", "reason": reason})
        start += 1
    return records


@pytest.mark.slow
def test_every_mutated_file_is_read_or_refused_with_a_reason(tmp_path, siim_sample):
    began = time.monotonic()
    records = run_cases(tmp_path / "seeds", siim_sample / "dicom", 0, CASES)
    elapsed = time.monotonic() - began

    counts = Counter(record["outcome"] for record in records)
    slow = [r for r in records if r.get("seconds", 0) > MAX_SECONDS_PER_CASE]
    failures = [r for r in records if r["outcome"] == "failure"] + slow
    refusals = Counter(r["reason"].split(": ", 1)[-1][:60] for r in records if r["outcome"] == "refused")
    print(
        f"\nfuzz readers: {len(records)} inputs in {elapsed:.0f} s: {dict(counts)}, slowest "
        f"{max(r.get('seconds', 0) for r in records):.2f} s; top refusals: {refusals.most_common(8)}"
    )
    assert len(records) == CASES
    assert not failures, "\n".join(json.dumps(r) for r in failures[:20])
    assert counts["result"] and counts["refused"]
