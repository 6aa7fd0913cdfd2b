"""OKR progress for a lower-is-better key result, and the resolved direction in kpi.dim_metric, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
from tests.quality.synthetic import frame, metric_row, store

# error_rate has no direction of its own: its key result (5.0 -> 1.0) makes it lower_is_better
CATALOG = parse_catalog(
    {
        "metrics": [
            {"id": "error_rate", "description": "Failed requests, in percent", "unit": "percent"},
            {"id": "signups", "description": "New accounts", "unit": "count", "direction": "higher_is_better"},
            {"id": "p95_latency_ms", "description": "95th percentile latency", "unit": "ms"},
        ],
        "objectives": [
            {
                "id": "reliable",
                "title": "Reliable",
                "quarter": "2026-Q3",
                "key_results": [
                    {"metric": "error_rate", "baseline": 5.0, "target": 1.0},
                    {"metric": "signups", "baseline": 100, "target": 200},
                ],
            }
        ],
    }
)
DAYS = [date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)]


def _publish(wh: Warehouse, error_rates: list[float]) -> None:
    rows = pd.concat(
        [
            frame(metric_row("error_rate", d, v), metric_row("signups", d, 150.0))
            for d, v in zip(DAYS, error_rates, strict=True)
        ]
    )
    store(wh, rows, DAYS)
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, DAYS), CATALOG, DAYS)
    publish_gate(wh, gate, "publish-run", datetime(2026, 7, 4, 6, tzinfo=UTC))


def _rows(df: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(row) for row in df.itertuples(index=False)]


def test_dim_metric_holds_the_written_inferred_or_unknown_direction(warehouse: Warehouse) -> None:
    ensure_kpi_schema(warehouse)
    publish_catalog(warehouse, CATALOG)
    dims = warehouse.query_df("SELECT metric_id, direction, direction_source FROM kpi.dim_metric ORDER BY metric_id")
    assert _rows(dims) == [
        ("error_rate", "lower_is_better", "key_result"),
        ("p95_latency_ms", "unknown", "unknown"),
        ("signups", "higher_is_better", "catalog"),
    ]


def test_a_lower_is_better_key_result_progresses_as_its_value_falls(warehouse: Warehouse) -> None:
    _publish(warehouse, [2.0, 1.0, 6.0])
    progress = warehouse.query_df(
        "SELECT day, value, progress, status FROM kpi.okr_progress WHERE metric_id = 'error_rate' ORDER BY day"
    )
    assert progress["value"].tolist() == [2.0, 1.0, 6.0]
    # 5.0 -> 2.0 is three quarters of the way to 1.0; at the target it is done; above the baseline it went back
    assert progress["progress"].round(6).tolist() == [0.75, 1.0, -0.25]
    assert progress["status"].tolist() == ["on_track", "on_track", "off_track"]


def test_any_value_above_the_baseline_is_negative_progress_and_off_track(warehouse: Warehouse) -> None:
    _publish(warehouse, [5.5, 7.0, 5.01])
    progress = warehouse.query_df("SELECT progress, status FROM kpi.okr_progress WHERE metric_id = 'error_rate'")
    assert (progress["progress"] < 0).all()
    assert set(progress["status"]) == {"off_track"}


def test_a_warehouse_made_before_direction_source_gets_the_column_and_keeps_its_rows_until_republished(
    warehouse_url: str,
) -> None:
    wh = open_warehouse(warehouse_url)
    wh.execute("CREATE SCHEMA IF NOT EXISTS kpi")
    wh.execute(
        "CREATE TABLE kpi.dim_metric (metric_id TEXT NOT NULL PRIMARY KEY, description TEXT NOT NULL, "
        "unit TEXT NOT NULL, direction TEXT NOT NULL, min_value DOUBLE PRECISION, max_value DOUBLE PRECISION, "
        "min_confidence DOUBLE PRECISION NOT NULL)"
    )
    wh.execute("INSERT INTO kpi.dim_metric VALUES ('error_rate', 'old', 'percent', 'higher_is_better', 0, 100, 0.7)")
    ensure_kpi_schema(wh)
    before = wh.query_df("SELECT metric_id, direction, direction_source FROM kpi.dim_metric")
    assert [(r[0], r[1], r[2] if isinstance(r[2], str) else None) for r in _rows(before)] == [
        ("error_rate", "higher_is_better", None)
    ]
    publish_catalog(wh, CATALOG)
    after = wh.query_df("SELECT direction, direction_source FROM kpi.dim_metric WHERE metric_id = 'error_rate'")
    assert _rows(after) == [("lower_is_better", "key_result")]
