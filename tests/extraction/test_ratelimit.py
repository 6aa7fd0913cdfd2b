"""The rate limiter: requests and input tokens per minute as the API counts them, shared by threads, waiting
instead of failing, and adapting to the `anthropic-ratelimit-*` headers of each response."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kpi_pipeline.extraction.ratelimit import (
    RETRY_AFTER_CAP_S,
    LimitReading,
    RateLimiter,
    cache_reads_count,
    capped_wait_s,
    counted_input_tokens,
    parse_ratelimit_headers,
    pause_s,
    retry_after_s,
)

NOW = datetime(2026, 12, 1, 14, 0, 0, tzinfo=UTC)


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


# -- what the API counts --------------------------------------------------------------------------------------


def test_current_models_count_uncached_input_and_cache_writes_but_not_cache_reads() -> None:
    assert counted_input_tokens("claude-sonnet-5-5", uncached=300, cache_write=2000, cache_read=0) == 2300
    assert counted_input_tokens("claude-sonnet-5-5", uncached=300, cache_write=0, cache_read=2000) == 300


def test_the_families_the_api_marks_count_cache_reads_too_snapshots_included() -> None:
    assert cache_reads_count("claude-3-5-haiku-20241022")
    assert not cache_reads_count("claude-haiku-5-5")
    assert counted_input_tokens("claude-3-5-haiku-20241022", uncached=300, cache_write=0, cache_read=2000) == 2300


def test_a_reservation_is_settled_with_what_the_call_counted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, 6000, clock=clock, sleep=clock.sleep)
    limiter.acquire(6000)  # reserved as if the whole prefix were written
    limiter.settle(6000, 1500)  # the prefix was read from the cache: 4500 come back
    assert limiter.acquire(4500) == 0.0
    assert limiter.acquire(600) == pytest.approx(6.0)


def test_a_call_that_counted_more_than_reserved_takes_the_difference() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, 6000, clock=clock, sleep=clock.sleep)
    limiter.acquire(1000)
    limiter.settle(1000, 6000)
    assert limiter.acquire(100) == pytest.approx(1.0)


# -- the response headers -------------------------------------------------------------------------------------


def test_rate_limit_headers_are_read_by_limit_with_the_reset_in_seconds() -> None:
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-12-01T14:00:12Z",
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "29000",
        "anthropic-ratelimit-input-tokens-reset": "2026-12-01T14:00:02+00:00",
        "anthropic-ratelimit-output-tokens-remaining": "8000",
        "request-id": "req_1",
    }
    readings = parse_ratelimit_headers(headers, NOW)
    assert readings == {
        "requests": LimitReading(50, 0, 12.0),
        "input-tokens": LimitReading(30000, 29000, 2.0),
        "output-tokens": LimitReading(None, 8000, None),
    }
    assert readings["requests"].exhausted and not readings["input-tokens"].exhausted


def test_unreadable_rate_limit_headers_are_left_out_not_guessed() -> None:
    headers = {"anthropic-ratelimit-requests-remaining": "lots", "anthropic-ratelimit-requests-reset": "soon"}
    assert parse_ratelimit_headers(headers, NOW) == {}


def test_an_exhausted_limit_pauses_until_its_reset_and_the_latest_reset_wins() -> None:
    readings = {
        "requests": LimitReading(50, 0, 12.0),
        "output-tokens": LimitReading(8000, 0, 20.0),
        "input-tokens": LimitReading(30000, 100, 50.0),  # not exhausted: its reset does not matter
    }
    assert pause_s(readings) == 20.0
    assert pause_s({"requests": LimitReading(50, 3, 12.0)}) == 0.0


def test_a_reset_far_away_pauses_at_most_the_cap() -> None:
    assert pause_s({"requests": LimitReading(50, 0, 3600.0)}) == RETRY_AFTER_CAP_S


def test_every_caller_waits_out_the_pause_an_exhausted_limit_sets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, None, clock=clock, sleep=clock.sleep)
    assert limiter.observe({"requests": LimitReading(50, 0, 12.0)}) == 12.0
    assert limiter.acquire(0) == pytest.approx(12.0)
    assert limiter.acquire(0) == 0.0  # the reset has passed


def test_what_the_server_says_is_left_bounds_the_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, 6000, clock=clock, sleep=clock.sleep)
    limiter.observe({"requests": LimitReading(60, 1, 30.0), "input-tokens": LimitReading(6000, 6000, 0.0)})
    assert limiter.acquire(0) == 0.0
    assert limiter.acquire(0) == pytest.approx(1.0)  # other clients of the key spent the rest


# -- retry-after ----------------------------------------------------------------------------------------------


def test_retry_after_in_milliseconds_seconds_or_as_an_http_date() -> None:
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_s({"retry-after": "7"}) == 7.0
    http_date = (NOW + timedelta(seconds=40)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_s({"retry-after": http_date}, NOW) == 40.0
    assert retry_after_s({"retry-after": "whenever"}) is None
    assert retry_after_s({}) is None


def test_a_server_imposed_wait_is_capped_and_never_negative() -> None:
    assert capped_wait_s(3600.0) == RETRY_AFTER_CAP_S
    assert capped_wait_s(3600.0, cap_s=5.0) == 5.0
    assert capped_wait_s(-3.0) == 0.0
    assert capped_wait_s(2.5) == 2.5
