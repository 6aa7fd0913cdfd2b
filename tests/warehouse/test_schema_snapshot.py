"""The kpi schema is the BI contract: any change of a published table, view, column name or type fails here.

If a change is intended, it is a breaking change for BI users: update this snapshot, docs/warehouse.md
and the release notes together.
"""

from __future__ import annotations

from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import VIEWS, ensure_kpi_schema
from kpi_pipeline.warehouse.tables import KPI_TABLES

SNAPSHOT = {
    "dim_metric": (
        "TABLE: metric_id TEXT, description TEXT, unit TEXT, direction TEXT, min_value DOUBLE PRECISION, "
        "max_value DOUBLE PRECISION, min_confidence DOUBLE PRECISION, direction_source TEXT, kind TEXT, "
        "flow_window TEXT, additivity TEXT, series_rule TEXT"
    ),
    "fct_metric_daily": (
        "TABLE: metric_id TEXT, day DATE, value DOUBLE PRECISION, confidence DOUBLE PRECISION, "
        "confidence_raw DOUBLE PRECISION, status TEXT, n_sources INTEGER, model TEXT, prompt_version TEXT, "
        "run_id TEXT, published_at TIMESTAMPTZ, period_start DATE, period_end DATE, reported_at TIMESTAMPTZ"
    ),
    "fct_metric_daily_filled": (
        "VIEW: metric_id TEXT, day DATE, value DOUBLE PRECISION, confidence DOUBLE PRECISION, status TEXT, "
        "value_day DATE, is_carried BOOLEAN"
    ),
    "fct_metric_history": (
        "TABLE: metric_id TEXT, day DATE, version INTEGER, value DOUBLE PRECISION, confidence DOUBLE PRECISION, "
        "status TEXT, model TEXT, prompt_version TEXT, catalog_version TEXT, reason TEXT, note TEXT, run_id TEXT, "
        "valid_from TIMESTAMPTZ, valid_to TIMESTAMPTZ"
    ),
    "fct_metric_evidence": (
        "TABLE: metric_id TEXT, day DATE, evidence_no INTEGER, source_type TEXT, source_id TEXT, url TEXT, quote TEXT"
    ),
    "metric_quarantine": (
        "TABLE: metric_id TEXT, day DATE, value DOUBLE PRECISION, confidence DOUBLE PRECISION, reasons TEXT, "
        "evidence TEXT, run_id TEXT"
    ),
    "okr_key_results": (
        "TABLE: objective_id TEXT, key_result_no INTEGER, metric_id TEXT, baseline DOUBLE PRECISION, "
        "target DOUBLE PRECISION"
    ),
    "okr_objectives": (
        "TABLE: objective_id TEXT, title TEXT, quarter TEXT, quarter_start DATE, quarter_end DATE, "
        "at_risk_below DOUBLE PRECISION, off_track_below DOUBLE PRECISION"
    ),
    "okr_progress": (
        "VIEW: objective_id TEXT, objective_title TEXT, quarter TEXT, key_result_no INTEGER, metric_id TEXT, "
        "day DATE, value DOUBLE PRECISION, is_carried BOOLEAN, baseline DOUBLE PRECISION, target DOUBLE PRECISION, "
        "progress DOUBLE PRECISION, expected_progress DOUBLE PRECISION, status TEXT"
    ),
    "weekly_digest": (
        "TABLE: week_start DATE, week_end DATE, digest TEXT, text TEXT, slack_channel TEXT, slack_ts TEXT, "
        "posted_at TIMESTAMPTZ, run_id TEXT, computed_at TIMESTAMPTZ"
    ),
}
KEYS = {
    "dim_metric": ("metric_id",),
    "fct_metric_daily": ("metric_id", "day"),
    "fct_metric_evidence": ("metric_id", "day", "evidence_no"),
    "fct_metric_history": ("metric_id", "day", "version"),
    "metric_quarantine": ("metric_id", "day"),
    "okr_objectives": ("objective_id",),
    "okr_key_results": ("objective_id", "key_result_no"),
    "weekly_digest": ("week_start",),
}

# both engines' information_schema spellings -> the portable names above
PORTABLE = {
    "varchar": "TEXT",
    "text": "TEXT",
    "double": "DOUBLE PRECISION",
    "double precision": "DOUBLE PRECISION",
    "integer": "INTEGER",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "timestamp with time zone": "TIMESTAMPTZ",
}


def published_schema(wh: Warehouse) -> dict[str, str]:
    df = wh.query_df(
        """SELECT c.table_name, t.table_type, c.column_name, c.data_type
           FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
           WHERE c.table_schema = 'kpi' ORDER BY c.table_name, c.ordinal_position"""
    )
    columns: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for table, kind, column, type_ in df.itertuples(index=False):
        kinds[table] = "VIEW" if kind == "VIEW" else "TABLE"
        columns.setdefault(table, []).append(f"{column} {PORTABLE.get(str(type_).lower(), type_)}")
    return {t: f"{kinds[t]}: {', '.join(cols)}" for t, cols in columns.items()}


def test_published_tables_and_views_match_the_snapshot(warehouse: Warehouse) -> None:
    ensure_kpi_schema(warehouse)
    assert published_schema(warehouse) == SNAPSHOT


def test_declared_contracts_match_the_snapshot() -> None:
    """The definitions docs and code read (tables.py, publish.VIEWS) agree with what the engines create."""
    declared = {t.name: f"TABLE: {', '.join(f'{c.name} {c.type}' for c in t.columns)}" for t in KPI_TABLES}
    declared |= {v.name: f"VIEW: {', '.join(f'{c.name} {c.type}' for c in v.columns)}" for v in VIEWS}
    assert declared == SNAPSHOT
    assert {t.name: t.key for t in KPI_TABLES} == KEYS
