"""The dashboard reads the published tables as they are, on DuckDB and PostgreSQL alike."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from kpi_pipeline.dashboard.data import DashboardDataError, choose_quarter, load_dashboard_data, quarter_of
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema


@pytest.fixture
def published(warehouse: Warehouse) -> Warehouse:
    write_sample(warehouse, n_metrics=5)
    return warehouse


def test_quarter_is_the_latest_published_one_with_objectives(published: Warehouse) -> None:
    assert quarter_of(date(2026, 9, 30)) == "2026-Q3"
    assert quarter_of(date(2026, 10, 1)) == "2026-Q4"
    assert choose_quarter(published) == "2026-Q3"
    data = load_dashboard_data(published)
    assert (data.quarter, data.quarter_start, data.quarter_end) == ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30))
    assert data.as_of == date(2026, 9, 30)


def test_key_results_carry_the_okr_progress_row_of_their_latest_day(published: Warehouse) -> None:
    data = load_dashboard_data(published)
    view = published.query_df("SELECT * FROM kpi.okr_progress WHERE day = DATE '2026-09-30'")
    assert len(data.key_results) == len(published.query_df("SELECT * FROM kpi.okr_key_results")) == 5
    for kr in data.key_results.itertuples(index=False):
        row = view[(view.objective_id == kr.objective_id) & (view.key_result_no == kr.key_result_no)].iloc[0]
        assert kr.day == date(2026, 9, 30)
        assert (kr.value, kr.progress, kr.expected_progress, kr.status) == (
            row.value,
            row.progress,
            row.expected_progress,
            row.status,
        )
    assert set(data.key_results.status) <= {"on_track", "at_risk", "off_track"}


def test_facts_evidence_and_quarantine_are_the_published_rows(published: Warehouse) -> None:
    data = load_dashboard_data(published)
    facts = published.query_df("SELECT metric_id, value, confidence FROM kpi.fct_metric_daily ORDER BY metric_id, day")
    assert data.facts[["metric_id", "value", "confidence"]].reset_index(drop=True).equals(facts)
    assert len(data.evidence) == published.scalar("SELECT COUNT(*) FROM kpi.fct_metric_evidence")
    assert len(data.quarantine) == published.scalar("SELECT COUNT(*) FROM kpi.metric_quarantine") > 0
    assert all(json.loads(r) for r in data.quarantine.reasons)


def test_reasoning_is_read_only_for_days_that_were_published_or_held_back(published: Warehouse) -> None:
    published.execute("DELETE FROM kpi.fct_metric_daily WHERE metric_id = 'nps' AND day = DATE '2026-08-01'")
    data = load_dashboard_data(published)
    pairs = {(r.metric_id, r.day) for r in data.explanations.itertuples(index=False)}
    shown = {(r.metric_id, r.day) for r in data.facts.itertuples(index=False)} | {
        (r.metric_id, r.day) for r in data.quarantine.itertuples(index=False)
    }
    assert pairs == shown
    assert ("nps", date(2026, 8, 1)) not in pairs
    conflicts = data.explanations.dropna(subset=["conflict"])
    assert len(conflicts) > 0
    assert all(len(json.loads(c)) == 2 for c in conflicts.conflict)


def test_costs_are_summed_per_day_and_over_the_quarter(published: Warehouse) -> None:
    data = load_dashboard_data(published)
    calls = published.query_df("SELECT day, cost_usd, output_tokens FROM extract.llm_calls")
    calls["day"] = pd.to_datetime(calls["day"]).dt.date
    july_first = data.costs[data.costs.day == date(2026, 7, 1)].iloc[0]
    day_calls = calls[calls.day == date(2026, 7, 1)]
    assert july_first.calls == len(day_calls) == 3
    assert july_first.cost_usd == pytest.approx(day_calls.cost_usd.sum())
    assert july_first.output_tokens == day_calls.output_tokens.sum()
    quarter = data.quarter_costs.iloc[0]
    assert quarter.calls == len(calls) == 92 * 3
    assert quarter.cost_usd == pytest.approx(calls.cost_usd.sum())


def test_a_quarter_with_objectives_but_no_values_lists_key_results_without_status(published: Warehouse) -> None:
    published.execute("DELETE FROM kpi.fct_metric_daily")
    data = load_dashboard_data(published)
    assert data.quarter == "2026-Q3"
    assert data.as_of is None
    assert len(data.key_results) == 5
    assert data.key_results.status.isna().all()


def test_empty_tables_and_bad_quarters_are_clear_errors(warehouse: Warehouse) -> None:
    ensure_kpi_schema(warehouse)
    with pytest.raises(DashboardDataError, match="materialize the publish assets"):
        load_dashboard_data(warehouse)
    with pytest.raises(DashboardDataError, match="2026-Q7"):
        load_dashboard_data(warehouse, "2026-Q7")


def test_a_year_of_history_is_loaded_from_the_earliest_published_day(warehouse: Warehouse) -> None:
    write_sample(warehouse, n_metrics=2, n_days=400)
    data = load_dashboard_data(warehouse)
    assert data.first_day == date(2025, 9, 30)  # 366 days up to 2026-09-30, not the 400 published
    assert min(data.facts.day) >= data.first_day and len(data.costs) == 366
    assert load_dashboard_data(warehouse, history_days=30).first_day == date(2026, 7, 1)  # never after the quarter
