"""Publishing with overrides on both engines: each action wins over every republish, a stale one is not applied."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.review.overrides import Override, reading_fingerprint
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import (
    Published,
    ensure_kpi_schema,
    publish_catalog,
    publish_gate,
    read_metric_values,
)
from kpi_pipeline.warehouse.tables import DAY_STATUS
from tests.quality.synthetic import CATALOG, clean_day, store, with_case

DAY = date(2026, 7, 1)
AT = datetime(2026, 7, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


def publish(
    wh: Warehouse, rows: pd.DataFrame, overrides: list[Override], run: int, trigger: str = "rerun"
) -> Published:
    store(wh, rows, [DAY])
    status = {"day": DAY, "status": "complete", "metrics": 4, "unread": 0, "unread_metrics": "[]",
              "catalog_version": "c1", "prompt_version": "p1", "backend": "offline", "model": "offline-1",
              "extract_run_id": f"run-{run}", "extracted_at": NOW}  # fmt: skip
    wh.replace_days(DAY_STATUS, [DAY], pd.DataFrame([status]))
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, [DAY]), CATALOG, [DAY])
    return publish_gate(wh, gate, f"run-{run}", NOW + timedelta(days=run), overrides=overrides, trigger=trigger)


def decide(rows: pd.DataFrame, metric: str, action: str, value: float | None = None) -> Override:
    """The decision a reviewer takes on the metric's reading in `rows`."""
    row = rows[rows["metric_id"] == metric].iloc[0]
    fingerprint = reading_fingerprint(row["value"], row["evidence"])
    return Override(metric, DAY, action, value, "checked the dashboard", "alice", AT, fingerprint)


def fact(wh: Warehouse, metric: str) -> tuple[float, float, str] | None:
    df = wh.query_df("SELECT value, confidence, status FROM kpi.fct_metric_daily WHERE metric_id = ?", [metric])
    return None if df.empty else (float(df.at[0, "value"]), float(df.at[0, "confidence"]), str(df.at[0, "status"]))


def quarantined(wh: Warehouse, metric: str) -> list[str]:
    df = wh.query_df("SELECT reasons FROM kpi.metric_quarantine WHERE metric_id = ?", [metric])
    return [] if df.empty else list(json.loads(df.at[0, "reasons"]))


def reasons(wh: Warehouse, metric: str) -> list[str]:
    df = wh.query_df("SELECT reason FROM kpi.fct_metric_history WHERE metric_id = ? ORDER BY version", [metric])
    return list(df["reason"])


def test_accept_publishes_a_quarantined_reading_as_it_is_on_every_republish(warehouse: Warehouse) -> None:
    rows = with_case(DAY, "low_confidence")  # p95 310 at confidence 0.4: quarantined
    publish(warehouse, rows, [], 1)
    assert fact(warehouse, "p95_latency_ms") is None and quarantined(warehouse, "p95_latency_ms")
    accept = decide(rows, "p95_latency_ms", "accept")
    for run, trigger in ((2, "rerun"), (3, "backfill")):
        publish(warehouse, rows, [accept], run, trigger)
        assert fact(warehouse, "p95_latency_ms") == (310.0, 0.4, "accepted")
        assert quarantined(warehouse, "p95_latency_ms") == []
    assert reasons(warehouse, "p95_latency_ms") == ["override"]  # the republishes changed nothing
    quotes = warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_evidence WHERE metric_id = 'p95_latency_ms'")
    assert quotes == 1


def test_set_publishes_the_reviewers_value_and_keeps_the_evidence(warehouse: Warehouse) -> None:
    rows = clean_day(DAY)
    publish(warehouse, rows, [], 1)
    corrected = decide(rows, "api_error_rate", "set", 2.5)
    for run in (2, 3):
        publish(warehouse, rows, [corrected], run, "backfill")
        assert fact(warehouse, "api_error_rate") == (2.5, 1.0, "overridden")
    quote = warehouse.scalar("SELECT quote FROM kpi.fct_metric_evidence WHERE metric_id = 'api_error_rate'")
    assert quote == "api_error_rate is 3.0 today"
    assert reasons(warehouse, "api_error_rate") == ["published", "override"]
    note = warehouse.scalar(
        "SELECT note FROM kpi.fct_metric_history WHERE metric_id = 'api_error_rate' AND version = 2"
    )
    assert note == "set to 2.5 by alice on 2026-07-05: checked the dashboard"


def test_reject_withholds_a_passing_reading_and_keeps_it_for_review_with_the_reason(warehouse: Warehouse) -> None:
    rows = clean_day(DAY)
    publish(warehouse, rows, [], 1)
    reject = decide(rows, "weekly_active_users", "reject")
    for run in (2, 3):
        publish(warehouse, rows, [reject], run, "backfill")
        assert fact(warehouse, "weekly_active_users") is None
        assert quarantined(warehouse, "weekly_active_users") == [
            "rejected: rejected by alice on 2026-07-05: checked the dashboard"
        ]
    assert reasons(warehouse, "weekly_active_users") == ["published", "override"]
    withdrawn = warehouse.scalar(
        "SELECT value FROM kpi.fct_metric_history WHERE metric_id = 'weekly_active_users' AND valid_to IS NULL"
    )
    assert withdrawn is None or pd.isna(withdrawn)


def test_an_override_whose_reading_changed_is_not_applied_and_the_previous_version_stays(warehouse: Warehouse) -> None:
    rows = clean_day(DAY)
    publish(warehouse, rows, [], 1)
    corrected = decide(rows, "api_error_rate", "set", 2.5)
    publish(warehouse, rows, [corrected], 2)
    changed = clean_day(DAY, scale=1.5)  # new evidence, new value: nobody has seen this reading
    published = publish(warehouse, changed, [corrected], 3)
    assert fact(warehouse, "api_error_rate") == (2.5, 1.0, "overridden")  # the reviewed value stays...
    assert fact(warehouse, "p95_latency_ms") == (450.0, 0.8, "ok")  # ...the others publish the new reading
    assert [o.metric for o in published.stale] == ["api_error_rate"]
    reason = warehouse.scalar("SELECT publish_reason FROM extract.day_status")
    assert "kept the previous version of api_error_rate: the reading changed since its override" in reason
    assert reasons(warehouse, "api_error_rate") == ["published", "override"]
