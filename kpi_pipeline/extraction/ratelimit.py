"""A client-side limiter for requests and input tokens per minute, shared by every calling thread, counting
what the API counts and adapting to what its `anthropic-ratelimit-*` response headers report.

Each call reserves its request and tokens from two token buckets at once and then sleeps for as long as
the more indebted bucket needs to refill. Reserving before sleeping makes waiting threads queue in
arrival order instead of racing for the refill. The input-token bucket counts uncached input and cache
writes; cache reads count only for the model families in `CACHE_READS_COUNT_FAMILIES` (the API's rule).
After each response the reservation is settled with what the response billed, and the headers correct the
buckets: the server knows what other clients of the same key spent, and an exhausted limit pauses every
caller until its reset. Every wait taken from a server (`retry-after`, a reset time) is capped by
`capped_wait_s`, the one place for that cap.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# The API counts cache reads toward the input-tokens-per-minute limit only for these (older) model families;
# for every other model only uncached input and cache writes count. A model matches its family's name as a
# prefix (claude-3-5-haiku-20241022). Data, not code paths: add a family here when the API's table marks it.
CACHE_READS_COUNT_FAMILIES: tuple[str, ...] = ("claude-3-haiku", "claude-3-5-haiku")

# The longest wait a server may impose on one call: the SDK honours `retry-after` without a cap.
RETRY_AFTER_CAP_S = 30.0

HEADER_PREFIX = "anthropic-ratelimit-"
LIMIT_NAMES = ("requests", "input-tokens", "output-tokens", "tokens")


def cache_reads_count(model: str) -> bool:
    """Whether the API counts `model`'s cache reads against its input-tokens-per-minute limit."""
    return model.startswith(CACHE_READS_COUNT_FAMILIES)


def counted_input_tokens(model: str, *, uncached: int, cache_write: int, cache_read: int) -> int:
    """The input tokens a call spends of the per-minute limit, as the API counts them."""
    return uncached + cache_write + (cache_read if cache_reads_count(model) else 0)


def capped_wait_s(seconds: float, cap_s: float = RETRY_AFTER_CAP_S) -> float:
    """A server-imposed wait, never negative and never longer than `cap_s`."""
    return min(max(0.0, seconds), cap_s)


def _seconds_until(value: str, now: datetime) -> float | None:
    """An RFC 3339 time (`2026-12-01T14:00:05Z`) or an HTTP date, as seconds from `now`; None if unreadable."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """`retry-after-ms`, or `retry-after` in seconds or as an HTTP date; None when absent or unreadable."""
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return _seconds_until(value, now or datetime.now(UTC))
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class LimitReading:
    """One limit as a response reported it: how much is left and in how many seconds it is replenished."""

    limit: int | None
    remaining: int | None
    reset_in_s: float | None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_ratelimit_headers(headers: Mapping[str, str], now: datetime) -> dict[str, LimitReading]:
    """The `anthropic-ratelimit-<name>-limit|remaining|reset` headers a response carried, by limit name
    (`requests`, `input-tokens`, `output-tokens`, `tokens`); unreadable values are left out, not guessed."""
    readings = {}
    for name in LIMIT_NAMES:
        limit = _int(headers.get(f"{HEADER_PREFIX}{name}-limit"))
        remaining = _int(headers.get(f"{HEADER_PREFIX}{name}-remaining"))
        reset = headers.get(f"{HEADER_PREFIX}{name}-reset")
        reset_in_s = _seconds_until(reset, now) if reset is not None else None
        if limit is not None or remaining is not None or reset_in_s is not None:
            readings[name] = LimitReading(limit, remaining, reset_in_s)
    return readings


def pause_s(readings: Mapping[str, LimitReading], cap_s: float = RETRY_AFTER_CAP_S) -> float:
    """How long to hold every call back: until the latest reset of an exhausted limit, capped."""
    waits = [r.reset_in_s for r in readings.values() if r.exhausted and r.reset_in_s is not None]
    return capped_wait_s(max(waits), cap_s) if waits else 0.0


class _Bucket:
    """Holds up to `per_minute` units and refills continuously; the level may go negative (debt)."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.capacity = float(per_minute)
        self.rate_per_s = per_minute / 60.0
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate_per_s)
        self.updated = now

    def reserve(self, amount: float, now: float) -> float:
        """Take `amount` and return the seconds until the bucket is out of debt again."""
        self.refill(now)
        self.level -= min(amount, self.capacity)  # one call larger than a minute's budget waits a full minute
        return max(0.0, -self.level / self.rate_per_s)

    def give_back(self, amount: float, now: float) -> None:
        """Return an over-reservation (or take more, when `amount` is negative)."""
        self.refill(now)
        self.level = min(self.capacity, self.level + amount)

    def at_most(self, remaining: float, now: float) -> None:
        """What the server says is left bounds what this client thinks is left."""
        self.refill(now)
        self.level = min(self.level, remaining)


class RateLimiter:
    """`requests_per_minute` and `input_tokens_per_minute`; 0 or None disables that limit."""

    def __init__(
        self,
        requests_per_minute: int | None,
        input_tokens_per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._requests = _Bucket(requests_per_minute, now) if requests_per_minute else None
        self._tokens = _Bucket(input_tokens_per_minute, now) if input_tokens_per_minute else None
        self._paused_until = now

    def acquire(self, input_tokens: int) -> float:
        """Block until one request of `input_tokens` (as `counted_input_tokens` counts them) fits both limits
        and no exhausted limit is pausing calls; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            wait = max(
                self._paused_until - now,
                self._requests.reserve(1, now) if self._requests else 0.0,
                self._tokens.reserve(input_tokens, now) if self._tokens else 0.0,
            )
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def settle(self, reserved_tokens: int, counted_tokens: int) -> None:
        """Correct a reservation by what the response says the call counted."""
        if self._tokens is None or reserved_tokens == counted_tokens:
            return
        with self._lock:
            self._tokens.give_back(reserved_tokens - counted_tokens, self._clock())

    def observe(self, readings: Mapping[str, LimitReading], cap_s: float = RETRY_AFTER_CAP_S) -> float:
        """Adapt to a response's rate-limit headers: what is left bounds the buckets, and an exhausted limit
        pauses every caller until its reset (capped). Returns the pause in seconds."""
        with self._lock:
            now = self._clock()
            requests, tokens = readings.get("requests"), readings.get("input-tokens")
            if self._requests and requests and requests.remaining is not None:
                self._requests.at_most(requests.remaining, now)
            if self._tokens and tokens and tokens.remaining is not None:
                self._tokens.at_most(tokens.remaining, now)
            pause = pause_s(readings, cap_s)
            self._paused_until = max(self._paused_until, now + pause)
        return pause
