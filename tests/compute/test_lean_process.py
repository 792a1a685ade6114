"""``python -m ptxseg.compute.lean_process MODULE ARGS...``: the module runs as ``__main__`` with its arguments, and
the libraries ptxseg's processes never use are not imported, even by MONAI."""

import json
import os
import subprocess

from ptxseg.compute.lean_process import UNUSED_LIBRARIES, lean_command

PROBE = """
import json, sys
import monai
import monailabel.main
import monailabel.tasks.train.basic_train
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {names!r} and sys.modules[name] is not None)
print(json.dumps({{"argv": sys.argv[1:], "name": __name__, "loaded": loaded}}))
"""


def _run_probe(tmp_path, tracking: str) -> dict:
    (tmp_path / "lean_probe.py").write_text(PROBE.format(names=set(UNUSED_LIBRARIES)))
    environment = {**os.environ, "PYTHONPATH": str(tmp_path), "MONAI_LABEL_TRACKING_ENABLED": tracking}
    completed = subprocess.run(
        lean_command("lean_probe", "start_server", "--port", "1"),
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_monai_and_monailabel_import_without_the_unused_libraries(tmp_path):
    answer = _run_probe(tmp_path, "false")

    assert answer == {"argv": ["start_server", "--port", "1"], "name": "__main__", "loaded": []}


def test_with_mlflow_tracking_on_mlflow_is_imported_as_monai_wants(tmp_path):
    loaded = {name.split(".")[0] for name in _run_probe(tmp_path, "true")["loaded"]}

    assert "mlflow" in loaded and "triton" not in loaded
