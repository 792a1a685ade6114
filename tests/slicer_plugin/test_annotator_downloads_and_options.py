"""Downloaded studies do not pile up; fine-tuning options are checked and remembered."""

import pytest
from PneumothoraxAnnotatorLib.downloads import DownloadFolder
from PneumothoraxAnnotatorLib.training_options import TrainingOptions


def test_only_the_open_images_files_are_kept(tmp_path):
    downloads = DownloadFolder(tmp_path / "PneumothoraxAnnotator")
    first = downloads.for_image("1.2.3")
    (first / "1.2.3.dcm").write_bytes(b"patient data")
    second = downloads.for_image("../../etc/passwd")
    assert not first.exists() and second.parent == downloads.root
    (second / "x.dcm").write_bytes(b"more")
    downloads.clear()
    assert not downloads.root.exists()


def test_a_start_removes_what_a_crash_left(tmp_path):
    (tmp_path / "PneumothoraxAnnotator" / "old").mkdir(parents=True)
    DownloadFolder(tmp_path / "PneumothoraxAnnotator").clear()
    assert not (tmp_path / "PneumothoraxAnnotator").exists()


def test_options_become_the_trainers_params_and_survive_a_round_trip():
    options = TrainingOptions(epochs=5, learning_rate=3e-4, batch_size=4, val_fraction=0.2)
    assert options.to_params() == {"max_epochs": 5, "learning_rate": 3e-4, "batch_size": 4, "val_fraction": 0.2}
    assert TrainingOptions.from_json(options.to_json()) == options


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"learning_rate": 0.0}, {"batch_size": 0}, {"val_fraction": 1.0}])
def test_options_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        TrainingOptions(**bad)
