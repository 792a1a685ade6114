"""What the client makes of /info/, /train/ and /datastore/ answers, including the malformed ones."""

from PneumothoraxAnnotatorLib import ServerInfo, TrainingProgress, WorklistRow, worklist_rows

INFO = {
    "name": "ptxseg",
    "version": "0.8.5",
    "labels": ["pneumothorax"],
    "models": {"pneumothorax": {"type": "segmentation"}},
    "trainers": {"pneumothorax": {}},
    "strategies": {"uncertainty": {}, "triage": {}, "random": {}, "first": {}},
    "scoring": {"pneumothorax_scores": {}},
    "datastore": {"total": 10, "completed": 4},
    "ptxseg": {
        "model": {
            "trained": True,
            "version": "20250101-1200",
            "weights": "trained",
            "validation_dice": 0.8123,
            "training_images": 120,
        },
        "device": "cuda:0",
    },
}


def test_server_info_reads_every_field():
    info = ServerInfo.from_info(INFO)
    assert info == ServerInfo(
        name="ptxseg",
        models=("pneumothorax",),
        strategies=("uncertainty", "triage", "random", "first"),
        scoring_methods=("pneumothorax_scores",),
        total_images=10,
        labelled_images=4,
        model_trained=True,
        model_version="20250101-1200",
        model_weights="trained",
        validation_dice=0.8123,
        training_images=120,
        device="cuda:0",
    )
    assert info.warning is None
    assert info.summary() == "model 20250101-1200, trained, validation Dice 0.812, 120 training images, on cuda:0"


def test_server_info_without_the_ptxseg_block_warns_about_an_untrained_model():
    info = ServerInfo.from_info({"name": "other", "models": ["a"], "datastore": {"total": True}})
    assert (info.models, info.total_images, info.model_version, info.model_trained) == (("a",), None, None, False)
    assert info.warning.startswith("The model has not been trained")
    assert info.summary() == "model (unknown version), untrained"


def test_random_weights_get_the_loudest_warning():
    info = ServerInfo.from_info({"ptxseg": {"model": {"trained": False, "weights": "random", "version": "0"}}})
    assert info.warning.startswith("The model has random weights")
    assert info.summary() == "model 0, untrained, random weights"


def test_server_info_survives_garbage():
    assert ServerInfo.from_info(None) == ServerInfo()
    assert ServerInfo.from_info({"ptxseg": "?", "datastore": [1]}) == ServerInfo()


def datastore(**objects):
    return {"name": "ds", "objects": objects}


def scored(probability, flag=False, version="2", uncertainty=None, labels=None):
    info = {"ptx_probability": probability, "ptx_flag": flag, "ptx_model_version": version}
    if uncertainty is not None:
        info["ptx_uncertainty"] = uncertainty
    return {"image": {"ext": ".dcm", "info": info}, "labels": labels or {}}


def test_worklist_sorts_by_probability_with_unscored_last_and_marks_flags():
    listing = datastore(
        a=scored(0.30),
        b=scored(0.95, flag=True, uncertainty=0.1),
        c={"image": {"info": {}}, "labels": {}},
        d=scored(0.60, flag=True),
        e=scored(0.60),
    )
    rows = worklist_rows(listing)
    assert [(row.image_id, row.probability_text, row.flagged) for row in rows] == [
        ("b", "95%", True),
        ("d", "60%", True),
        ("e", "60%", False),
        ("a", "30%", False),
        ("c", "not scored", False),
    ]
    assert rows[0].uncertainty == 0.1


def test_worklist_leaves_out_labelled_images_unless_asked():
    listing = datastore(a=scored(0.3), b=scored(0.9, labels={"final": {"info": {}}}), c=scored(0.5, labels={"x": {}}))
    assert [row.image_id for row in worklist_rows(listing)] == ["c", "a"]
    rows = worklist_rows(listing, include_labelled=True)
    assert [(row.image_id, row.labelled) for row in rows] == [("b", True), ("c", False), ("a", False)]


def test_worklist_marks_scores_of_another_model_version_as_stale():
    rows = worklist_rows(datastore(a=scored(0.3, version="1"), b=scored(0.2, version="2")), current_model_version="2")
    assert [(row.image_id, row.stale) for row in rows] == [("a", True), ("b", False)]


def test_worklist_shows_malformed_scores_as_unscored():
    listing = datastore(
        nan=scored(float("nan")), text=scored("0.9"), big=scored(1.5), flag=scored(0.4, flag="true"), broken=None
    )
    rows = {row.image_id: row for row in worklist_rows(listing)}
    assert [rows[name].probability for name in ("nan", "text", "big", "broken")] == [None] * 4
    assert rows["flag"] == WorklistRow("flag", 0.4, False, None, "2", False, False)


def test_worklist_of_an_empty_or_odd_listing_is_empty():
    assert worklist_rows({}) == [] and worklist_rows({"objects": None}) == [] and worklist_rows([]) == []


def training_status(status="RUNNING", details=(), **extra):
    return {"id": "t1", "status": status, "request": {"max_epochs": 5}, "details": list(details), **extra}


def test_no_training_task_is_idle():
    progress = TrainingProgress.from_status(None)
    assert (progress.state, progress.running, progress.finished, progress.describe()) == (
        "idle",
        False,
        False,
        "Fine-tuning: idle",
    )


def test_a_submitted_task_knows_the_planned_epochs_but_not_the_fraction():
    progress = TrainingProgress.from_status(training_status("SUBMITTED"))
    assert (progress.state, progress.running, progress.max_epochs, progress.fraction) == ("submitted", True, 5, None)


def test_progress_comes_from_the_last_stats_handler_line():
    lines = [
        "[2025-01-01 10:00:00] [INFO] (ignite.engine.engine.SupervisedTrainer) - Epoch: 1/4, Iter: 8/8 -- loss: 0.7",
        "[2025-01-01 10:00:05] [INFO] (ignite.engine.engine.SupervisedEvaluator) - Epoch[1] Metrics -- dice: 0.4",
        "[2025-01-01 10:00:09] [INFO] (ignite.engine.engine.SupervisedTrainer) - Epoch: 2/4, Iter: 2/8 -- loss: 0.5",
        "[2025-01-01 10:00:10] [INFO] saving checkpoint",
    ]
    progress = TrainingProgress.from_status(training_status(details=lines))
    # (2 - 1 + 2/8) / 4 epochs
    assert (progress.epoch, progress.max_epochs, progress.fraction) == (2, 4, 0.3125)
    assert progress.message == "[2025-01-01 10:00:10] [INFO] saving checkpoint"
    assert progress.describe() == "Fine-tuning: running, epoch 2/4"


def test_a_finished_task_is_complete_and_reports_the_champion_challenger_result_from_a_log_line():
    lines = ['... - ptxseg_result: {"promoted": true, "challenger_dice": 0.81, "champion_dice": 0.78, "version": "8"}']
    progress = TrainingProgress.from_status(training_status("DONE", details=lines))
    assert (progress.state, progress.finished, progress.fraction) == ("done", True, 1.0)
    assert progress.result == {"promoted": True, "challenger_dice": 0.81, "champion_dice": 0.78, "version": "8"}
    assert progress.describe() == "Fine-tuning: done; new model promoted (challenger_dice 0.81, champion_dice 0.78)"


def test_the_result_may_be_a_key_of_the_record_or_a_json_line_wrapping_it():
    as_key = TrainingProgress.from_status(training_status("DONE", ptxseg_result={"promoted": False}))
    assert as_key.describe() == "Fine-tuning: done; new model not better: current model kept"
    wrapped = TrainingProgress.from_status(training_status("DONE", details=['{"ptxseg_result": {"promoted": true}}']))
    assert wrapped.result == {"promoted": True}


def test_a_failed_task_shows_its_last_log_line():
    progress = TrainingProgress.from_status(training_status("ERROR", details=["Traceback", "RuntimeError: CUDA OOM"]))
    assert progress.describe() == "Fine-tuning: error: RuntimeError: CUDA OOM"


def test_unknown_states_and_broken_result_json_degrade_gracefully():
    progress = TrainingProgress.from_status(
        {"status": "PAUSED", "details": ["ptxseg_result: {broken", "Epoch: 0/0"], "request": None}
    )
    assert (progress.state, progress.result, progress.epoch, progress.fraction) == ("unknown", None, 0, None)
    assert not progress.running and not progress.finished
