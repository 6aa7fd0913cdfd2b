"""Publishing (and gating, for the range's check) a range chunk by chunk: the same tables, outcomes and figures as
one gate over the range, and a range-wide problem anywhere in the range refuses it before any chunk is written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import (
    PublishBlocked,
    ensure_kpi_schema,
    gate_range,
    publish_catalog,
    publish_gate,
    publish_range,
    read_metric_values,
)
from kpi_pipeline.warehouse.tables import METRIC_VALUES
from tests.quality.synthetic import CATALOG, clean_day, planted_days, store
from tests.warehouse.test_publish import tables

START = date(2026, 7, 1)
ROWS_DAYS = [START + timedelta(days=i) for i in range(6)]
DAYS = [*ROWS_DAYS, START + timedelta(days=6)]  # the last day has no rows: held back
NOW = datetime(2026, 7, 8, 6, 0, tzinfo=UTC)


def _ready(wh: Warehouse) -> Warehouse:
    wh.ensure_tables()
    store(wh, planted_days(ROWS_DAYS), ROWS_DAYS)
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    return wh


def test_a_range_published_in_chunks_writes_what_one_gate_over_the_range_writes(tmp_path: Path) -> None:
    whole_wh, chunked_wh = (_ready(open_warehouse(f"duckdb:///{tmp_path / n}.duckdb")) for n in ("whole", "chunked"))
    gate = run_gate(read_metric_values(whole_wh, DAYS), CATALOG, DAYS)
    whole = publish_gate(whole_wh, gate, "run", NOW)
    chunked = publish_range(chunked_wh, CATALOG, DAYS, "run", NOW, chunk_days=3)  # 3 + 3 + 1 days
    assert chunked.published == whole
    assert chunked.gate_days == gate.days
    assert [d.day for d in whole.held] == [DAYS[-1]] and sum(whole.rows.values()) > 0
    assert tables(chunked_wh) == tables(whole_wh)


def _without_key(wh: Warehouse) -> None:
    """extract.metric_values as a table made before it had its key: duplicates can be stored."""
    with wh.transaction() as tx:
        tx.execute(f"CREATE TABLE extract.metric_values_copy AS SELECT * FROM {METRIC_VALUES.qualified}")
        tx.execute(f"DROP TABLE {METRIC_VALUES.qualified}")
        tx.execute("ALTER TABLE extract.metric_values_copy RENAME TO metric_values")


def test_duplicates_in_the_last_chunk_refuse_the_range_before_the_first_chunk_is_written(
    warehouse: Warehouse,
) -> None:
    _ready(warehouse)
    before = tables(warehouse)
    _without_key(warehouse)
    with warehouse.transaction() as tx:
        tx.insert_df(METRIC_VALUES, clean_day(ROWS_DAYS[-1]))  # a second row for every metric of the last day
    with pytest.raises(PublishBlocked, match=r"nothing was published: one_row_per_metric_day: .*\(8 rows, e\.g\."):
        publish_range(warehouse, CATALOG, DAYS, "run", NOW, chunk_days=2)
    assert tables(warehouse) == before


def test_a_schema_problem_refuses_the_range_at_its_first_chunk(warehouse: Warehouse) -> None:
    _ready(warehouse)
    before = tables(warehouse)
    with warehouse.transaction() as tx:
        # DuckDB alters no table an index depends on: the day index goes first
        tx.execute(f"DROP INDEX IF EXISTS {METRIC_VALUES.schema}.{METRIC_VALUES.schema}_{METRIC_VALUES.name}_day_idx")
        tx.execute(f"ALTER TABLE {METRIC_VALUES.qualified} DROP COLUMN n_sources")
    with pytest.raises(PublishBlocked, match=r"nothing was published: schema: ") as refused:
        publish_range(warehouse, CATALOG, DAYS, "run", NOW, chunk_days=2)
    assert refused.value.before == () and refused.value.gate is not None
    assert tables(warehouse) == before


def test_a_range_gated_in_chunks_finds_what_one_gate_over_the_range_finds(warehouse: Warehouse) -> None:
    _ready(warehouse)
    _without_key(warehouse)
    with warehouse.transaction() as tx:
        tx.insert_df(METRIC_VALUES, clean_day(ROWS_DAYS[-1]))  # duplicates in the last chunk: range-wide
    whole = run_gate(read_metric_values(warehouse, DAYS), CATALOG, DAYS)
    chunked = gate_range(warehouse, CATALOG, DAYS, chunk_days=2)
    assert chunked.days == whole.days and chunked.held_days == whole.held_days
    assert chunked.rule_counts == whole.rule_counts
    assert [p.split(" (")[0] for p in chunked.structural] == [p.split(" (")[0] for p in whole.structural]
    assert chunked.blocked and "one_row_per_metric_day" in chunked.structural[0]
    pd.testing.assert_frame_equal(chunked.quarantine, whole.quarantine)
    assert chunked.publish.empty and not whole.publish.empty  # the days' counts say what publishes
