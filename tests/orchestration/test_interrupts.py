"""Ctrl-C reaches the backfill even when the handler that got it dropped it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from kpi_pipeline.orchestration.interrupts import watch_interrupts


@pytest.fixture
def swallowing_handler() -> Iterator[list[float]]:
    """A SIGINT handler that records and drops each delivery, as Python does with an exception raised in a
    garbage-collector callback."""
    deliveries: list[float] = []

    def swallow(_signo: int, _frame: FrameType | None) -> None:
        deliveries.append(time.monotonic())

    previous = signal.signal(signal.SIGINT, swallow)
    yield deliveries
    signal.signal(signal.SIGINT, previous)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_dropped_ctrl_c_is_recorded_and_delivered_again_until_execution_stops(
    swallowing_handler: list[float],
) -> None:
    with watch_interrupts() as watch:
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: len(swallowing_handler) >= 3)
        assert watch.requested.is_set()
        assert len(swallowing_handler) >= 3  # the signal itself, then re-deliveries
        watch.stop_redelivery()
        time.sleep(0.1)  # a re-delivery already under way may still land
        settled = len(swallowing_handler)
        time.sleep(2.5)
        assert len(swallowing_handler) == settled


def test_without_a_signal_nothing_is_requested_or_delivered(swallowing_handler: list[float]) -> None:
    with watch_interrupts() as watch:
        time.sleep(1.5)
    assert not watch.requested.is_set()
    assert swallowing_handler == []


def test_the_wakeup_descriptor_is_restored_afterwards() -> None:
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    with watch_interrupts():
        pass
    assert signal.set_wakeup_fd(before) == before
