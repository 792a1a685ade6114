"""A site's FLARE client: FLARE's Client API loop around :class:`ptxseg.federated.site_training.SiteTrainer`.

The job ships this file as its client script (FLARE copies it into the app's ``custom`` folder); it only imports the
ptxseg installed at the site. ``train`` tasks fine-tune the received global model and return the weights (FLARE turns
them into differences when the job sends diffs) with the site's validation metrics and training image count;
``validate`` tasks offer the final global model as a challenger to the site's champion.
"""

from __future__ import annotations

import logging

import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel

from ptxseg.federated.controller import ROUND_OPTIONS_KEY
from ptxseg.federated.options import RoundOptions
from ptxseg.federated.site_config import read_site_config
from ptxseg.federated.site_training import SiteTrainer

__all__ = ["main", "outcome_metrics"]

LOGGER = logging.getLogger(__name__)


def outcome_metrics(outcome: dict) -> dict[str, float]:
    """A promotion outcome's numbers, as the site reports them to the server.

    Example:
        >>> outcome_metrics({"promoted": True, "challenger_dice": 0.8, "champion_dice": None, "reason": "..."})
        {'promoted': 1.0, 'challenger_dice': 0.8}
    """
    return {key: float(value) for key, value in outcome.items() if isinstance(value, (bool, int, float))}


def main() -> None:
    """Serve the job's tasks until FLARE ends the run."""
    flare.init()
    site = flare.get_site_name()
    trainer = SiteTrainer(read_site_config(site))
    while flare.is_running():
        task = flare.receive()
        if task is None:
            break
        options = RoundOptions.from_dict((task.meta or {}).get(ROUND_OPTIONS_KEY, {}))
        if flare.is_train():
            result = trainer.train_round(task.params, options, task.current_round or 0, task.total_rounds or 1)
            flare.send(
                FLModel(
                    params=result.weights,
                    metrics=result.metrics,
                    meta={"NUM_STEPS_CURRENT_ROUND": result.training_images},
                )
            )
        elif flare.is_evaluate():
            outcome = trainer.promote(task.params, options, task.total_rounds or 0)
            flare.send(FLModel(metrics=outcome_metrics(outcome)))
        else:
            LOGGER.warning("site %s: task %s is not one ptxseg's client serves", site, flare.get_task_name())
            flare.send(FLModel(metrics={}))


if __name__ == "__main__":
    main()
