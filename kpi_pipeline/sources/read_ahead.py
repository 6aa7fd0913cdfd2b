"""Read the next day while the warehouse writes this one.

Parsing a day of a source is Python (it holds the GIL); writing it is the engine's work (DuckDB's C++ or the
PostgreSQL server, with the GIL released). Reading one day ahead in a thread lets the two overlap on a
machine's second core. Days still come out in order, and a day that fails to read raises its error where
the plain loop would have: after every earlier day was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import TypeVar

T = TypeVar("T")


def read_ahead(read: Callable[[date], T], days: Sequence[date]) -> Iterator[tuple[date, T]]:
    """(day, read(day)) for each day in order, reading day i+1 in a worker thread while the caller uses day i.

    `read` is called from the one worker thread only, one day at a time, so it needs no locking of its own."""
    if not days:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        pending: Future[T] = pool.submit(read, days[0])
        try:
            for i, day in enumerate(days):
                value = pending.result()
                if i + 1 < len(days):
                    pending = pool.submit(read, days[i + 1])
                yield day, value
        finally:
            pending.cancel()
