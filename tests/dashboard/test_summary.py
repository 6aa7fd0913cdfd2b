"""The OKR status table that Dagster shows in the asset's metadata."""

from __future__ import annotations

from dataclasses import replace

from kpi_pipeline.dashboard.data import load_dashboard_data
from kpi_pipeline.dashboard.summary import okr_markdown
from kpi_pipeline.warehouse import Warehouse


def test_one_row_per_key_result_with_the_views_numbers(sample_warehouse: Warehouse) -> None:
    data = load_dashboard_data(sample_warehouse)
    table = okr_markdown(data)
    lines = table.splitlines()
    assert lines[0] == "**2026-Q3** as of 2026-09-30"
    assert lines[2].startswith("| Objective | Key result | Value | Baseline | Target | Progress | Expected | Status |")
    rows = [line for line in lines[4:] if line.startswith("| ")]
    assert len(rows) == len(data.key_results) == 8
    mrr = next(r for r in rows if "`mrr_usd`" in r)
    kr = data.key_results[data.key_results.metric_id == "mrr_usd"].iloc[0]
    assert f"| {kr.value:,.0f} | 940,000 | 1,150,000 | {kr.progress:.0%} | 100% |" in mrr
    assert mrr.startswith("| Grow revenue without buying it |")
    statuses = {"on_track": "🟢 on track", "at_risk": "🟠 at risk", "off_track": "🔴 off track"}
    for row, status in zip(rows, data.key_results.status, strict=True):
        assert row.endswith(f"| {statuses[status]} |")


def test_key_results_without_values_say_no_data(sample_warehouse: Warehouse) -> None:
    data = load_dashboard_data(sample_warehouse)
    empty = data.key_results.assign(value=None, progress=None, expected_progress=None, status=None)
    table = okr_markdown(replace(data, key_results=empty, as_of=None))
    assert "as of nothing published yet" in table
    assert table.count("⚪ no data") == 8
    assert "| – | 5 | 1 | – | – | ⚪ no data |" in table
