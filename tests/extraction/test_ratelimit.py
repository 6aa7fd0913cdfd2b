"""The rate limiter: requests and input tokens per minute, shared by threads, waiting instead of failing."""

from __future__ import annotations

import threading

import pytest

from kpi_pipeline.extraction.ratelimit import RateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_beyond_the_minute_budget_wait_for_the_refill() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, None, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire(0) for _ in range(60)] == [0.0] * 60
    assert limiter.acquire(0) == pytest.approx(1.0)  # 60 a minute refill one a second


def test_input_tokens_beyond_the_minute_budget_wait_in_proportion() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, 6000, clock=clock, sleep=clock.sleep)
    assert limiter.acquire(4000) == 0.0
    assert limiter.acquire(4000) == pytest.approx(20.0)  # 2000 tokens short at 100 tokens a second


def test_the_budget_refills_with_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, 6000, clock=clock, sleep=clock.sleep)
    limiter.acquire(6000)
    clock.now += 60
    assert limiter.acquire(6000) == 0.0


def test_one_request_larger_than_a_minute_of_tokens_waits_at_most_a_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, 1000, clock=clock, sleep=clock.sleep)
    limiter.acquire(10)
    assert limiter.acquire(50_000) <= 60.0


def test_the_tighter_limit_decides_the_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(600, 600, clock=clock, sleep=clock.sleep)
    limiter.acquire(600)
    assert limiter.acquire(300) == pytest.approx(30.0)  # tokens, not requests, are short


def test_disabled_limits_never_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0, None, clock=clock, sleep=clock.sleep)
    assert sum(limiter.acquire(10**9) for _ in range(100)) == 0.0
    assert clock.sleeps == []


def test_threads_share_one_budget_and_queue_in_turn() -> None:
    clock = FakeClock()  # frozen: every thread asks at the same instant
    lock = threading.Lock()
    waits: list[float] = []
    limiter = RateLimiter(100, None, clock=clock, sleep=lambda s: None)

    def worker() -> None:
        for _ in range(25):
            wait = limiter.acquire(1)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(waits) == 200
    assert waits.count(0.0) == 100  # exactly one minute's budget goes through at once
    assert max(waits) == pytest.approx(60.0)  # the 200th waits a full minute for 100 refills
    assert len({round(w, 6) for w in waits if w}) == 100  # each waiter got its own slot
