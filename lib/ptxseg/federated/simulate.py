"""FLARE's simulator on one machine: the server and every site of a written job, as one process tree.

The simulator runs in its own session, so the whole tree (it starts a server and a process per site) is stopped by
its group id when it overruns or is interrupted; nothing outlives the call. Every site must have an entry in the sites
file (:mod:`ptxseg.federated.site_config`) before anything starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ptxseg.federated.controller import ROUNDS_RECORD
from ptxseg.federated.persistor import GLOBAL_NAME
from ptxseg.federated.site_config import SITES_VARIABLE, read_site_config

__all__ = ["SimulationResult", "simulate", "site_names"]


@dataclass(frozen=True)
class SimulationResult:
    """Where the simulator left the global model, the per-round record and its log."""

    global_model: Path
    rounds_record: Path
    log: Path


def site_names(count: int) -> list[str]:
    """The simulator's site names, as FLARE names them.

    Example:
        >>> site_names(2)
        ['site-1', 'site-2']
    """
    return [f"site-{index}" for index in range(1, count + 1)]


def simulate(job: Path, workspace: Path, sites: int, sites_file: Path, timeout_s: float = 3600) -> SimulationResult:
    """Run the job folder ``job`` with ``sites`` simulated sites in ``workspace``; returns where the results are.

    Raises:
        ValueError: a site has no entry in ``sites_file``.
        RuntimeError: the simulator failed or overran ``timeout_s`` (the message names its log).

    Example:
        >>> simulate(Path("jobs/ptxseg-fedavg"), Path("ws"), 2, Path("sites.json")).global_model  # doctest: +SKIP
        PosixPath('ws/server/simulate_job/app_server/ptxseg_global.safetensors')
    """
    environment = {**os.environ, SITES_VARIABLE: str(Path(sites_file).resolve())}
    names = site_names(sites)
    for name in names:
        read_site_config(name, environment)
    workspace = Path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    log = workspace / "simulator.log"
    command = [sys.executable, "-m", "nvflare.cli", "simulator", str(job), "-w", str(workspace)]
    command += ["-c", ",".join(names), "-t", str(sites)]
    with open(log, "wb") as stream:
        process = subprocess.Popen(
            command, stdout=stream, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"the FLARE simulator ran over {timeout_s:.0f} s and was stopped; see {log}") from error
        finally:
            _stop_group(process)
    server = workspace / "server" / "simulate_job" / "app_server"
    result = SimulationResult(server / GLOBAL_NAME, server / ROUNDS_RECORD, log)
    if returncode != 0 or not result.global_model.is_file():
        raise RuntimeError(f"the FLARE simulator failed (exit status {returncode}); see {log}")
    return result


def _stop_group(process: subprocess.Popen) -> None:
    """Stop what the simulator left running in its session (its own exit does not wait for every child)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
