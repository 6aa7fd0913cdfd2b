"""`kpi-pipeline demo` (what `make demo` runs): the whole pipeline over the demo quarter, checked end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.warehouse import open_warehouse

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "ANTHROPIC_", "SLACK_", "JIRA_"))}
    env["DAGSTER_HOME"] = str(workdir / ".dagster_home")
    proc = subprocess.run(
        [sys.executable, "-m", "kpi_pipeline.cli", "demo"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return workdir, proc.stdout


def query(workdir: Path, sql: str) -> pd.DataFrame:
    return open_warehouse(f"duckdb:///{workdir / 'data' / 'warehouse.duckdb'}").query_df(sql)


@pytest.mark.slow
def test_the_demo_publishes_the_quarter_and_says_where_to_look(demo: tuple[Path, str]) -> None:
    workdir, out = demo
    days = query(
        workdir, "SELECT min(day) AS first, max(day) AS last, count(DISTINCT day) AS n FROM kpi.fct_metric_daily"
    )
    assert str(days["first"][0])[:10] >= "2026-07-01" and str(days["last"][0])[:10] <= "2026-09-30"
    assert int(days["n"][0]) > 60
    assert query(workdir, "SELECT count(DISTINCT day) AS n FROM extract.metric_values")["n"][0] == 92
    assert "kpi.fct_metric_daily" in out and "Dashboard:" in out
    assert (workdir / "data" / "dashboard" / "index.html").is_file()


@pytest.mark.slow
def test_no_published_row_breaks_a_rule(demo: tuple[Path, str]) -> None:
    workdir, _ = demo
    broken = query(
        workdir,
        """SELECT f.metric_id, f.day FROM kpi.fct_metric_daily f
           JOIN kpi.dim_metric d USING (metric_id) JOIN extract.metric_values v USING (metric_id, day)
           WHERE f.confidence < d.min_confidence OR f.value < d.min_value OR f.value > d.max_value
              OR NOT v.grounded OR v.grounding_issues LIKE '%prompt_injection%'""",
    )
    assert broken.empty
    both = query(workdir, "SELECT * FROM kpi.fct_metric_daily f JOIN kpi.metric_quarantine q USING (metric_id, day)")
    assert both.empty


@pytest.mark.slow
def test_the_planted_bad_cases_are_in_quarantine_with_their_reasons(demo: tuple[Path, str]) -> None:
    workdir, _ = demo
    held = query(workdir, "SELECT metric_id, day, value, reasons FROM kpi.metric_quarantine")
    rules = {rule.split(":")[0] for reasons in held["reasons"] for rule in json.loads(reasons)}
    assert {"prompt_injection", "max_value", "min_confidence", "grounded"} <= rules
    injected = held[held["reasons"].str.contains("prompt_injection")]
    assert len(injected) == 1 and injected["value"].isna().all()  # the injected 100% is never a value
    truth = pd.read_csv(workdir / "data" / "demo" / "truth.csv")
    empty = truth[truth["value"].isna()]
    truth_empty = set(zip(empty["metric"], empty["date"], strict=True))
    assert set(zip(held["metric_id"], held["day"].astype(str).str[:10], strict=True)) <= truth_empty
