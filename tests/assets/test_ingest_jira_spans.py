"""raw_jira over a range writes, on both engines, every day's rows of the plain per-day rebuild
(tests/sources/jira_oracle.py): issues copied from the staged spans, events from the frames."""

from __future__ import annotations

import gc
import math
import weakref
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import materialize

from kpi_pipeline.assets.ingest import raw_jira
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.sources.jira_export import read_export_folder
from kpi_pipeline.sources.jira_history import EVENT_COLUMNS, ISSUE_COLUMNS
from kpi_pipeline.warehouse import open_warehouse
from tests.sources.jira_oracle import build_timelines, rows_for_day

FIRST, LAST = date(2026, 8, 20), date(2026, 9, 30)


def _value(value: Any) -> Any:
    """One cell as both engines' readers and the oracle's frames can agree on it."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, date)) and hasattr(value, "hour"):
        return pd.Timestamp(value).tz_convert("UTC").isoformat()
    return float(value) if isinstance(value, (int, float)) else str(value)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(_value(v) for v in row) for row in frame[columns].itertuples(index=False)]


def test_every_day_of_a_range_holds_the_rebuilds_rows(tmp_path: Path, warehouse_url: str) -> None:
    folder = generate_dataset(tmp_path / "demo", seed=7, days=92).out_dir / "jira"
    result = materialize(
        [raw_jira],
        resources={"jira": JiraSource(source=str(folder)), "warehouse": WarehouseResource(url=warehouse_url)},
        tags={
            "dagster/asset_partition_range_start": FIRST.isoformat(),
            "dagster/asset_partition_range_end": LAST.isoformat(),
        },
    )
    assert result.success

    export = read_export_folder(folder)
    timelines = build_timelines(export.issues, export.custom_fields)
    wh = open_warehouse(warehouse_url)
    issue_columns = [c for c in ISSUE_COLUMNS if c != "day"]
    event_columns = [c for c in EVENT_COLUMNS if c != "day"]
    # DuckDB keeps a table's insertion order (rowid): the rows read back in the order they were written
    in_order = wh.engine == "duckdb"
    day = FIRST
    while day <= LAST:
        issues, events = rows_for_day(timelines, day)
        written = _rows(
            wh.query_df(f"SELECT * FROM raw.jira_issues WHERE day = ?{' ORDER BY rowid' if in_order else ''}", [day]),
            issue_columns,
        )
        expected = _rows(issues, issue_columns)
        assert (written if in_order else sorted(written)) == (expected if in_order else sorted(expected)), day
        written_events = wh.query_df("SELECT * FROM raw.jira_events WHERE day = ?", [day])
        assert sorted(_rows(written_events, event_columns)) == sorted(_rows(events, event_columns)), day
        day += timedelta(days=1)
    assert len(issues) > 100


def test_the_step_does_not_keep_the_spans_once_its_rows_are_written(tmp_path: Path, warehouse_url: str) -> None:
    """The run goes on to extraction in the same process: the export's spans must not stay beside it."""
    folder = generate_dataset(tmp_path / "demo", seed=7, days=30).out_dir / "jira"
    source = JiraSource(source=str(folder))
    held = weakref.ref(source.spans(LAST))  # the same object the step reads from the process cache
    result = materialize(
        [raw_jira],
        resources={"jira": source, "warehouse": WarehouseResource(url=warehouse_url)},
        tags={
            "dagster/asset_partition_range_start": (LAST - timedelta(days=2)).isoformat(),
            "dagster/asset_partition_range_end": LAST.isoformat(),
        },
    )
    gc.collect()

    assert result.success
    assert held() is None
