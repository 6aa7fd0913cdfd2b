"""A DuckDB warehouse holds at most KPI_DUCKDB_MEMORY_LIMIT in memory (default 1GB) and spills the rest: DuckDB's
own default, 80% of RAM, lets a year of raw rows grow a run past any fixed budget with cached blocks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from kpi_pipeline import settings
from kpi_pipeline.resources.warehouse import DEFAULT_DUCKDB_MEMORY_LIMIT
from kpi_pipeline.warehouse import WarehouseError, open_warehouse


def memory_limit_of(url: str, limit: str | None) -> str:
    wh = open_warehouse(url, limit)
    return str(wh.scalar("SELECT current_setting('memory_limit')"))


def test_the_limit_is_set_on_every_connection(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    assert memory_limit_of(url, "256MB") == "244.1 MiB"  # DuckDB shows 10^6-byte units in MiB
    assert memory_limit_of(url, "2GiB") == "2.0 GiB"


def configured_limit() -> str:
    """The memory limit of the warehouse the pipeline's resources open, as Dagster configures them."""
    with dg.build_resources({"warehouse": settings.resource_defs()["warehouse"]}) as resources:
        return str(resources.warehouse.get_warehouse().scalar("SELECT current_setting('memory_limit')"))


def test_the_resource_defaults_to_1gb_and_the_setting_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPI_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.delenv("KPI_DUCKDB_MEMORY_LIMIT", raising=False)
    assert DEFAULT_DUCKDB_MEMORY_LIMIT == "1GB"
    assert configured_limit() == "953.6 MiB"
    monkeypatch.setenv("KPI_DUCKDB_MEMORY_LIMIT", "512MB")
    assert configured_limit() == "488.2 MiB"


@pytest.mark.parametrize("limit", ["lots", "0", "1 bucket"])
def test_a_limit_that_is_not_a_size_is_one_line_naming_the_setting(tmp_path: Path, limit: str) -> None:
    with pytest.raises(WarehouseError) as refused:
        open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", limit).scalar("SELECT 1")
    message = str(refused.value)
    assert message == f"KPI_DUCKDB_MEMORY_LIMIT={limit!r} is not a memory size: write e.g. 1GB or 2GiB"
