"""The daily schedule: at a configured local time, materialize the last complete UTC day.

Partitions are UTC days (the raw tables' contract), while the time a team wants the numbers is local:
`KPI_SCHEDULE_TIMEZONE` and `KPI_SCHEDULE_CRON` say when the schedule ticks, and each tick asks for
"yesterday" in UTC, the newest day that has fully happened everywhere.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from kpi_pipeline.partitions import daily_partitions


def partition_for_tick(tick: datetime) -> str:
    """The UTC day before the tick's UTC date: the last day that is complete when the tick fires."""
    return (tick.astimezone(UTC).date() - timedelta(days=1)).isoformat()


# every daily-partitioned asset, from the raw tables to the published facts
DAILY_ASSETS = (
    "raw_slack_messages",
    "raw_jira_issues",
    "raw_jira_events",
    "raw_docs",
    "metric_candidates",
    "metric_values",
    "fct_metric_daily",
    "fct_metric_evidence",
    "metric_quarantine",
)

# the unpartitioned assets that follow what was published: the catalog tables, the views and the dashboard.
# Every run that publishes (the schedule's, a backfill, the demo) materializes them after the days, so
# dim_metric, the OKR tables and the dashboard always match the facts (docs/deployment.md says why not automation)
REPORT_ASSETS = (
    "dim_metric",
    "okr_objectives",
    "okr_key_results",
    "fct_metric_daily_filled",
    "okr_progress",
    "kpi_dashboard",
)

daily_kpi_job = define_asset_job(
    "daily_kpi_job",
    selection=AssetSelection.assets(*DAILY_ASSETS, *REPORT_ASSETS),
    description="One day of the whole pipeline: ingest, extract, gate, publish; then the catalog tables, the "
    "OKR views and the dashboard.",
)


def build_daily_schedule() -> ScheduleDefinition:
    timezone = os.environ.get("KPI_SCHEDULE_TIMEZONE", "UTC")
    cron = os.environ.get("KPI_SCHEDULE_CRON", "0 6 * * *")

    @schedule(
        name="daily_kpi_schedule",
        job=daily_kpi_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"At '{cron}' {timezone}, materialize yesterday's UTC partition of the whole pipeline.",
    )
    def daily_kpi_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        key = partition_for_tick(tick)
        if key < daily_partitions.start.date().isoformat():
            return SkipReason(f"{key} is before the first partition ({daily_partitions.start.date()})")
        return RunRequest(run_key=key, partition_key=key)

    return daily_kpi_schedule
