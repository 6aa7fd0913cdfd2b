"""What a backfill may skip and what it must report, read from the warehouse it writes (`extract.day_status`).

The Dagster instance knows which runs materialized which partitions, but not into which warehouse, nor
whether every answer was read or the gate held the day back: a warehouse that was never written (a new
PostgreSQL database behind an old instance) would look done. So the warehouse being written decides.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.tables import DAY_STATUS


def _as_day(value: Any) -> date:
    return pd.Timestamp(value).date()


def done_days(wh: Warehouse, days: Sequence[date], catalog_version: str, prompt_version: str) -> set[date]:
    """Days of `days` that are done in `wh`: every answer read (`complete`) with this catalog and prompt
    version, then published (not held) by a publish that ran after that extraction."""
    if not days:
        return set()
    rows = wh.query_df(
        f"SELECT day FROM {DAY_STATUS.qualified} WHERE day BETWEEN ? AND ? AND status = 'complete' "
        "AND catalog_version = ? AND prompt_version = ? AND publish_status = 'published' "
        "AND published_at >= extracted_at",
        [min(days), max(days), catalog_version, prompt_version],
    )
    return {_as_day(d) for d in rows["day"]} & set(days)


@dataclass(frozen=True)
class UnfinishedDay:
    """A day a run left partial, failed or held back, and why (from `extract.day_status`)."""

    day: date
    status: str
    reason: str

    def line(self) -> str:
        return f"{self.day} {self.status}: {self.reason}"


def _reason(row: pd.Series) -> tuple[str, str]:
    if row["publish_status"] == "held":
        return "held", str(row["publish_reason"] or "held back by the quality gate (no reason recorded)")
    unread = json.loads(row["unread_metrics"]) if isinstance(row["unread_metrics"], str) else []
    which = f" ({', '.join(unread)})" if unread else ""
    return str(row["status"]), f"{int(row['unread'])} of {int(row['metrics'])} answers unread{which}"


def unfinished_days(wh: Warehouse, days: Sequence[date], since: float) -> list[UnfinishedDay]:
    """Days of `days` that extraction or publish decided at or after `since` (a Unix time) and left
    partial, failed or held, in day order."""
    if not days:
        return []
    rows = wh.query_df(
        "SELECT day, status, metrics, unread, unread_metrics, publish_status, publish_reason "
        f"FROM {DAY_STATUS.qualified} WHERE day BETWEEN ? AND ? "
        "AND (status IN ('partial', 'failed') OR publish_status = 'held') "
        "AND coalesce(published_at, extracted_at) >= to_timestamp(?) ORDER BY day",
        [min(days), max(days), since],
    )
    wanted = set(days)
    found = []
    for _, row in rows.iterrows():
        if _as_day(row["day"]) in wanted:
            status, reason = _reason(row)
            found.append(UnfinishedDay(_as_day(row["day"]), status, reason))
    return found
