"""Shared by the orchestration tests: the demo company generated once per module, and its catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_pipeline.catalog import Catalog, load_catalog
from kpi_pipeline.demo import generate_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("demo"), seed=7).out_dir


@pytest.fixture(scope="module")
def catalog(dataset: Path) -> Catalog:
    return load_catalog(dataset / "metrics.yaml")
