"""The one daily partitioning every partitioned asset shares."""

from __future__ import annotations

import os
from datetime import date

from dagster import DailyPartitionsDefinition

from kpi_pipeline.settings import SettingError

DEMO_QUARTER_START = "2026-07-01"


def start_date() -> str:
    """First partition day: `KPI_START_DATE`, else the demo quarter's first day."""
    raw = os.environ.get("KPI_START_DATE", "").strip() or DEMO_QUARTER_START
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise SettingError(f"KPI_START_DATE={raw!r} is not a date: write it as YYYY-MM-DD") from None
    return raw


daily_partitions = DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")
