"""The collector pause around evaluation cycles (warden/core/gcpause.py): paused inside,
resumed when the last of overlapping holders ends, never turned on if it was off."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from warden.core import gcpause


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_inside_and_resumed_after() -> None:
    gc.enable()
    with gcpause.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_resumes_even_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gcpause.paused():
        raise RuntimeError("a failed cycle")
    assert gc.isenabled()


def test_overlapping_holders_in_two_threads_resume_it_only_when_the_last_ends() -> None:
    gc.enable()
    inside, release = threading.Event(), threading.Event()

    def other_cycle() -> None:
        with gcpause.paused():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other_cycle)
    with gcpause.paused():
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other cycle still runs
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_collector_the_process_turned_off_stays_off() -> None:
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()
