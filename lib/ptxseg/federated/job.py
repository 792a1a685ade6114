"""The FedAvg job as FLARE's job API builds it: written as a job folder (to submit to a provisioned deployment, or
to run in FLARE's simulator), never a second description of the workflow.

Server: :class:`~ptxseg.federated.controller.SiteTolerantFedAvg` over the initial checkpoint (copied into the job)
through :class:`~ptxseg.federated.persistor.CheckpointPersistor`. Sites: FLARE's script runner around ptxseg's
client script (in the site's FLARE process), with the privacy filters on what they send. Every component is a class
of the ptxseg installed at each site and at the server, configured by plain values.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from nvflare.client.config import ExchangeFormat, TransferType
from nvflare.fuel.utils.constants import FrameworkType
from nvflare.job_config.api import FedJob
from nvflare.job_config.defs import FilterType
from nvflare.job_config.script_runner import ScriptRunner

from ptxseg.federated import client
from ptxseg.federated.controller import SiteTolerantFedAvg
from ptxseg.federated.options import JobOptions, RoundOptions
from ptxseg.federated.persistor import CheckpointPersistor
from ptxseg.federated.privacy import output_filters
from ptxseg.federated.weights import checkpoint_weights

__all__ = ["INITIAL_NAME", "JOB_NAME", "write_job"]

JOB_NAME = "ptxseg-fedavg"
INITIAL_NAME = "initial.safetensors"
STRAGGLER_WAIT_S = 600
SCRIPT_IN_CUSTOM = "ptxseg/federated/client.py"


def _build_job(options: JobOptions, rounds: RoundOptions, name: str, weight_names: list[str]) -> FedJob:
    job = FedJob(name=name, min_clients=options.min_sites)
    job.set_app_packages(["ptxseg"])  # installed at the server and every site: never shipped as the job's code
    controller = SiteTolerantFedAvg(
        min_sites=options.min_sites,
        round_options=rounds.to_dict(),
        straggler_wait=options.round_timeout or STRAGGLER_WAIT_S,
        num_rounds=options.rounds,
    )
    job.to_server(controller)
    job.to_server(CheckpointPersistor(initial_checkpoint=INITIAL_NAME), id="persistor")
    runner = ScriptRunner(
        script=client.__file__,
        framework=FrameworkType.NUMPY,
        server_expected_format=ExchangeFormat.NUMPY,
        params_transfer_type=TransferType.DIFF if options.send == "diff" else TransferType.FULL,
    )
    job.to_clients(runner)
    for output_filter in output_filters(options, weight_names):
        job.to_clients(output_filter, filter_type=FilterType.TASK_RESULT, tasks=["train"])
    return job


def write_job(
    initial_checkpoint: str | os.PathLike,
    folder: str | os.PathLike,
    options: JobOptions,
    rounds: RoundOptions,
    name: str = JOB_NAME,
) -> Path:
    """Write the job folder ``folder/name`` (``meta.json``, ``app_server``, ``app_client``); returns its path.

    Raises:
        ValueError: the initial checkpoint is missing or not a ptxseg U-Net checkpoint, or its input size is not the
            rounds' ``image_size``.

    Example:
        >>> write_job("model.safetensors", "jobs", JobOptions(rounds=3), RoundOptions())  # doctest: +SKIP
        PosixPath('jobs/ptxseg-fedavg')
    """
    initial = Path(initial_checkpoint)
    if not initial.is_file():
        raise ValueError(f"initial checkpoint {initial} does not exist: pass the model every site starts from")
    weights, metadata = checkpoint_weights(initial)
    if metadata.image_size != rounds.image_size:
        raise ValueError(
            f"{initial} is a {metadata.image_size} px model, the rounds train at {rounds.image_size} px:"
            f" pass --image-size {metadata.image_size}"
        )
    folder = Path(folder)
    _build_job(options, rounds, name, list(weights)).export_job(str(folder))
    job = folder / name
    shutil.copyfile(initial, job / "app" / "custom" / INITIAL_NAME)
    _make_script_path_relative(job / "app" / "config" / "config_fed_client.json")
    return job


def _make_script_path_relative(client_config: Path) -> None:
    """FLARE's exporter records the client script's absolute path on this machine; a site finds it by the path
    relative to the job's ``custom`` folder, where the exporter copied it."""
    config = json.loads(client_config.read_text())
    for entry in config["executors"]:
        entry["executor"]["args"]["task_script_path"] = SCRIPT_IN_CUSTOM
    client_config.write_text(json.dumps(config, indent=4))
