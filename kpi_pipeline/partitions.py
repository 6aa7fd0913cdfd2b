"""The partitionings: the daily one every daily asset shares, and ISO weeks (Monday to Sunday) for the digest."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition, WeeklyPartitionsDefinition

from kpi_pipeline.settings import start_date

daily_partitions = DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")
# day_offset=1: weeks start on Monday; the first week is the first full one on or after the start date
weekly_partitions = WeeklyPartitionsDefinition(start_date=start_date(), timezone="UTC", day_offset=1)
