"""The summary ``GET /monitoring`` serves and Slicer shows: alert, last period's agreement, the model timeline."""

import json

from ptxseg.serving.monitoring.summary import monitoring_summary
from tests.support.monitoring_phantoms import write_monitored_app


def test_the_summary_holds_the_alert_the_last_periods_agreement_and_the_timeline(tmp_path):
    store = write_monitored_app(tmp_path)
    summary = json.loads(json.dumps(monitoring_summary(store, tmp_path / "model")))
    assert summary["alert"]["state"] == "drift" and summary["periods"] == 2
    assert summary["baseline"] == {"model_version": 2, "period": "2026-W40", "images": 20, "flag_rate": 0.5}
    assert summary["last_period"]["period"] == "2026-W41" and summary["last_period"]["images"] == 12
    assert summary["last_period"]["agreement"]["images"] == 4
    assert summary["model"] == {"version": 2, "validation_dice": 0.74}
    assert [(entry["version"], entry["promoted"], entry["validation_dice"]) for entry in summary["timeline"]] == [
        (1, True, 0.71),
        (1, False, 0.69),
        (2, True, 0.74),
    ]
    assert summary["text"].startswith("Monitoring: drift: 2026-W41: station 'PORTABLE-2' unseen in the baseline")
    assert summary["text"].endswith(
        "2026-W41: 12 images, 4 labelled: mean Dice 0.76, flag sensitivity 1.00, specificity 1.00"
    )
