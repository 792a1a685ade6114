"""Fine-tuning is tracked through failed polls: back-off, a truthful panel, Start enabled while unknown."""

from PneumothoraxAnnotatorLib import AnnotationSession, ServerInfo, TrainingProgress
from PneumothoraxAnnotatorLib.training import PollBackoff


def test_one_failed_poll_does_not_end_tracking_and_backs_off():
    backoff = PollBackoff(interval_s=2, max_interval_s=60)
    delays = [backoff.failed() for _ in range(7)]
    assert delays == [4, 8, 16, 32, 60, 60, 60]
    assert backoff.succeeded() == 2 and backoff.failures == 0


def test_the_panel_says_contact_is_lost_not_running():
    session = AnnotationSession()
    session.connect("http://server", ServerInfo(model_version="1", labelled_images=3))
    session.update_training(TrainingProgress("running", epoch=1, max_epochs=3))
    assert not session.can_start_training
    session.update_training(TrainingProgress.unreachable(session.training, "no answer within 30 s", 4))
    assert not session.training.running and not session.training.finished
    assert session.can_start_training, "a server that stopped training must not leave Start disabled for good"
    text = session.training.describe()
    assert "no answer from the server" in text and "last seen running, epoch 1/3" in text and "retrying in 4 s" in text
