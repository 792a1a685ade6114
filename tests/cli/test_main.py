"""The ``ptxseg`` command line itself: commands register from their modules, ``python -m ptxseg``, one-line errors."""

import subprocess
import sys

import pytest

import ptxseg.cli
from ptxseg.cli.main import build_parser, command_modules, main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["phantoms", "--out", "{tmp}", "--size", "16"], "64..4096"),
        (["phantoms", "--out", "{tmp}", "--positive-fraction", "2"], "positive_fraction"),
        (["convert-siim", "--dicom-dir", "{tmp}/absent", "--rle-csv", "x.csv", "--out", "{tmp}/o"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_error_and_writes_nothing(tmp_path, capsys, argv, message):
    status = main([argument.replace("{tmp}", str(tmp_path / "out")) for argument in argv])
    error = capsys.readouterr().err
    assert status == 2
    assert message in error and "Traceback" not in error and error.startswith(f"ptxseg {argv[0]}: error:")
    assert not (tmp_path / "out").exists()


def test_commands_register_themselves_from_cli_modules(tmp_path, monkeypatch, capsys):
    assert {"ptxseg.cli.phantoms", "ptxseg.cli.convert_siim"} <= {module.__name__ for module in command_modules()}
    (tmp_path / "hello.py").write_text(
        "def register(commands):\n"
        "    parser = commands.add_parser('hello')\n"
        "    parser.set_defaults(run=lambda args: print('hello from a new module') or 3)\n"
    )
    monkeypatch.setattr(ptxseg.cli, "__path__", [*ptxseg.cli.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "ptxseg.cli.hello", raising=False)
    try:
        assert build_parser().parse_args(["hello"]).command == "hello"
        assert main(["hello"]) == 3
        assert capsys.readouterr().out == "hello from a new module\n"
    finally:
        sys.modules.pop("ptxseg.cli.hello", None)


def test_python_dash_m_ptxseg_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "ptxseg", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "phantoms" in result.stdout and "convert-siim" in result.stdout


def test_parsing_the_command_line_imports_no_torch():
    """``ptxseg serve`` stays running beside the server for its whole life: torch would hold about 1 GB in it."""
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['ptxseg', 'serve', '--help']\n"
        "try:\n"
        "    runpy.run_module('ptxseg', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(name for name in ('torch', 'monai', 'monailabel') if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "[]"
