"""The series rule, on both engines: under by_period a reading lands on the day its period ends, never over
that day's own reading, idempotently; under as_reported it stays on the day it was reported."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.catalog import Catalog, parse_catalog
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import RawDay, extract_day
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.extract_io import write_day
from kpi_pipeline.warehouse.publish import (
    by_period_metrics,
    ensure_kpi_schema,
    publish_catalog,
    publish_gate,
    read_metric_values,
)
from kpi_pipeline.warehouse.tables import DAY_STATUS, RAW_SLACK_MESSAGES
from tests.quality.synthetic import CATALOG_DATA, frame, metric_row, store

D = date(2026, 7, 4)
BEFORE = D - timedelta(days=1)
NOW = datetime(2026, 7, 5, 6, tzinfo=UTC)
# weekly_active_users publishes by period; the others as reported (the catalog default)
CATALOG: Catalog = parse_catalog(
    {
        **CATALOG_DATA,
        "metrics": [
            {**m, "series_rule": "by_period"} if m["id"] == "weekly_active_users" else m
            for m in CATALOG_DATA["metrics"]
        ],
    }
)


def _yesterday(metric_id: str, value: float, reported: date = D) -> dict[str, Any]:
    """A reading reported on `reported` about the day before it."""
    before = reported - timedelta(days=1)
    at = pd.Timestamp(reported.isoformat() + "T08:00:00Z")
    return metric_row(metric_id, reported, value, period_start=before, period_end=before, reported_at=at)


def _publish(wh: Warehouse, rows: pd.DataFrame, days: list[date], run_id: str = "run") -> None:
    store(wh, rows, days)
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, days), CATALOG, days)
    publish_gate(wh, gate, run_id, NOW, by_period_metrics(CATALOG))


def _facts(wh: Warehouse) -> dict[tuple[str, date], tuple[float, date | None, date | None]]:
    df = wh.query_df("SELECT metric_id, day, value, period_end, reported_at FROM kpi.fct_metric_daily")
    return {
        (m, pd.Timestamp(d).date()): (v, pd.Timestamp(e).date(), pd.Timestamp(r).tz_convert("UTC").date())
        for m, d, v, e, r in df.itertuples(index=False)
    }


def _evidence_days(wh: Warehouse, metric_id: str) -> list[date]:
    df = wh.query_df("SELECT day FROM kpi.fct_metric_evidence WHERE metric_id = ? ORDER BY day", [metric_id])
    return [pd.Timestamp(d).date() for d in df["day"]]


def test_a_by_period_yesterday_reading_lands_on_the_day_before_and_as_reported_stays(warehouse: Warehouse) -> None:
    _publish(warehouse, frame(_yesterday("weekly_active_users", 1200.0), _yesterday("api_error_rate", 3.0)), [D])
    facts = _facts(warehouse)
    assert facts[("weekly_active_users", BEFORE)] == (1200.0, BEFORE, D)  # by_period: the day its period ended
    assert ("weekly_active_users", D) not in facts
    assert facts[("api_error_rate", D)] == (3.0, BEFORE, D)  # as_reported: the day it was reported
    assert _evidence_days(warehouse, "weekly_active_users") == [BEFORE]


def _extracted(wh: Warehouse, *days: date) -> None:
    """The extract.day_status rows extraction would have written, so publish can record its decision."""
    rows = pd.DataFrame(
        [
            {"day": d, "status": "complete", "metrics": 4, "unread": 0, "unread_metrics": "[]",
             "catalog_version": "c1", "prompt_version": "p1", "backend": "offline", "model": "offline-1",
             "extract_run_id": "extract-run-1", "extracted_at": NOW - timedelta(hours=1)}
            for d in days
        ]
    )  # fmt: skip
    wh.ensure_tables()
    wh.replace_days(DAY_STATUS, list(days), rows)


def _reason(wh: Warehouse, day: date) -> str:
    return str(wh.scalar("SELECT publish_reason FROM extract.day_status WHERE day = ?", [day]))


def test_a_landed_reading_never_replaces_the_days_own_and_says_so(warehouse: Warehouse) -> None:
    _extracted(warehouse, BEFORE, D)
    own = metric_row("weekly_active_users", BEFORE, 1100.0)  # reported on BEFORE, about BEFORE
    _publish(warehouse, frame(own), [BEFORE])
    _publish(warehouse, frame(_yesterday("weekly_active_users", 1200.0)), [D])
    assert _facts(warehouse) == {("weekly_active_users", BEFORE): (1100.0, BEFORE, BEFORE)}
    assert _reason(warehouse, D) == "weekly_active_users: not published for 2026-07-03, which has its own reading"


def test_where_a_reading_landed_is_recorded_on_the_day_it_was_read(warehouse: Warehouse) -> None:
    _extracted(warehouse, D)
    _publish(warehouse, frame(_yesterday("weekly_active_users", 1200.0)), [D])
    assert _reason(warehouse, D) == "weekly_active_users: published for 2026-07-03 (by_period)"


def test_a_landed_reading_survives_reruns_of_both_days_until_the_day_reads_its_own(warehouse: Warehouse) -> None:
    _publish(warehouse, frame(metric_row("weekly_active_users", BEFORE, None, 0.0)), [BEFORE])  # abstained
    landed = frame(_yesterday("weekly_active_users", 1200.0))
    _publish(warehouse, landed, [D])
    first = _facts(warehouse)
    _publish(warehouse, landed, [D], "rerun")  # idempotent: replaces its own landed row, adds nothing
    _publish(warehouse, frame(metric_row("weekly_active_users", BEFORE, None, 0.0)), [BEFORE], "rerun")
    assert _facts(warehouse) == first == {("weekly_active_users", BEFORE): (1200.0, BEFORE, D)}
    assert _evidence_days(warehouse, "weekly_active_users") == [BEFORE]
    _publish(warehouse, frame(metric_row("weekly_active_users", BEFORE, 1100.0)), [BEFORE], "own")
    assert _facts(warehouse) == {("weekly_active_users", BEFORE): (1100.0, BEFORE, BEFORE)}  # its own wins


def test_the_offline_extractor_reads_yesterday_for_a_by_period_metric_and_it_lands_the_day_before(
    warehouse: Warehouse,
) -> None:
    base = int(pd.Timestamp(D, tz="UTC").timestamp())
    slack = pd.DataFrame(
        [{"channel_id": "C1", "channel_name": "growth", "ts": f"{base + 8 * 3600}.000100", "day": D,
          "text": "Weekly active users yesterday: 12,040. Error rate yesterday: 2.1%"}],
        columns=RAW_SLACK_MESSAGES.column_names,
    )  # fmt: skip
    warehouse.ensure_tables()
    write_day(warehouse, D, extract_day(D, RawDay(slack_messages=slack), CATALOG, OfflineBackend()), "x", NOW)
    ensure_kpi_schema(warehouse)
    gate = run_gate(read_metric_values(warehouse, [D]), CATALOG, [D])
    publish_gate(warehouse, gate, "run", NOW, by_period_metrics(CATALOG))
    facts = _facts(warehouse)
    assert facts[("weekly_active_users", BEFORE)] == (12040.0, BEFORE, D)
    assert facts[("api_error_rate", D)] == (2.1, BEFORE, D)  # as_reported: the day it was said, period kept


def test_dim_metric_publishes_each_metrics_time_semantics(warehouse: Warehouse) -> None:
    catalog = parse_catalog(
        {
            "series_rule": "by_period",
            "metrics": [
                {"id": "deploys", "description": "Deploys shipped", "unit": "count", "kind": "flow"},
                {"id": "wau", "description": "Weekly actives", "unit": "count", "kind": "flow", "window": "rolling_7d"},
                {"id": "open_bugs", "description": "Open bugs", "unit": "count", "series_rule": "as_reported"},
            ],
        }
    )
    ensure_kpi_schema(warehouse)
    publish_catalog(warehouse, catalog)
    dims = warehouse.query_df(
        "SELECT metric_id, kind, flow_window, additivity, series_rule FROM kpi.dim_metric ORDER BY metric_id"
    )
    assert [tuple(None if pd.isna(v) else v for v in row) for row in dims.itertuples(index=False)] == [
        ("deploys", "flow", "day", "additive", "by_period"),
        ("open_bugs", "snapshot", None, "semi_additive", "as_reported"),
        ("wau", "flow", "rolling_7d", "non_additive", "by_period"),
    ]


def test_of_two_later_readings_of_a_day_the_freshest_stays_whatever_the_publish_order(warehouse: Warehouse) -> None:
    after = D + timedelta(days=1)
    _extracted(warehouse, D, after)
    late = metric_row(  # "on Friday" written the day after D: also about BEFORE, and fresher
        "weekly_active_users",
        after,
        1250.0,
        period_start=BEFORE,
        period_end=BEFORE,
        reported_at=pd.Timestamp(after.isoformat() + "T08:00:00Z"),
    )
    _publish(warehouse, frame(late), [after])
    _publish(warehouse, frame(_yesterday("weekly_active_users", 1200.0)), [D])
    assert _facts(warehouse) == {("weekly_active_users", BEFORE): (1250.0, BEFORE, after)}
    assert _reason(warehouse, D) == (
        "weekly_active_users: not published for 2026-07-03, which has a fresher one reported on 2026-07-05"
    )
    _publish(warehouse, frame(late), [after], "rerun")
    assert _facts(warehouse) == {("weekly_active_users", BEFORE): (1250.0, BEFORE, after)}
