"""``ptxseg monitor --app DIR --out DIR``: a Markdown report with its plots."""

from ptxseg.cli.main import main
from ptxseg.serving.monitoring.report import PLOT_NAMES, REPORT_NAME
from tests.support.monitoring_phantoms import write_monitored_app


def test_monitor_writes_a_report_with_plots(tmp_path, capsys):
    write_monitored_app(tmp_path / "app")
    assert main(["monitor", "--app", str(tmp_path / "app"), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / REPORT_NAME).read_text()
    assert "**Alert: drift**" in report and "PORTABLE-2" in report and "challenger worse" in report
    for name in PLOT_NAMES.values():
        assert (tmp_path / "report" / name).stat().st_size > 1000 and f"]({name})" in report


def test_monitor_without_records_says_which_folder_to_pass(tmp_path, capsys):
    assert main(["monitor", "--app", str(tmp_path), "--out", str(tmp_path / "report")]) == 2
    assert "has no monitoring/ folder" in capsys.readouterr().err
