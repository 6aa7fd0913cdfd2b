"""The one daily partitioning every partitioned asset shares."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from kpi_pipeline.settings import start_date

daily_partitions = DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")
