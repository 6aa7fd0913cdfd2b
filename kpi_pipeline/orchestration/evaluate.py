"""`kpi-pipeline eval DATASET`: the whole extraction path on a dataset folder, scored against its truth.

It runs in a scratch DuckDB warehouse (never the configured one): the dataset's sources are read by the
same resources the ingest assets use, extracted, written to the extract tables, gated by the GX suite and
published, and what was published is scored. No Dagster, so one command gives one number quickly.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kpi_pipeline.calibration.apply import map_key
from kpi_pipeline.calibration.mapfile import find_map
from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.evaluation import calibration_report, score
from kpi_pipeline.extraction.pipeline import RawDay, extract_days
from kpi_pipeline.extraction.schema import ExtractionBackend
from kpi_pipeline.orchestration.estimate import raw_days_from_sources
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.extract_io import write_day
from kpi_pipeline.warehouse.publish import by_period_metrics, ensure_kpi_schema, publish_gate
from kpi_pipeline.warehouse.tables import LLM_CALLS, METRIC_CANDIDATES, METRIC_VALUES


class DatasetError(ValueError):
    """The folder is not an evaluation dataset."""


def truth_of(dataset: Path) -> pd.DataFrame:
    path = dataset / "truth.csv"
    if not path.is_file():
        raise DatasetError(f"{path} not found: a dataset folder has slack/, jira/, docs/, metrics.yaml and truth.csv")
    truth = pd.read_csv(path, dtype={"metric": "str", "value": "float64"})
    missing = {"date", "metric", "value"} - set(truth.columns)
    if missing:
        raise DatasetError(f"{path}: missing column(s) {sorted(missing)}; expected date,metric,value")
    return truth


def read_dataset_days(dataset: Path, days: list[date]) -> dict[date, RawDay]:
    """Each day's raw rows from the dataset's slack/, jira/ and docs/, as the ingest assets read them; a
    dataset may hold any subset of them."""
    return raw_days_from_sources(
        SlackSource(source=str(dataset / "slack"), from_dataset=True),
        JiraSource(source=str(dataset / "jira"), from_dataset=True),
        DocsSource(source=str(dataset / "docs"), from_dataset=True),
        days,
    )


def dataset_name(dataset: Path) -> str:
    """How a calibration map names a dataset it was fitted on: its folder's name (`demo`, `pypi_blog`)."""
    return dataset.resolve().name


def evaluate_dataset(dataset: Path, backend: ExtractionBackend, scratch: Path | None = None) -> dict[str, Any]:
    """Scores (see kpi_pipeline.evaluation.score) of the dataset's days run through the real pipeline path,
    with the backend's calibration map (KPI_CALIBRATION_DIR, else calibration/) applied as a run would."""
    truth = truth_of(dataset)
    catalog = load_catalog(dataset / "metrics.yaml")
    days = sorted(pd.to_datetime(truth["date"]).dt.date.unique())
    cmap = find_map(map_key(backend.name, backend.model))
    with tempfile.TemporaryDirectory(prefix="kpi-eval-") as tmp:
        wh = open_warehouse(f"duckdb:///{(scratch or Path(tmp)) / 'eval.duckdb'}")
        wh.ensure_tables()
        ensure_kpi_schema(wh)
        extracted = extract_days(read_dataset_days(dataset, days), catalog, backend, calibration=cmap)
        now = datetime.now(UTC)
        with wh.session():
            for day in days:
                write_day(wh, day, extracted[day], "eval", now)
            values = wh.query_df(f"SELECT * FROM {METRIC_VALUES.qualified}")
            gate = run_gate(values, catalog, days)
            outcome = publish_gate(wh, gate, "eval", now, by_period_metrics(catalog))
            published = wh.query_df("SELECT metric_id, day, value, confidence, status FROM kpi.fct_metric_daily")
            candidates = wh.query_df(f"SELECT * FROM {METRIC_CANDIDATES.qualified}")
            calls = wh.query_df(f"SELECT * FROM {LLM_CALLS.qualified}")
    report = score(truth, published, candidates, calls)
    report["days"] = len(days)
    report["quarantined"] = len(gate.quarantine)
    report["held_days"] = len(outcome.held)
    report["held"] = [{"day": d.day.isoformat(), "reason": d.reason} for d in outcome.held]
    report["unread"] = sum(d.unread for d in gate.days)
    report["backend"], report["model"] = backend.name, backend.model
    report["calibration"] = calibration_report(truth, values, cmap, dataset_name(dataset))
    return report
