"""The server's workflow: FLARE's FedAvg over every connected site, tolerant of sites that drop out, then the global
model offered to each site as a challenger (FLARE's ``validate`` task: each site decides by its own rule).

A round needs ``min_sites`` results; the others are awaited ``straggler_wait`` seconds longer and a site that fails
or disappears is left out of that round's average instead of stopping the job. What each site sent (the weights'
names, its metrics and meta, never the arrays) is recorded per round in ``ptxseg_rounds.json`` beside the server's app:
the metrics per site and round, and a record anyone can audit for what left the sites.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from nvflare.apis.fl_constant import FLContextKey
from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_common.workflows.fedavg import FedAvg

from ptxseg.io.atomic import write_text_atomically

__all__ = ["ROUND_OPTIONS_KEY", "ROUNDS_RECORD", "SiteTolerantFedAvg"]

ROUND_OPTIONS_KEY = "ptxseg_round_options"
ROUNDS_RECORD = "ptxseg_rounds.json"


class SiteTolerantFedAvg(FedAvg):
    """FedAvg that sends every round to all sites and goes on with ``min_sites`` of them, then offers the result."""

    def __init__(self, *, min_sites: int, round_options: dict, num_rounds: int, straggler_wait: int = 600):
        super().__init__(num_clients=min_sites, num_rounds=num_rounds)
        self.min_sites = min_sites
        self.round_options = round_options
        self.straggler_wait = straggler_wait
        self._rounds: list[dict] = []
        self._latest: FLModel | None = None
        self._record_lock = threading.Lock()

    def sample_clients(self, num_clients: int = None) -> list[str]:
        clients = [client.name for client in self.engine.get_clients()]
        if len(clients) < self.min_sites:
            self.panic(f"{len(clients)} site(s) connected, the job needs min_sites={self.min_sites}")
        return clients

    def send_model(self, task_name="train", data=None, targets=None, min_responses=None, timeout=0, callback=None):
        data.meta = {**(data.meta or {}), ROUND_OPTIONS_KEY: self.round_options}
        self.broadcast_model(
            task_name=task_name,
            data=data,
            targets=targets,
            min_responses=self.min_sites,
            wait_time_after_min_received=self.straggler_wait,
            timeout=timeout,
            blocking=False,
            callback=callback,
        )

    def _aggregate_one_result(self, result: FLModel) -> bool:
        self._record(result)
        return super()._aggregate_one_result(result)

    def save_model(self, model: FLModel) -> None:
        self._latest = model
        super().save_model(model)

    def run(self) -> None:
        super().run()
        if self._latest is None or self.abort_signal.triggered:
            return
        self.info("Offering the global model to every site as a challenger (champion/challenger at each site).")
        final = FLModel(params=self._latest.params, current_round=self.num_rounds, total_rounds=self.num_rounds)
        final.meta = {ROUND_OPTIONS_KEY: self.round_options}
        results = self.send_model_and_wait(task_name="validate", data=final, min_responses=self.min_sites)
        for result in results:
            self._record(result, task="validate")

    def _record(self, result: FLModel, task: str = "train") -> None:
        meta = result.meta or {}
        with self._record_lock:  # results of several sites may arrive at once
            self._record_locked(result, task, meta)

    def _record_locked(self, result: FLModel, task: str, meta: dict) -> None:
        self._rounds.append(
            {
                "task": task,
                "round": self.current_round if task == "train" else None,
                "site": meta.get("client_name", "unknown"),
                "metrics": result.metrics or {},
                "meta": json.loads(json.dumps(meta, default=repr)),
                "params": sorted(result.params or {}),
                "params_type": str(result.params_type),
            }
        )
        app_root = Path(self.fl_ctx.get_prop(FLContextKey.APP_ROOT))
        write_text_atomically(app_root / ROUNDS_RECORD, json.dumps(self._rounds, indent=1, default=str))
