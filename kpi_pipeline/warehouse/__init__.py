"""The SQL warehouse: one interface over DuckDB (embedded default) and PostgreSQL (production)."""

from kpi_pipeline.warehouse.engine import Warehouse, WarehouseError, open_warehouse

__all__ = ["Warehouse", "WarehouseError", "open_warehouse"]
