"""The metric catalog as a Dagster resource, so every asset reads the same file."""

from __future__ import annotations

from dagster import ConfigurableResource

from kpi_pipeline.catalog import Catalog, load_catalog


class CatalogResource(ConfigurableResource):
    """`KPI_CATALOG`: path of a metrics.yaml (default: the dataset's, else the demo catalog)."""

    path: str

    def load(self) -> Catalog:
        return load_catalog(self.path)
