"""What the insights read runs unchanged on DuckDB and PostgreSQL, and restatements come from the history table."""

from __future__ import annotations

from datetime import UTC, date, datetime

from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.insights.reads import read_alert_inputs, read_history
from kpi_pipeline.insights.weekly import run_week
from kpi_pipeline.warehouse import Warehouse

WEEK = date(2026, 8, 3)


def test_a_week_is_built_and_stored_once_and_the_alert_inputs_are_read_on_both_engines(warehouse: Warehouse) -> None:
    write_sample(warehouse, n_metrics=8)
    first = run_week(warehouse, WEEK, datetime(2026, 8, 10, tzinfo=UTC))
    again = run_week(warehouse, WEEK, datetime(2026, 8, 11, tzinfo=UTC))
    assert first.digest == again.digest and first.digest.objectives
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.weekly_digest") == 1
    assert str(warehouse.scalar("SELECT week_end FROM kpi.weekly_digest"))[:10] == "2026-08-09"
    key_results, conflicts, evidence = read_alert_inputs(warehouse)
    assert len(key_results) == 8 and set(key_results["day"]) == {date(2026, 9, 30)}
    assert not conflicts.empty and not evidence.empty


def test_restatements_are_read_from_the_history_table(warehouse: Warehouse) -> None:
    write_sample(warehouse, n_metrics=8)
    assert read_history(warehouse, WEEK, date(2026, 8, 9)).empty
    columns = "metric_id, day, version, value, reason, run_id, valid_from, valid_to"
    warehouse.execute(
        f"INSERT INTO kpi.fct_metric_history ({columns}) VALUES"
        " ('kpi_01', DATE '2026-07-20', 1, 3, 'published', 'r1', TIMESTAMPTZ '2026-07-21 06:00:00+00',"
        "  TIMESTAMPTZ '2026-08-04 06:00:00+00'),"
        " ('kpi_01', DATE '2026-07-20', 2, 4, 'rerun', 'r2', TIMESTAMPTZ '2026-08-04 06:00:00+00', NULL),"
        " ('kpi_02', DATE '2026-07-20', 1, 5, 'published', 'r1', TIMESTAMPTZ '2026-07-21 06:00:00+00', NULL)"
    )
    digest = run_week(warehouse, WEEK, datetime(2026, 8, 10, tzinfo=UTC)).digest
    (restated,) = digest.restatements
    assert restated.text == "kpi_01 on 2026-07-20 restated 3 → 4 on 2026-08-04: rerun" and not digest.notes
