"""`kpi-pipeline sql` queries the configured warehouse read-only on both engines, and the demo's closing hint
is a command that works as printed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.cli import _summary
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog
from kpi_pipeline.warehouse.tables import FCT_METRIC_DAILY

REPO = Path(__file__).resolve().parents[1]
FACTS = "SELECT metric_id, day, value FROM kpi.fct_metric_daily ORDER BY metric_id"


def publish(wh: Warehouse) -> None:
    """The demo catalog and two published values, as a run leaves them."""
    ensure_kpi_schema(wh)
    publish_catalog(wh, load_catalog(REPO / "metrics.yaml"))
    rows = pd.DataFrame(
        {
            "metric_id": ["api_error_rate", "p95_latency_ms"],
            "day": [date(2026, 7, 1)] * 2,
            "value": [3.2, 410.0],
            "confidence": [0.9, 0.85],
            "status": ["ok", "ok"],
            "n_sources": [2, 1],
            "model": ["offline"] * 2,
            "prompt_version": ["v1"] * 2,
            "run_id": ["r1"] * 2,
            "published_at": [datetime(2026, 7, 2, tzinfo=UTC)] * 2,
        }
    )
    with wh.transaction() as tx:
        tx.insert_df(FCT_METRIC_DAILY, rows)


def sql(cwd: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "sql", *args]
    full_env = {**os.environ, **env}
    return subprocess.run(cmd, cwd=cwd, env=full_env, input=stdin, capture_output=True, text=True, timeout=120)


def refusal(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    return line


def published(url: str) -> list[tuple[str, float]]:
    df = open_warehouse(url).query_df("SELECT metric_id, value FROM kpi.fct_metric_daily ORDER BY metric_id")
    return list(df.itertuples(index=False, name=None))


def test_a_select_prints_a_table_with_a_row_count(warehouse: Warehouse, warehouse_url: str, tmp_path: Path) -> None:
    publish(warehouse)
    proc = sql(tmp_path, FACTS, KPI_WAREHOUSE_URL=warehouse_url)
    assert proc.returncode == 0, proc.stderr
    header, rule, *rows, count = proc.stdout.splitlines()
    assert header.split() == ["metric_id", "|", "day", "|", "value"]
    assert set(rule) <= {"-", "+"}
    assert [r.split() for r in rows] == [
        ["api_error_rate", "|", "2026-07-01", "|", "3.2"],
        ["p95_latency_ms", "|", "2026-07-01", "|", "410.0"],
    ]
    assert count == "(2 rows)"


def test_the_query_can_come_from_stdin_or_a_file_and_print_as_csv(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path
) -> None:
    publish(warehouse)
    expected = "metric_id,day,value\napi_error_rate,2026-07-01,3.2\np95_latency_ms,2026-07-01,410.0\n"
    from_stdin = sql(tmp_path, "--csv", stdin=FACTS, KPI_WAREHOUSE_URL=warehouse_url)
    assert (from_stdin.returncode, from_stdin.stdout) == (0, expected), from_stdin.stderr
    (tmp_path / "q.sql").write_text(FACTS + ";\n")
    from_file = sql(tmp_path, "-f", "q.sql", "--csv", KPI_WAREHOUSE_URL=warehouse_url)
    assert (from_file.returncode, from_file.stdout) == (0, expected), from_file.stderr


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM kpi.fct_metric_daily",
        "UPDATE kpi.fct_metric_daily SET value = 0",
        "SELECT 1; DELETE FROM kpi.fct_metric_daily",
        "COMMIT; DELETE FROM kpi.fct_metric_daily",
    ],
)
def test_a_statement_that_writes_is_refused_and_changes_nothing(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, statement: str
) -> None:
    publish(warehouse)
    before = published(warehouse_url)
    line = refusal(sql(tmp_path, statement, KPI_WAREHOUSE_URL=warehouse_url))
    assert line.startswith("kpi-pipeline sql: ")
    assert published(warehouse_url) == before and len(before) == 2


def test_a_query_error_is_one_line(warehouse: Warehouse, warehouse_url: str, tmp_path: Path) -> None:
    line = refusal(sql(tmp_path, "SELECT * FROM kpi.no_such_table", KPI_WAREHOUSE_URL=warehouse_url))
    assert "no_such_table" in line


def test_a_reader_that_stops_early_gets_its_rows_and_no_traceback(warehouse: Warehouse, warehouse_url: str) -> None:
    """`kpi-pipeline sql ... | head`: the output fills the pipe, the reader closes it after one line."""
    publish(warehouse)
    many = "SELECT repeat('x', 50) AS pad, d.metric_id FROM kpi.dim_metric d, kpi.dim_metric a, kpi.dim_metric b"
    env = {**os.environ, "KPI_WAREHOUSE_URL": warehouse_url}
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "sql", many]
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().split()[:3] == ["pad", "|", "metric_id"]
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 141
    assert err == "", err


def test_a_missing_duckdb_file_says_how_to_make_one(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'none.duckdb'}"
    line = refusal(sql(tmp_path, "SELECT 1", KPI_WAREHOUSE_URL=url))
    assert f"no warehouse at {tmp_path / 'none.duckdb'}" in line and "make demo" in line
    assert not (tmp_path / "none.duckdb").exists()


def test_the_demo_summary_hint_works_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the folder the demo ran in, with the default warehouse, the hint prints the OKR progress."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_WAREHOUSE_URL", raising=False)
    wh = open_warehouse("duckdb:///data/warehouse.duckdb")
    wh.ensure_tables()
    publish(wh)
    summary = _summary({"DAGSTER_HOME": str(tmp_path / ".dagster_home")}, 1.0)
    assert "Warehouse duckdb:///data/warehouse.duckdb:" in summary
    (hint,) = [line for line in summary.splitlines() if line.startswith("Query it: ")]
    command = hint.removeprefix("Query it: ").split("  (", 1)[0]
    assert command.endswith(" sql 'SELECT * FROM kpi.okr_progress'")
    env = {k: v for k, v in os.environ.items() if k != "KPI_WAREHOUSE_URL"}
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0]
    assert {"objective_id", "key_result_no", "metric_id", "progress", "status"} <= set(header.replace("|", " ").split())
    assert "api_error_rate" in proc.stdout and proc.stdout.rstrip().endswith("rows)")


def test_the_summary_names_the_warehouse_without_its_password(postgres_url: str) -> None:
    wh = open_warehouse(postgres_url)
    wh.ensure_tables()
    ensure_kpi_schema(wh)
    with_password = postgres_url.replace("postgres@", "postgres:s3cret@", 1)  # trust auth ignores it
    summary = _summary({"DAGSTER_HOME": "/tmp/home", "KPI_WAREHOUSE_URL": with_password}, 1.0)
    assert "s3cret" not in summary
    assert f"Warehouse {postgres_url.replace('postgres@', 'postgres:***@', 1)}:" in summary
