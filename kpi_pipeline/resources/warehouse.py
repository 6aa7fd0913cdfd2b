"""The warehouse as a Dagster resource: assets write through it, never open connections themselves."""

from __future__ import annotations

from dagster import ConfigurableResource

from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.engine import redact_url


class WarehouseResource(ConfigurableResource):
    """`KPI_WAREHOUSE_URL`: `duckdb:///data/warehouse.duckdb` (default) or `postgresql://user@host:5432/db`."""

    url: str

    def get_warehouse(self) -> Warehouse:
        """The warehouse with every table created (idempotent)."""
        wh = open_warehouse(self.url)
        wh.ensure_tables()
        return wh

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for logs and metadata."""
        return redact_url(self.url)
