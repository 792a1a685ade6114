"""Nothing ptxseg runs sends usage telemetry: OpenVINO (on every import) and NNCF (on every quantisation) would, from
forked processes, without asking. Run outside pytest, whose presence alone switches NNCF's telemetry off."""

import os
import subprocess
import sys

PROBE = """
import os, sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

forks = []
os.register_at_fork(before=lambda: forks.append(1))
weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 1, 3, 3)).astype(np.float32), "weight")
graph = helper.make_graph(
    [helper.make_node("Conv", ["image", "weight"], ["logits"], pads=[1, 1, 1, 1])],
    "one-conv",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 16, 16])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4, 16, 16])],
    [weight],
)
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1] + "/one-conv.onnx")

from ptxseg.inference.int8 import quantize_int8
from ptxseg.inference.runtimes import OpenVINOBackend

inputs = [np.random.default_rng(seed).normal(size=(1, 1, 16, 16)).astype(np.float32) for seed in range(4)]
int8 = OpenVINOBackend(quantize_int8(sys.argv[1] + "/one-conv.onnx", inputs, sys.argv[1] + "/int8"), int8=True)
print(int8(inputs[0]).shape, "forks:", len(forks))
"""


def test_openvino_and_nncf_send_no_telemetry(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("NNCF_") and key != "CI"}
    environment["HOME"] = str(tmp_path / "home")  # where a client id would be written (~/intel)
    (tmp_path / "home").mkdir()
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, timeout=300, env=environment
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == "(1, 4, 16, 16) forks: 0"
    assert not (tmp_path / "home" / "intel").exists()
