"""The warehouse as a Dagster resource: assets write through it, never open connections themselves."""

from __future__ import annotations

from dagster import ConfigurableResource

from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.engine import redact_url

# DuckDB's own default is 80% of RAM, which a year of raw rows fills with cached blocks and index nodes
DEFAULT_DUCKDB_MEMORY_LIMIT = "1GB"


class WarehouseResource(ConfigurableResource):
    """`KPI_WAREHOUSE_URL`: `duckdb:///data/warehouse.duckdb` (default) or `postgresql://user@host:5432/db`."""

    url: str
    # KPI_DUCKDB_MEMORY_LIMIT: what a DuckDB warehouse may hold in memory (it spills the rest to disk)
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    def get_warehouse(self) -> Warehouse:
        """The warehouse with every table created (idempotent)."""
        wh = open_warehouse(self.url, self.duckdb_memory_limit)
        wh.ensure_tables()
        return wh

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for logs and metadata."""
        return redact_url(self.url)
