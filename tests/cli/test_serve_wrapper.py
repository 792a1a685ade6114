"""``ptxseg serve`` lives as long as the server, so it must stay small: its heavy steps run in short-lived children."""

import os
import subprocess
import sys

# ptxseg serve up to the point where it would start the server (the server itself is replaced by a stand-in).
PROBE = """
import sys
import types
import ptxseg.cli.serve as serve
from ptxseg.cli.main import build_parser

class NoServer:
    def __init__(self, *args, **kwargs):
        pass

    def wait(self):
        return 0

serve.subprocess = types.SimpleNamespace(Popen=NoServer)  # only serve's: the children use the real one
serve.signal.signal = lambda *args: None
assert serve.run(build_parser().parse_args(["serve", "--port", sys.argv[1]])) == 0
print(sorted(name for name in ("numpy", "scipy", "SimpleITK", "pydicom", "torch", "monai") if name in sys.modules))
"""


def test_serving_the_demo_leaves_no_heavy_library_in_the_long_lived_process(tmp_path):
    environment = {**os.environ, "PTXSEG_DATA_DIR": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, "8799"], capture_output=True, text=True, timeout=300, env=environment
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    assert lines[0] == f"demo studies (synthetic chest X-rays): {tmp_path / 'demo-studies'}"  # printed once
    assert sum(line.startswith("demo studies") for line in lines) == 1
    assert any((tmp_path / "demo-studies").iterdir())  # the child made them
    assert lines[-1] == "[]"
