"""A source that yields nothing for days its raw table already holds has vanished; it is not an empty day.

Replacing such days would delete their raw rows and, downstream, the KPIs built on them (an export that
lost its channels, a folder emptied by a bad sync). Ingestion keeps those days as they are and fails,
unless `KPI_ALLOW_EMPTY` names the source (or is `all`): then the days really are emptied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from kpi_pipeline.sources.errors import SourceError

SOURCE_NAMES = ("slack", "jira", "docs")
ALL = "all"


def allowed_empty(setting: str | None) -> frozenset[str]:
    """The sources `KPI_ALLOW_EMPTY` lets empty days that hold rows: comma-separated names, or `all`."""
    names = {part.strip().lower() for part in (setting or "").split(",") if part.strip()}
    if ALL in names:
        return frozenset(SOURCE_NAMES)
    unknown = sorted(names - set(SOURCE_NAMES))
    if unknown:
        raise SourceError(
            f"KPI_ALLOW_EMPTY={setting!r} names no source {', '.join(map(repr, unknown))}: "
            f"use a comma-separated list of {', '.join(SOURCE_NAMES)}, or {ALL}"
        )
    return frozenset(names)


def day_spans(days: Sequence[date]) -> str:
    """`2026-07-01...2026-07-31, 2026-08-04`: consecutive days as ranges."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days):
        if spans and spans[-1][1] + timedelta(days=1) == day:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return ", ".join(first.isoformat() if first == last else f"{first}...{last}" for first, last in spans)


def refusal(source: str, location: str, table: str, days: Sequence[date]) -> SourceError:
    """The one-line error for days `source` no longer yields while `table` holds rows for them."""
    return SourceError(
        f"{source}: {location} yields nothing for {len(days)} day(s) that {table} already holds "
        f"({day_spans(days)}); those days were kept as they were. If the source is right and those days are "
        f"really empty now, re-run with KPI_ALLOW_EMPTY={source} (or `kpi-pipeline backfill --allow-empty`); "
        "otherwise point the setting back at the complete source"
    )
