"""Day ranges as users write them: `2026-Q3`, or `START END`."""

from __future__ import annotations

from datetime import date, timedelta

from kpi_pipeline.catalog import QUARTER, quarter_bounds


def parse_day_range(start: str, end: str | None = None) -> list[date]:
    """Every day of a quarter (`2026-Q3`) or of an inclusive `START END` range."""
    if end is None:
        if not QUARTER.match(start):
            raise ValueError(f"{start!r} is neither a quarter like 2026-Q3 nor followed by an END date")
        first, last = quarter_bounds(start)
    else:
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise ValueError(f"dates must be YYYY-MM-DD, got {start!r} {end!r}") from None
    if last < first:
        raise ValueError(f"END {last} is before START {first}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
