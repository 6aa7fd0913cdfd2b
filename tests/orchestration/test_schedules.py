"""The daily schedule asks for yesterday's UTC partition, whatever time zone it ticks in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dagster import RunRequest, build_schedule_context

from kpi_pipeline.orchestration.schedules import build_daily_schedule, partition_for_tick


def test_a_morning_tick_materializes_yesterday() -> None:
    from kpi_pipeline.definitions import defs

    schedule = defs.get_schedule_def("daily_kpi_schedule")
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 8, 15, 6, 0, tzinfo=UTC), repository_def=defs.get_repository_def()
    )
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert len(requests) == 1
    assert isinstance(requests[0], RunRequest)
    assert requests[0].partition_key == "2026-08-14"
    assert requests[0].run_key == "2026-08-14"


def test_the_daily_job_also_refreshes_the_catalog_tables_okr_views_and_dashboard() -> None:
    from dagster import AssetKey

    from kpi_pipeline.definitions import defs
    from kpi_pipeline.orchestration.schedules import DAILY_ASSETS, REPORT_ASSETS

    schedule = defs.get_schedule_def("daily_kpi_schedule")
    job = defs.resolve_job_def(schedule.job_name)
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert selected == set(DAILY_ASSETS) | set(REPORT_ASSETS)
    graph = defs.resolve_asset_graph()
    published = {"fct_metric_daily", "metric_quarantine"}
    # everything downstream of what a run publishes is in the same run, so nothing it shows can go stale
    downstream = {k.to_user_string() for k in graph.get_all_asset_keys() if published & ancestors(graph, k)}
    # but the weekly digest: it has its own weekly job, so a digest or Slack failure never holds back publishing
    assert "weekly_digest" in downstream
    downstream -= {"weekly_digest"}
    assert downstream and downstream <= selected
    assert {"dim_metric", "okr_objectives", "okr_key_results", "kpi_dashboard"} <= selected
    assert graph.get(AssetKey("kpi_dashboard")).partitions_def is None


def ancestors(graph: Any, key: Any) -> set[str]:
    seen: set[str] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent.to_user_string() not in seen:
                seen.add(parent.to_user_string())
                todo.append(parent)
    return seen


@pytest.mark.parametrize(
    ("local_tick", "zone", "expected"),
    [
        (datetime(2026, 8, 15, 6, 0), "Europe/Berlin", "2026-08-14"),  # 04:00 UTC
        (datetime(2026, 8, 14, 22, 0), "America/Los_Angeles", "2026-08-14"),  # 05:00 UTC on the 15th
        (datetime(2026, 8, 15, 0, 30), "Asia/Tokyo", "2026-08-13"),  # 15:30 UTC on the 14th
    ],
)
def test_yesterday_means_the_last_complete_utc_day(local_tick: datetime, zone: str, expected: str) -> None:
    assert partition_for_tick(local_tick.replace(tzinfo=ZoneInfo(zone))) == expected


def test_the_schedule_ticks_in_the_configured_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_SCHEDULE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("KPI_SCHEDULE_CRON", "30 7 * * *")
    schedule = build_daily_schedule()
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.cron_schedule == "30 7 * * *"


def test_a_tick_before_the_first_partition_is_skipped() -> None:
    schedule = build_daily_schedule()
    context = build_schedule_context(scheduled_execution_time=datetime(2020, 1, 2, 6, 0, tzinfo=UTC))
    result = schedule.evaluate_tick(context)
    assert not result.run_requests
    assert result.skip_message and "before the first partition" in result.skip_message
