"""The annotation session's rules: which action is allowed when, and what each event resets."""

import pytest
from PneumothoraxAnnotatorLib import AnnotationSession, Prediction, ServerInfo, TrainingProgress, WorklistRow

URL = "http://127.0.0.1:8000"
ACTIONS = ("can_next", "can_predict", "can_submit", "can_start_training", "can_stop_training")


def allowed(session):
    return {action for action in ACTIONS if getattr(session, action)}


def connected_session(labelled_images=0):
    session = AnnotationSession()
    session.connect(URL, ServerInfo(model_version="1", labelled_images=labelled_images))
    return session


def test_nothing_is_allowed_before_connecting():
    assert allowed(AnnotationSession()) == set()


def test_connected_without_an_image_only_next_is_allowed():
    assert allowed(connected_session()) == {"can_next"}


def test_fine_tuning_needs_labels_on_the_server_or_from_this_session():
    assert "can_start_training" in allowed(connected_session(labelled_images=3))
    session = connected_session()
    session.open_image("a")
    session.set_prediction(Prediction(probability=0.5))
    session.mark_submitted()
    assert "can_start_training" in allowed(session)


def test_the_annotation_cycle_enables_and_disables_submit():
    session = connected_session()
    session.open_image("a")
    assert allowed(session) == {"can_next", "can_predict"}
    session.set_prediction(Prediction(probability=0.7, flagged=True))
    assert allowed(session) == {"can_next", "can_predict"}, "an unreviewed prediction is not a label"
    assert not session.has_unsubmitted_edits, "an untouched prediction is nothing to lose"
    session.mark_edited()
    assert session.has_unsubmitted_edits
    session.mark_submitted()
    assert "can_submit" not in allowed(session) and not session.has_unsubmitted_edits
    session.mark_edited()
    assert "can_submit" in allowed(session), "editing after submitting needs a new submit"


def test_drawing_without_a_prediction_can_be_submitted():
    session = connected_session()
    session.open_image("a")
    session.mark_edited()
    assert session.can_submit


def test_a_new_prediction_replaces_edits():
    session = connected_session()
    session.open_image("a")
    session.mark_edited()
    session.set_prediction(Prediction(probability=0.1))
    assert not session.edited and not session.has_unsubmitted_edits


def test_opening_an_image_resets_prediction_and_flags_but_keeps_the_count():
    session = connected_session()
    session.open_image("a")
    session.set_prediction(Prediction(probability=0.3))
    session.mark_submitted()
    session.open_image("b")
    assert (session.image_id, session.prediction, session.edited, session.submitted) == ("b", None, False, False)
    assert session.submitted_count == 1


def test_edits_without_an_image_are_ignored_and_submits_refused():
    session = connected_session()
    session.mark_edited()
    assert not session.edited
    with pytest.raises(ValueError, match="Next image"):
        session.mark_submitted()
    with pytest.raises(ValueError, match="Next image"):
        session.set_prediction(Prediction())


def test_training_switches_start_and_stop():
    session = connected_session(labelled_images=5)
    session.update_training(TrainingProgress(state="running"))
    assert {"can_start_training", "can_stop_training"} & allowed(session) == {"can_stop_training"}
    session.update_training(TrainingProgress(state="done"))
    assert {"can_start_training", "can_stop_training"} & allowed(session) == {"can_start_training"}


def test_disconnecting_disables_server_actions_but_keeps_the_image():
    session = connected_session()
    session.open_image("a")
    session.mark_edited()
    session.disconnect()
    assert allowed(session) == set()
    assert session.image_id == "a" and session.has_unsubmitted_edits


def test_connecting_to_another_server_closes_the_image_and_clears_server_state():
    session = connected_session()
    session.open_image("a")
    session.set_worklist([WorklistRow("a", 0.5, False, None, "1", False, False)])
    session.update_training(TrainingProgress(state="running"))
    session.connect(URL, ServerInfo(model_version="2"))
    assert session.image_id == "a" and session.worklist, "same server: keep going"
    session.connect("http://10.0.0.2:8000", ServerInfo(model_version="2"))
    assert (session.image_id, session.worklist, session.training.state) == (None, [], "idle")


def test_status_text_follows_the_cycle():
    session = connected_session()
    assert session.status_text() == "Connected. Press Next image (N) or double-click a worklist row."
    session.open_image("a")
    assert session.status_text() == "a: no prediction yet (P predicts)."
    session.set_prediction(Prediction(probability=0.25, side="left"))
    assert session.status_text() == "a: pneumothorax 25%, left (edit it, or accept it as is)"
    session.mark_edited()
    assert session.status_text() == "a: edited, not submitted yet (S submits)."
    session.mark_submitted()
    assert session.status_text() == "a: label submitted."


def test_open_image_needs_an_id():
    with pytest.raises(ValueError, match="worklist"):
        connected_session().open_image("")


def test_prediction_reads_the_inference_json():
    result = {
        "pneumothorax_probability": 0.87,
        "area_px": 5000.0,
        "area_cm2": 12.34,
        "side": "right",
        "flag": True,
        "model_version": 3,
        "latencies_ms": {"total": 80},
    }
    prediction = Prediction.from_result(result)
    assert prediction == Prediction(0.87, 5000, 12.34, "right", True, "3")
    assert prediction.summary() == "FLAGGED: pneumothorax 87%, right, 12.3 cm² (5000 px), model 3"


def test_prediction_tolerates_missing_and_malformed_fields():
    prediction = Prediction.from_result({"pneumothorax_probability": "high", "flag": "yes", "area_px": None})
    assert prediction == Prediction()
    assert prediction.summary() == "pneumothorax ?"


def test_submit_right_after_opening_is_refused_until_edited_or_accepted():
    session = connected_session()
    session.open_image("a")
    session.set_prediction(Prediction(probability=0.9))
    assert not session.can_submit, "S on an unreviewed prediction would fine-tune the model on its own output"
    assert session.can_accept_prediction
    session.accept_prediction()
    assert session.can_submit
    assert session.submission_info("Dr. A") == {
        "client_id": "PneumothoraxAnnotator",
        "annotator": "Dr. A",
        "accepted_as_is": True,
    }
    session.mark_edited()
    assert session.submission_info("Dr. A")["accepted_as_is"] is False


def test_accepting_needs_a_prediction():
    session = connected_session()
    session.open_image("a")
    with pytest.raises(ValueError, match="no prediction to accept"):
        session.accept_prediction()


def test_an_edit_after_submit_needs_submitting_again_and_asks_before_leaving():
    session = connected_session()
    session.open_image("a")
    session.mark_edited()
    session.mark_submitted()
    session.mark_edited()  # an undo after submit arrives as an edit (SegmentModified)
    assert session.has_unsubmitted_edits and session.can_submit and "label submitted" not in session.status_text()


def test_predict_over_unsubmitted_edits_asks_first():
    session = connected_session()
    session.open_image("a")
    assert not session.prediction_replaces_edits
    session.mark_edited()
    assert session.prediction_replaces_edits


def test_back_walks_through_the_opened_images_and_shows_them_as_submitted():
    session = connected_session()
    for image_id in ("a", "b", "c"):
        session.open_image(image_id)
    assert session.can_go_back and session.previous_image_id == "b"
    session.open_image("b", going_back=True)
    session.set_stored_label()
    assert session.submitted and not session.can_submit and session.previous_image_id == "a"
    session.open_image("a", going_back=True)
    assert not session.can_go_back
    session.open_image("d")
    assert session.previous_image_id == "a"
    with pytest.raises(ValueError, match="not the previous image"):
        session.open_image("c", going_back=True)


def test_the_annotator_is_named_in_the_label_info_or_unknown():
    assert AnnotationSession().submission_info("  ")["annotator"] == "unknown"
