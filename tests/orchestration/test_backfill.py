"""`kpi-pipeline backfill` runs a real Dagster backfill on an instance stored in PostgreSQL, resumably."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.warehouse import open_warehouse

REPO = Path(__file__).resolve().parents[2]


def backfill(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "backfill", *args]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_five_day_backfill_publishes_every_day_and_a_rerun_skips_them(tmp_path: Path, postgres_url: str) -> None:
    dataset = tmp_path / "demo"
    generate_dataset(dataset, seed=7)
    home = tmp_path / "dagster_home"
    home.mkdir()
    storage_url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {storage_url}\n")
    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    env = dict(os.environ, DAGSTER_HOME=str(home), KPI_DATASET=str(dataset), KPI_WAREHOUSE_URL=warehouse_url)
    env["KPI_LLM_RESPONSE_CACHE_DIR"] = str(tmp_path / "llm_cache")

    first = backfill(env, "2026-07-01", "2026-07-05")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "5/5 days published" in first.stdout

    wh = open_warehouse(warehouse_url)
    extracted = wh.query_df("SELECT day, count(*) AS n FROM extract.metric_values GROUP BY day ORDER BY day")
    assert [str(d)[:10] for d in extracted["day"]] == [f"2026-07-0{i}" for i in range(1, 6)]
    assert set(extracted["n"]) == {12}  # every catalog metric, every day
    published_days = set(wh.query_df("SELECT DISTINCT day FROM kpi.fct_metric_daily")["day"].astype(str).str[:10])
    assert published_days and published_days <= {f"2026-07-0{i}" for i in range(1, 6)}

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(RunsFilter(tags={"kpi/command": "backfill"}))
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        assert {r.tags["dagster/asset_partition_range_start"] for r in runs} == {"2026-07-01"}
        assert {r.tags["dagster/asset_partition_range_end"] for r in runs} == {"2026-07-05"}
        backfills = instance.get_backfills()
        assert len(backfills) == 1 and backfills[0].status.value in {"COMPLETED", "COMPLETED_SUCCESS"}

    again = backfill(env, "2026-07-01", "2026-07-05")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "skipping 5 day(s)" in again.stdout and "nothing to do" in again.stdout
