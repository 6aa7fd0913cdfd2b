"""A client-side limiter for requests and input tokens per minute, shared by every calling thread.

Each call reserves its request and tokens from two token buckets at once and then sleeps for as long as
the more indebted bucket needs to refill. Reserving before sleeping makes waiting threads queue in
arrival order instead of racing for the refill.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class _Bucket:
    """Holds up to `per_minute` units and refills continuously; the level may go negative (debt)."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.capacity = float(per_minute)
        self.rate_per_s = per_minute / 60.0
        self.level = self.capacity
        self.updated = now

    def reserve(self, amount: float, now: float) -> float:
        """Take `amount` and return the seconds until the bucket is out of debt again."""
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate_per_s)
        self.updated = now
        self.level -= min(amount, self.capacity)  # one call larger than a minute's budget waits a full minute
        return max(0.0, -self.level / self.rate_per_s)


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

    def acquire(self, input_tokens: int) -> float:
        """Block until one request of `input_tokens` fits both limits; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            wait = max(
                self._requests.reserve(1, now) if self._requests else 0.0,
                self._tokens.reserve(input_tokens, now) if self._tokens else 0.0,
            )
        if wait > 0:
            self._sleep(wait)
        return wait
