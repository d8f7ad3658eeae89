"""Ctrl-C held between safe points (featpipe.interrupts): held, raised where allowed, never lost."""

import os
import signal
import threading
import time
from pathlib import Path

import pydantic
import pytest

from featpipe.interrupts import caused_by_interrupt, held_interrupts, interruptible


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)  # the handler runs at the next bytecode of the main thread; make sure it has


def test_ctrl_c_is_held_until_an_interruptible_region_and_raised_there():
    finished_after_ctrl_c = False
    with held_interrupts() as gate:
        _ctrl_c()
        finished_after_ctrl_c = True  # bookkeeping goes on to its end
        assert gate.received
        with pytest.raises(KeyboardInterrupt):
            with interruptible():
                pytest.fail("a held Ctrl-C must be raised on entering the region")
    assert finished_after_ctrl_c
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_inside_an_interruptible_region_stops_its_wait_at_once():
    started = time.monotonic()
    with held_interrupts() as gate:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            with interruptible():
                time.sleep(30)
        # handled: the region can be entered again, and nothing is held any more
        with interruptible():
            pass
    assert gate.received and time.monotonic() - started < 10


def test_a_second_ctrl_c_while_one_is_held_is_raised_at_once():
    with held_interrupts():
        _ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            _ctrl_c()
        with interruptible():  # the forced one took the held one with it
            pass


def test_without_a_gate_and_off_the_main_thread_ctrl_c_behaves_as_usual():
    with interruptible():  # no gate: a no-op
        pass
    with pytest.raises(KeyboardInterrupt):
        _ctrl_c()

    seen = {}

    def in_thread():
        with held_interrupts() as gate:
            seen["handler"] = signal.getsignal(signal.SIGINT)
            seen["received"] = gate.received

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == {"handler": signal.default_int_handler, "received": False}


def test_nested_gates_share_the_outer_one():
    with held_interrupts() as outer:
        with held_interrupts() as inner:
            assert inner is outer
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # still held
        _ctrl_c()
    assert outer.received and signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _Run(pydantic.BaseModel):
    out: Path

    @pydantic.field_serializer("out")
    def _interrupted_here(self, value):
        raise KeyboardInterrupt


def test_an_interrupt_wrapped_by_pydantic_is_recognized():
    with pytest.raises(Exception) as caught:
        _Run(out=Path("x")).model_dump(mode="json")
    assert not isinstance(caught.value, KeyboardInterrupt)  # what made CI see exit 1 instead of 130
    assert caused_by_interrupt(caught.value)
    assert caused_by_interrupt(KeyboardInterrupt())
    assert not caused_by_interrupt(ValueError("no"))
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("raised while handling one, not because of it")  # noqa: B904
    except ValueError as error:
        assert not caused_by_interrupt(error)
