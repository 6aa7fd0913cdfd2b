"""kpi.fct_metric_history on both engines: every published version kept, with why it changed, never a duplicate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.quality.gate import run_gate
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
FIRST = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


def publish(
    wh: Warehouse, rows: pd.DataFrame, run_id: str, at: datetime, trigger: str = "rerun", catalog_version: str = "c1"
) -> Published:
    days = sorted({d for d in rows["day"]})
    store(wh, rows, days)
    wh.replace_days(DAY_STATUS, days, _status(days, catalog_version, at))
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, days), CATALOG, days)
    return publish_gate(wh, gate, run_id, at, trigger=trigger)


def _status(days: list[date], catalog_version: str, at: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"day": d, "status": "complete", "metrics": 4, "unread": 0, "unread_metrics": "[]",
             "catalog_version": catalog_version, "prompt_version": "p1", "backend": "offline", "model": "offline-1",
             "extract_run_id": "extract-run-1", "extracted_at": at - timedelta(hours=1)}
            for d in days
        ]
    )  # fmt: skip


def history(wh: Warehouse, metric_id: str = "api_error_rate") -> list[dict[str, Any]]:
    df = wh.query_df(
        "SELECT version, value, status, reason, run_id, valid_from, valid_to, catalog_version "
        "FROM kpi.fct_metric_history WHERE metric_id = ? ORDER BY day, version",
        [metric_id],
    )
    return [{k: None if pd.isna(v) else v for k, v in r.items()} for r in df.to_dict("records")]


def test_the_first_publish_records_one_current_version_per_published_value(warehouse: Warehouse) -> None:
    published = publish(warehouse, clean_day(DAY), "run-1", FIRST)
    rows = history(warehouse)
    assert [(r["version"], r["value"], r["reason"], r["run_id"], r["valid_to"]) for r in rows] == [
        (1, 3.0, "published", "run-1", None)
    ]
    assert rows[0]["catalog_version"] == "c1"
    # three readings published (nps abstains): three histories, no restatement
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_history") == 3
    assert published.restated == 0


def test_a_rerun_that_changes_nothing_adds_no_row(warehouse: Warehouse) -> None:
    publish(warehouse, clean_day(DAY), "run-1", FIRST)
    again = publish(warehouse, clean_day(DAY), "run-2", FIRST + timedelta(days=1))
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_history") == 3
    assert history(warehouse)[0]["run_id"] == "run-1" and again.restated == 0


def test_a_rerun_that_changes_an_answer_closes_the_old_version_and_says_rerun(warehouse: Warehouse) -> None:
    publish(warehouse, clean_day(DAY), "run-1", FIRST)
    later = FIRST + timedelta(days=1)
    published = publish(warehouse, clean_day(DAY, scale=2.0), "run-2", later)
    old, new = history(warehouse)
    assert (old["value"], old["valid_to"].astimezone(UTC)) == (3.0, later)
    assert (new["version"], new["value"], new["reason"], new["run_id"], new["valid_to"]) == (
        2,
        6.0,
        "rerun",
        "run-2",
        None,
    )
    assert published.restated == 3  # every reading doubled
    current = warehouse.query_df(
        "SELECT f.value FROM kpi.fct_metric_daily f JOIN kpi.fct_metric_history h "
        "ON h.metric_id = f.metric_id AND h.day = f.day AND h.valid_to IS NULL WHERE h.value = f.value"
    )
    assert len(current) == 3  # the current versions are the published facts


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"trigger": "backfill"}, "backfill"),
        ({"prompt_version": "2026-12-01.1"}, "prompt_version"),
        ({"model": "claude-sonnet-5-5"}, "model"),
        ({"catalog_version": "c2"}, "catalog"),
    ],
)
def test_the_reason_says_what_produced_the_new_version(
    warehouse: Warehouse, change: dict[str, str], reason: str
) -> None:
    publish(warehouse, clean_day(DAY), "run-1", FIRST)
    rows = clean_day(DAY, scale=2.0)
    for column in ("prompt_version", "model"):
        if column in change:
            rows[column] = change[column]
    publish(
        warehouse,
        rows,
        "run-2",
        FIRST + timedelta(days=1),
        trigger=change.get("trigger", "rerun"),
        catalog_version=change.get("catalog_version", "c1"),
    )
    assert [r["reason"] for r in history(warehouse)] == ["published", reason]


def test_a_value_that_stops_passing_is_recorded_as_removed(warehouse: Warehouse) -> None:
    publish(warehouse, clean_day(DAY), "run-1", FIRST)
    published = publish(warehouse, with_case(DAY, "out_of_range"), "run-2", FIRST + timedelta(days=1))
    old, removed = history(warehouse)
    assert old["valid_to"] is not None
    assert (removed["value"], removed["status"], removed["reason"], removed["valid_to"]) == (
        None,
        None,
        "removed",
        None,
    )
    assert published.restated == 1
    publish(warehouse, with_case(DAY, "out_of_range"), "run-3", FIRST + timedelta(days=2))
    assert len(history(warehouse)) == 2  # withdrawn stays withdrawn without another row


def test_facts_published_before_the_history_existed_get_their_first_version_on_the_next_change(
    warehouse: Warehouse,
) -> None:
    publish(warehouse, clean_day(DAY), "run-1", FIRST)
    warehouse.execute("DELETE FROM kpi.fct_metric_history")  # as a warehouse from before the table was added
    publish(warehouse, clean_day(DAY, scale=2.0), "run-2", FIRST + timedelta(days=1))
    rows = history(warehouse)
    assert [(r["version"], r["value"], r["reason"], r["run_id"]) for r in rows] == [
        (1, 3.0, "published", "extract-run-1"),
        (2, 6.0, "rerun", "run-2"),
    ]
    assert rows[0]["valid_from"].astimezone(UTC) == FIRST


def test_a_held_day_changes_no_history(warehouse: Warehouse) -> None:
    publish(warehouse, clean_day(DAY), "run-1", FIRST)
    before = history(warehouse)
    bad = with_case(DAY, "out_of_range")  # with two more low-confidence readings: 3 of 4 rows fail, the day is held
    bad.loc[bad["metric_id"].isin(["p95_latency_ms", "weekly_active_users"]), "confidence"] = 0.1
    held = publish(warehouse, bad, "run-2", FIRST + timedelta(days=1))
    assert held.held and history(warehouse) == before
