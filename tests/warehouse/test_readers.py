"""BI tools read the embedded warehouse while the pipeline writes it: through the reader copy beside it,
`warehouse.read.duckdb`, opened read-only by another process (as `duckdb -readonly` or a BI driver does).

The writer holds data/warehouse.duckdb for a whole step; DuckDB lets no other process open a file a writer
has open, so readers use the copy, which every write session publishes when it releases the file."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
from tests.quality.synthetic import CATALOG, clean_day, store

D1, D2, D3 = date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)
PER_DAY = 3  # a clean day publishes three metrics and abstains on the fourth

READ = """
import sys, duckdb
try:
    con = duckdb.connect(sys.argv[1], read_only=True)
except duckdb.Error as exc:
    print("cannot open:", str(exc).splitlines()[0], flush=True)
    raise SystemExit(0)
while True:
    print(con.execute("SELECT count(*) FROM kpi.fct_metric_daily").fetchone()[0], flush=True)
    if not sys.stdin.readline():  # another line on stdin: query again on the same connection
        break
"""


def publish(wh: Warehouse, day: date) -> None:
    rows = clean_day(day)
    store(wh, rows, [day])
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, [day]), CATALOG, [day])
    publish_gate(wh, gate, "run-1", datetime(2026, 7, 8, tzinfo=UTC))


def read_once(path: Path) -> str:
    """What a BI process that opens `path` read-only and counts the published values sees."""
    done = subprocess.run([sys.executable, "-c", READ, str(path)], input="", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    warehouse.ensure_tables()
    publish(warehouse, D1)
    return warehouse


def test_a_reader_process_reads_the_published_days_while_a_step_holds_the_warehouse(
    wh: Warehouse, tmp_path: Path
) -> None:
    reader_copy = tmp_path / "warehouse.read.duckdb"
    with wh.session():  # a pipeline step: the writer keeps the file open until the step ends
        publish(wh, D2)
        assert read_once(tmp_path / "warehouse.duckdb").startswith("cannot open:")  # why the copy exists
        assert read_once(reader_copy) == str(PER_DAY)  # the last released state: day 1, never half of day 2
    assert read_once(reader_copy) == str(2 * PER_DAY)  # the step released the file: day 2 is there


def test_a_reader_holding_the_copy_open_never_blocks_the_writer(wh: Warehouse, tmp_path: Path) -> None:
    reader_copy = tmp_path / "warehouse.read.duckdb"
    bi = subprocess.Popen(
        [sys.executable, "-c", READ, str(reader_copy)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert bi.stdin is not None and bi.stdout is not None
    try:
        assert bi.stdout.readline().strip() == str(PER_DAY)  # connected, and keeps the connection open
        publish(wh, D2)  # would wait for (or fail on) the reader's lock if both used one file
        publish(wh, D3)
        assert read_once(reader_copy) == str(3 * PER_DAY)  # a new connection sees the new days
        bi.stdin.write("\n")
        bi.stdin.flush()
        assert bi.stdout.readline().strip() == str(PER_DAY)  # the open one keeps its consistent snapshot
    finally:
        bi.stdin.close()
        bi.wait(30)


def test_sessions_that_only_read_do_not_rewrite_the_copy(wh: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.read.duckdb"
    before = os.stat(copy)
    assert len(wh.query_df("SELECT * FROM kpi.fct_metric_daily")) == PER_DAY
    with wh.session():
        wh.scalar("SELECT count(*) FROM kpi.okr_progress")
    ensure_kpi_schema(wh)  # up to date: nothing to write
    assert os.stat(copy).st_ino == before.st_ino


def test_a_write_that_fails_leaves_the_copy_at_the_last_good_state(wh: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.read.duckdb"
    with pytest.raises(RuntimeError), wh.transaction() as tx:
        tx.execute("DELETE FROM kpi.fct_metric_daily")
        raise RuntimeError("the step failed half-way")
    assert read_once(copy) == str(PER_DAY)
    assert wh.scalar("SELECT count(*) FROM kpi.fct_metric_daily") == PER_DAY


def test_sessions_inside_one_reader_refresh_publish_one_copy_at_its_end(wh: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.read.duckdb"
    before = os.stat(copy).st_ino
    with wh.one_reader_refresh():  # extraction writes a range chunk by chunk, each chunk a session
        publish(wh, D2)
        publish(wh, D3)
        assert os.stat(copy).st_ino == before  # no copy per session
        assert read_once(copy) == str(PER_DAY)
    assert read_once(copy) == str(3 * PER_DAY)  # one copy, with both chunks


def test_a_failing_block_still_publishes_what_its_sessions_committed(wh: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.read.duckdb"
    with pytest.raises(RuntimeError, match="chunk 2 failed"), wh.one_reader_refresh():
        publish(wh, D2)
        raise RuntimeError("chunk 2 failed")
    assert read_once(copy) == str(2 * PER_DAY)  # as a session-by-session refresh would have left it


def test_a_block_whose_sessions_only_read_publishes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.read.duckdb"
    before = os.stat(copy).st_ino
    with wh.one_reader_refresh(), wh.session():
        wh.scalar("SELECT count(*) FROM kpi.fct_metric_daily")
    assert os.stat(copy).st_ino == before
