"""The demo quarter published into a DuckDB warehouse once for the ask tests, the way `eval` publishes a
dataset (sources read, offline extraction, the quality gate, publish) without Dagster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kpi_pipeline.ask.data import KpiData, load_kpi_data
from kpi_pipeline.ask.names import as_catalog_metrics
from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.catalog import Metric, load_catalog, quarter_bounds
from kpi_pipeline.demo.generate import generate_dataset
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import extract_days
from kpi_pipeline.orchestration.evaluate import read_dataset_days
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.extract_io import write_day
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog, publish_gate
from kpi_pipeline.warehouse.tables import METRIC_VALUES


@dataclass(frozen=True)
class Demo:
    url: str
    catalog_path: Path
    data: KpiData
    metrics: list[Metric]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    out = tmp_path_factory.mktemp("ask-demo")
    generate_dataset(out / "demo", seed=7, scale=1)
    catalog = load_catalog(out / "demo" / "metrics.yaml")
    first, last = quarter_bounds("2026-Q3")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    url = f"duckdb:///{out / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    wh.ensure_tables()
    ensure_kpi_schema(wh)
    extracted = extract_days(read_dataset_days(out / "demo", days), catalog, OfflineBackend())
    now = datetime(2026, 10, 1, tzinfo=UTC)
    with wh.session():
        for day in days:
            write_day(wh, day, extracted[day], "demo", now)
        publish_catalog(wh, catalog)
        gate = run_gate(wh.query_df(f"SELECT * FROM {METRIC_VALUES.qualified}"), catalog, days)
        publish_gate(wh, gate, "demo", now)
    data = load_kpi_data(KpiReader(url))
    aliases = {m.id: m.aliases for m in catalog.metrics}
    return Demo(url, out / "demo" / "metrics.yaml", data, as_catalog_metrics(data.metrics, aliases))
