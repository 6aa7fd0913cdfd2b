"""The kpi_dashboard asset writes the page and shows the quarter's OKR status in Dagster."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from kpi_pipeline.assets.dashboard import kpi_dashboard
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import open_warehouse


def test_definition() -> None:
    spec = next(iter(kpi_dashboard.specs))
    assert spec.key == AssetKey("kpi_dashboard")
    assert spec.group_name == "report"
    assert kpi_dashboard.partitions_def is None
    assert AssetKey("fct_metric_daily") in {dep.asset_key for dep in spec.deps}
    assert "warehouse" in kpi_dashboard.required_resource_keys


def test_materializing_writes_the_page_where_configured(
    duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sample(open_warehouse(duckdb_url), n_metrics=4)
    target = tmp_path / "out" / "dash.html"
    monkeypatch.setenv("KPI_DASHBOARD_PATH", str(target))
    result = materialize([kpi_dashboard], resources={"warehouse": WarehouseResource(url=duckdb_url)})
    assert result.success
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '"id":"api_error_rate"' in page
    metadata = result.asset_materializations_for_node("kpi_dashboard")[0].metadata
    assert metadata["path"].value == str(target.resolve())
    assert metadata["quarter"].value == "2026-Q3"
    assert metadata["as_of"].value == "2026-09-30"
    assert metadata["kpis"].value == 4
    assert metadata["html_bytes"].value == len(page.encode("utf-8"))
    table = metadata["okr_status"].value
    assert "| Make the public API boringly reliable | `api_error_rate` |" in table
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == 1 + 4  # header, 4 key results


def test_the_default_path_and_a_pinned_quarter(
    duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sample(open_warehouse(duckdb_url), n_metrics=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_DASHBOARD_PATH", raising=False)
    monkeypatch.setenv("KPI_DASHBOARD_QUARTER", "2026-Q4")
    result = materialize([kpi_dashboard], resources={"warehouse": WarehouseResource(url=duckdb_url)})
    metadata = result.asset_materializations_for_node("kpi_dashboard")[0].metadata
    assert (tmp_path / "data" / "dashboard" / "index.html").is_file()
    assert metadata["quarter"].value == "2026-Q4"
    assert metadata["as_of"].value == "nothing published"
    assert "(no objectives for this quarter)" in metadata["okr_status"].value
