"""What the insights read from the warehouse: published facts, their evidence, and the versions days were read with."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.insights.anomaly import WINDOW_DAYS, Point, series_from_frames
from kpi_pipeline.warehouse import Warehouse


def as_day(value: Any) -> date:
    return pd.Timestamp(value).date()


def dated(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Date columns as `datetime.date` whatever the engine returned."""
    for column in columns:
        if column in df.columns:
            df[column] = [as_day(v) if v is not None and not pd.isna(v) else None for v in df[column]]
    return df


def table_exists(wh: Warehouse, schema: str, name: str) -> bool:
    found = wh.scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    )
    return bool(found)


def read_facts(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    return dated(
        wh.query_df(
            "SELECT metric_id, day, value, confidence, status, n_sources, model, prompt_version "
            "FROM kpi.fct_metric_daily WHERE day BETWEEN ? AND ? ORDER BY metric_id, day",
            [first, last],
        ),
        "day",
    )


def read_evidence(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    return dated(
        wh.query_df(
            "SELECT metric_id, day, evidence_no, source_type, source_id, url, quote FROM kpi.fct_metric_evidence "
            "WHERE day BETWEEN ? AND ? ORDER BY metric_id, day, evidence_no",
            [first, last],
        ),
        "day",
    )


def read_catalog_versions(wh: Warehouse, first: date, last: date) -> dict[date, str]:
    """The catalog version each day was extracted with (extract.day_status), when that table exists."""
    if not table_exists(wh, "extract", "day_status"):
        return {}
    df = wh.query_df("SELECT day, catalog_version FROM extract.day_status WHERE day BETWEEN ? AND ?", [first, last])
    return {as_day(r.day): str(r.catalog_version) for r in df.itertuples(index=False)}


def read_series(wh: Warehouse, first: date, last: date) -> dict[str, list[Point]]:
    """Each metric's published series from `WINDOW_DAYS` before `first` to `last`: enough to score [first, last]."""
    start = first - timedelta(days=WINDOW_DAYS)
    return series_from_frames(
        read_facts(wh, start, last), read_evidence(wh, start, last), read_catalog_versions(wh, start, last)
    )
