"""Warehouse mistakes a user can fix end in one line naming the setting or path and what to do, never a
traceback, and never in writing somewhere the user did not mean."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kpi_pipeline.warehouse import WarehouseError, open_warehouse
from kpi_pipeline.warehouse.tables import RAW_DOCS
from tests.warehouse.test_engine import DAY1, docs_rows


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`kpi-pipeline ARGS` in a fresh process, as an ordinary user: root may write into any folder, so
    under root the process runs without the capabilities that let it (setpriv, from util-linux)."""
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", *args]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "shared"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)


def _backfill_into(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"KPI_WAREHOUSE_URL": url, "DAGSTER_HOME": str(tmp_path / "home"), "KPI_START_DATE": "2026-07-01"}
    (tmp_path / "home").mkdir(exist_ok=True)
    return run_cli(["backfill", "2026-07-01", "2026-07-01"], env)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_read_only_warehouse_folder_is_one_line_naming_the_folder(read_only_folder: Path, tmp_path: Path) -> None:
    read_only_folder.chmod(0o555)
    line = _one_line(_backfill_into(f"duckdb:///{read_only_folder / 'warehouse.duckdb'}", tmp_path))
    assert line.startswith("kpi-pipeline backfill: ")
    assert str(read_only_folder) in line and "writable" in line and "KPI_WAREHOUSE_URL" in line


def test_a_warehouse_whose_folder_turned_read_only_is_one_line_too(read_only_folder: Path, tmp_path: Path) -> None:
    path = read_only_folder / "warehouse.duckdb"
    wh = open_warehouse(f"duckdb:///{path}")
    wh.ensure_tables()
    wh.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 1))
    read_only_folder.chmod(0o555)  # the files are still writable; DuckDB's write-ahead log cannot be created
    script = (
        "from kpi_pipeline.warehouse import open_warehouse, WarehouseError\n"
        "from kpi_pipeline.warehouse.tables import RAW_DOCS\n"
        "from tests.warehouse.test_engine import DAY1, docs_rows\n"
        f"wh = open_warehouse({f'duckdb:///{path}'!r})\n"
        "try:\n"
        "    wh.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 2))\n"
        "except WarehouseError as exc:\n"
        "    print(exc)\n"
    )
    cmd = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert str(read_only_folder) in done.stdout and "writable" in done.stdout
    read_only_folder.chmod(0o755)
    assert wh.scalar("SELECT count(*) FROM raw.docs") == 1  # the day as it was


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://kpi:s3cret@db:5432",
        "postgresql://kpi:s3cret@db:5432/",
        "postgres://kpi:s3cret@db/?sslmode=require",
    ],
)
def test_a_postgres_url_without_a_database_is_refused_instead_of_writing_into_postgres(url: str) -> None:
    with pytest.raises(WarehouseError) as err:
        open_warehouse(url)
    message = str(err.value)
    assert "KPI_WAREHOUSE_URL" in message and "names no database" in message
    assert "postgresql://user@host:5432/kpi" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    "url", ["postgresql://kpi@db:5432/warehouse", "postgresql://kpi@db/?dbname=warehouse", "postgresql:///warehouse"]
)
def test_a_postgres_url_naming_a_database_opens(url: str) -> None:
    assert open_warehouse(url).engine == "postgres"


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    line = _one_line(_backfill_into("postgresql://postgres@127.0.0.1:5432", tmp_path))
    assert "names no database" in line
