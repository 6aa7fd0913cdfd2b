"""The metric catalog as a Dagster resource, so every asset reads the same file."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from kpi_pipeline.catalog import Catalog, load_catalog
from kpi_pipeline.review.overrides import Override, load_overrides


class CatalogResource(ConfigurableResource):
    """`KPI_CATALOG`: path of a metrics.yaml (default: the dataset's, else the demo catalog);
    `KPI_OVERRIDES_DIR`: the reviewed overrides (default: overrides/ beside the catalog)."""

    path: str
    overrides_dir: str = ""

    def load(self) -> Catalog:
        return load_catalog(self.path)

    def overrides_folder(self) -> Path:
        return Path(self.overrides_dir) if self.overrides_dir else Path(self.path).parent / "overrides"

    def load_overrides(self, catalog: Catalog) -> list[Override]:
        """Every review decision; OverrideError (file, entry, key) when one is malformed."""
        return load_overrides(self.overrides_folder(), [m.id for m in catalog.metrics])
