"""`code_version`s of the assets whose output follows the prompt or the catalog, so the Dagster UI shows them
stale after either changes (and a backfill's resume redoes their days, docs/deployment.md).

The catalog part is `catalog_version`, the hash resume compares in `extract.day_status`. A catalog that does not
load yet still gets a version (from its bytes), so the definitions load and the run reports the catalog error.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kpi_pipeline import settings
from kpi_pipeline.catalog import CatalogError, catalog_version, load_catalog
from kpi_pipeline.extraction.schema import PROMPT_VERSION


def catalog_code_version(path: Path) -> str:
    try:
        return f"catalog-{catalog_version(load_catalog(path))}"
    except (CatalogError, OSError):
        try:
            return f"catalog-unloadable-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
        except OSError:
            return "catalog-missing"


CATALOG_CODE_VERSION = catalog_code_version(settings.catalog_path())
# what extraction answers depends on both the prompt and every metric's definition
EXTRACTION_CODE_VERSION = f"prompt-{PROMPT_VERSION}.{CATALOG_CODE_VERSION}"
