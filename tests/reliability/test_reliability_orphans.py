"""No orphaned server: however ``ptxseg serve`` ends, the server and its training children end with it.

Before the supervisor, a SIGKILL of ``ptxseg serve`` left the MONAI Label server answering ``/info/`` as an orphan of
init, and a restart met a busy port with uvicorn's bare bind error. The first tests drive the supervisor with
``sleep`` processes (a second each); the last two run the real server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import psutil
import pytest
import requests

from ptxseg.serving.ports import check_port_free
from tests.support.server_harness import TEST_CONF, make_test_studies, running_server
from tests.support.waiting import wait_for

# A stand-in for `ptxseg serve`: starts the supervisor over a shell whose children outlive it in a session of their
# own (as torchrun workers do), prints the supervisor's pid, then waits.
WRAPPER = textwrap.dedent(
    """
    import signal, subprocess, sys
    from ptxseg.serving.supervisor import die_with_parent, supervised
    tree = "setsid sleep 600 & sleep 600 & wait"
    process = subprocess.Popen(supervised(["bash", "-c", tree]), start_new_session=True,
                               preexec_fn=die_with_parent(signal.SIGTERM))
    print(process.pid, flush=True)
    process.wait()
    """
)


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _all_gone(processes: list[psutil.Process]) -> bool:
    return not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _start_wrapper() -> tuple[subprocess.Popen, psutil.Process, list[psutil.Process]]:
    wrapper = subprocess.Popen([sys.executable, "-c", WRAPPER], stdout=subprocess.PIPE, text=True)
    supervisor = psutil.Process(int(wrapper.stdout.readline()))
    # bash, its two sleeps (one in its own session) and the supervisor itself
    tree = wait_for(
        lambda: len(_descendants(supervisor.pid)) >= 3 and _descendants(supervisor.pid), 20, "no tree", poll_s=0.1
    )
    return wrapper, supervisor, [supervisor, *tree]


def test_a_sigkilled_wrapper_takes_the_whole_tree_with_it():
    wrapper, _, tree = _start_wrapper()
    wrapper.kill()
    wrapper.wait()
    wait_for(
        lambda: _all_gone(tree), 10, f"processes {[p.pid for p in tree]} outlived their SIGKILLed wrapper", poll_s=0.1
    )


def test_a_server_that_dies_alone_does_not_leave_its_children_behind():
    wrapper, supervisor, tree = _start_wrapper()
    bash = next(p for p in _descendants(supervisor.pid) if p.name() == "bash")
    bash.kill()  # the OOM killer chose the server
    wait_for(lambda: _all_gone(tree), 10, "the server's children outlived it", poll_s=0.1)
    assert wrapper.wait(10) == 0


def test_a_sigkilled_supervisor_still_takes_the_server():
    wrapper, supervisor, tree = _start_wrapper()
    bash = next(p for p in _descendants(supervisor.pid) if p.name() == "bash")
    supervisor.kill()
    wait_for(
        lambda: not bash.is_running() or bash.status() == psutil.STATUS_ZOMBIE, 10, "the server outlived", poll_s=0.1
    )
    wrapper.kill()
    for process in tree:  # the sleeps are orphans now (a double fault): clean up after the test
        if process.is_running():
            process.kill()


def test_a_busy_port_is_refused_naming_its_holder():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ValueError, match=rf"port {port} on 127.0.0.1 is in use by pid {os.getpid()} \(.*python"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)


@pytest.mark.server
@pytest.mark.slow
def test_sigkill_of_ptxseg_serve_stops_server_and_trainer_and_frees_the_port(tmp_path):
    studies = make_test_studies(tmp_path / "studies", n_phantoms=6)
    with running_server(studies, tmp_path / "model", {"epochs": "50"}) as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert server.post("/train/pneumothorax", json={}).status_code == 200

        def trainer_running():
            tree = _descendants(server.process.pid)
            return any("monailabel.interfaces.utils.app" in " ".join(p.cmdline()) for p in tree) and tree

        tree = wait_for(trainer_running, 60, "no training subprocess started", poll_s=0.1)
        busy = subprocess.run(
            [sys.executable, "-m", "ptxseg", "serve", "--studies", str(studies), "--port", str(port)]
            + [arg for key, value in TEST_CONF.items() for arg in ("--conf", key, value)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert busy.returncode == 2, busy.stderr[-2000:]
        assert f"port {port} on 127.0.0.1 is in use by pid " in busy.stderr
        assert "monailabel.main start_server" in busy.stderr

        server.process.kill()  # ptxseg serve itself, as kill -9 or the OOM killer would
        server.process.wait()
        wait_for(
            lambda: _all_gone(tree), 20, f"server processes {[p.pid for p in tree]} outlived ptxseg serve", poll_s=0.1
        )
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/info/", timeout=5)
        check_port_free("127.0.0.1", port)
