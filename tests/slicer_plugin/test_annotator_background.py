"""Network calls run off the GUI thread and can be cancelled; their results come back where the GUI asks."""

import threading
import time

import pytest
from PneumothoraxAnnotatorLib import PtxsegClient, ServerTimeout
from PneumothoraxAnnotatorLib.background import BackgroundCall, Cancelled


def test_a_slow_server_call_does_not_block_the_caller(stub_server):
    stub_server.answer("GET", "/info/", {"name": "ptxseg"}, delay_s=1.0)
    started = time.monotonic()
    call = BackgroundCall(PtxsegClient(stub_server.url).info)
    assert time.monotonic() - started < 0.2 and not call.done, "the GUI thread must stay free"
    assert call.wait(10)
    assert call.result() == {"name": "ptxseg"}


def test_errors_are_raised_where_the_result_is_asked_for(stub_server):
    stub_server.answer("GET", "/info/", {}, delay_s=1.0)
    call = BackgroundCall(PtxsegClient(stub_server.url, timeout=0.2).info)
    assert call.wait(10)
    with pytest.raises(ServerTimeout):
        call.result()


def test_cancel_abandons_the_call_at_once():
    release = threading.Event()
    call = BackgroundCall(release.wait, 30)
    call.cancel()
    assert call.done
    with pytest.raises(Cancelled):
        call.result()
    release.set()


def test_a_result_is_not_ready_before_the_call_ends():
    release = threading.Event()
    call = BackgroundCall(release.wait, 30)
    with pytest.raises(RuntimeError, match="still running"):
        call.result()
    release.set()
    assert call.wait(5) and call.result() is True
