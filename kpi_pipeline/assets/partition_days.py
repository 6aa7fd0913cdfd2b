"""Partition keys as dates: every partitioned asset works on a list of days, one or many per run."""

from __future__ import annotations

from datetime import date, timedelta

from dagster import AssetExecutionContext


def days_of(context: AssetExecutionContext) -> list[date]:
    """The UTC days a run covers: one for a daily run, all of them for a single-run backfill."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((end - first).days)]


def span(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()}...{days[-1].isoformat()}"
