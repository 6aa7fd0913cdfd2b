"""What the insights read from the warehouse: published facts, their evidence, and the versions days were read with."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.insights.anomaly import WINDOW_DAYS, Point, find_anomalies, series_from_frames
from kpi_pipeline.insights.digest import DigestInputs
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


def read_history(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """Every version (kpi.fct_metric_history) of the values restated in [first, last]."""
    df = wh.query_df(
        "SELECT h.metric_id, h.day, h.value, h.valid_from, h.reason FROM kpi.fct_metric_history AS h "
        "WHERE EXISTS (SELECT 1 FROM kpi.fct_metric_history AS n WHERE n.metric_id = h.metric_id AND n.day = h.day "
        "AND CAST(n.valid_from AS DATE) BETWEEN ? AND ?)",
        [first, last],
    )
    return dated(df, "day")


def read_digest_inputs(wh: Warehouse, week_start: date) -> tuple[DigestInputs, list[str]]:
    """Everything the digest of the week starting `week_start` reads, and notes on what could not be read."""
    week_end = week_start + timedelta(days=6)
    first = week_start - timedelta(days=WINDOW_DAYS)
    facts, evidence = read_facts(wh, first, week_end), read_evidence(wh, first, week_end)
    series = series_from_frames(facts, evidence, read_catalog_versions(wh, first, week_end))
    week = [week_start + timedelta(days=i) for i in range(7)]
    history = read_history(wh, week_start, week_end)
    inputs = DigestInputs(
        facts=facts,
        evidence=evidence,
        quarantine=dated(
            wh.query_df(
                "SELECT metric_id, day, value, confidence, reasons, evidence FROM kpi.metric_quarantine "
                "WHERE day BETWEEN ? AND ? ORDER BY metric_id, day",
                [week_start, week_end],
            ),
            "day",
        ),
        metrics=wh.query_df("SELECT metric_id, unit, direction FROM kpi.dim_metric ORDER BY metric_id"),
        progress=dated(
            wh.query_df(
                "SELECT objective_id, objective_title, key_result_no, metric_id, day, value, is_carried, baseline, "
                "target, progress, expected_progress, status FROM kpi.okr_progress WHERE day BETWEEN ? AND ?",
                [week_start - timedelta(days=1), week_end],
            ),
            "day",
        ),
        history=history,
        anomalies=tuple(find_anomalies(series, week)),
    )
    return inputs, []


def read_alert_inputs(wh: Warehouse) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The latest okr_progress row of each key result of the quarter being published, the recent conflict days
    (with extract.metric_values' conflicting readings), and the evidence of both; empty before anything is published."""
    latest = wh.scalar("SELECT MAX(day) FROM kpi.fct_metric_daily")
    if latest is None or pd.isna(latest):
        empty = pd.DataFrame()
        return (
            empty,
            pd.DataFrame(columns=["metric_id", "day", "value", "conflict"]),
            pd.DataFrame(columns=["metric_id", "day", "quote", "url"]),
        )
    last = as_day(latest)
    key_results = dated(
        wh.query_df(
            """
            WITH latest AS (
                SELECT objective_id, key_result_no, MAX(day) AS day FROM kpi.okr_progress
                GROUP BY objective_id, key_result_no
            )
            SELECT p.objective_id, p.objective_title, p.key_result_no, p.metric_id, p.day, p.value, p.target,
                   p.progress, p.expected_progress, p.status
            FROM kpi.okr_progress AS p
            JOIN latest AS l ON l.objective_id = p.objective_id AND l.key_result_no = p.key_result_no AND l.day = p.day
            JOIN kpi.okr_objectives AS o ON o.objective_id = p.objective_id
            WHERE ? BETWEEN o.quarter_start AND o.quarter_end
            ORDER BY p.objective_id, p.key_result_no
            """,
            [last],
        ),
        "day",
    )
    first = last - timedelta(days=14)
    conflicts = dated(
        wh.query_df(
            "SELECT f.metric_id, f.day, f.value, v.conflict FROM kpi.fct_metric_daily AS f "
            "LEFT JOIN extract.metric_values AS v ON v.metric_id = f.metric_id AND v.day = f.day "
            "WHERE f.status = 'conflict' AND f.day BETWEEN ? AND ? ORDER BY f.metric_id, f.day",
            [first, last],
        ),
        "day",
    )
    return key_results, conflicts, read_evidence(wh, first - timedelta(days=90), last)
