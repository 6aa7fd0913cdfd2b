"""Days come out in order, the next one read while the caller works on this one, and a failing day raises
only after every earlier day was handed over."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from kpi_pipeline.sources.read_ahead import read_ahead

DAYS = [date(2026, 7, 1) + timedelta(days=i) for i in range(5)]


def test_days_come_out_in_order_with_their_values() -> None:
    assert list(read_ahead(lambda day: day.day * 10, DAYS)) == [(d, d.day * 10) for d in DAYS]
    assert list(read_ahead(lambda day: day, [])) == []


def test_the_next_day_is_read_while_the_caller_holds_this_one() -> None:
    read: list[date] = []
    second_read = threading.Event()

    def reader(day: date) -> date:
        read.append(day)
        if day == DAYS[1]:
            second_read.set()
        return day

    days = read_ahead(reader, DAYS)
    assert next(days) == (DAYS[0], DAYS[0])
    assert second_read.wait(10)  # read without the caller asking for it
    assert read == DAYS[:2]


def test_a_day_that_fails_raises_after_the_days_before_it() -> None:
    def reader(day: date) -> date:
        if day == DAYS[3]:
            raise ValueError(f"cannot read {day}")
        return day

    handed: list[date] = []
    with pytest.raises(ValueError, match="cannot read 2026-07-04"):
        for day, _ in read_ahead(reader, DAYS):
            handed.append(day)
    assert handed == DAYS[:3]


def test_the_reader_runs_in_one_thread_one_day_at_a_time() -> None:
    threads: set[int] = set()
    running = threading.Lock()

    def reader(day: date) -> date:
        assert running.acquire(blocking=False), "two reads at once"
        threads.add(threading.get_ident())
        running.release()
        return day

    assert [d for d, _ in read_ahead(reader, DAYS)] == DAYS
    assert len(threads) == 1 and threading.get_ident() not in threads
