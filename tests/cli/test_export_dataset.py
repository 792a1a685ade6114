"""``ptxseg export-dataset``: the de-identified export trains with ``ptxseg train --data siim:...`` unchanged."""

import pydicom
import pytest

from ptxseg.cli.main import main
from ptxseg.datasets.siim_studies import convert_siim

TINY = ["--image-size", "64", "--batch-size", "4", "--encoder", "efficientnet-b0", "--no-augment"]


@pytest.mark.slow
def test_export_then_train_on_it(siim_sample, tmp_path, capsys):
    studies, out, key = tmp_path / "studies", tmp_path / "export", tmp_path / "key.csv"
    convert_siim(siim_sample / "dicom", siim_sample / "train-rle.csv", studies)
    command = ["export-dataset", "--studies", str(studies), "--out", str(out), "--deidentify", "--key-file", str(key)]
    assert main([*command, "--assume-no-burned-in"]) == 0  # the SIIM sample has no Burned In Annotation
    assert "exported 7 de-identified images" in capsys.readouterr().out and key.is_file()
    spec = f"siim:{out / 'dicom'},{out / 'train-rle.csv'}"
    run = ["train", "--data", spec, "--out", str(tmp_path / "run"), "--epochs", "1", "--max-steps-per-epoch", "2"]
    assert main([*run, "--val-fraction", "0.3", *TINY]) == 0
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_export_without_deidentify_or_from_an_unreachable_pacs_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PTXSEG_DICOMWEB_URL", "")  # the command exports the PACS settings to its environment
    assert main(["export-dataset", "--studies", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "pass --deidentify" in capsys.readouterr().err
    assert (
        main(["export-dataset", "--dicomweb", "http://127.0.0.1:1", "--out", str(tmp_path / "o"), "--deidentify"]) == 2
    )
    assert "cannot use the PACS" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_images_that_may_hold_burned_in_text_are_refused_and_counted_with_their_reason(siim_sample, tmp_path, capsys):
    studies = tmp_path / "studies"
    first, *_ = convert_siim(siim_sample / "dicom", siim_sample / "train-rle.csv", studies).converted
    command = ["export-dataset", "--studies", str(studies), "--deidentify"]
    assert main([*command, "--out", str(tmp_path / "refused")]) == 2
    assert "--assume-no-burned-in" in capsys.readouterr().err
    assert not list((tmp_path / "refused" / "dicom").iterdir())
    burned_in = pydicom.dcmread(studies / f"{first}.dcm")
    burned_in.BurnedInAnnotation = "YES"
    burned_in.save_as(studies / f"{first}.dcm")
    assert main([*command, "--out", str(tmp_path / "export"), "--assume-no-burned-in"]) == 0
    printed = capsys.readouterr().out
    assert "exported 6 de-identified images" in printed and "skipped 1" in printed
    assert f"1 skipped: Burned In Annotation is YES: text is burned into the pixels\n  {first}\n" in printed
    assert len(list((tmp_path / "export" / "dicom").iterdir())) == 6
