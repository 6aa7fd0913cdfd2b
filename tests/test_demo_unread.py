"""`kpi-pipeline demo` through a model that refuses every request: the demo says which days it could not read
and exits 1, instead of printing its summary as if the quarter were published."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import open_warehouse
from tests.orchestration.test_backfill_unread import assert_every_asked_metric_was_unread

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-ant-demo-unread"


@pytest.mark.slow
def test_a_demo_whose_answers_were_all_refused_names_the_days_and_exits_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "ANTHROPIC_", "SLACK_", "JIRA_"))}
    with serve_anthropic(api_key=KEY, refusals=10**6) as refusing:
        env |= {
            "DAGSTER_HOME": str(tmp_path / ".dagster_home"),
            "KPI_LLM_BACKEND": "anthropic",
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": refusing.base_url,
            "KPI_LLM_BATCH_MIN_DAYS": "1000",  # one request at a time, as the refusals are counted
            "KPI_LLM_REQUESTS_PER_MINUTE": "100000",
            "KPI_LLM_INPUT_TOKENS_PER_MINUTE": "1000000000",
        }
        cmd = [sys.executable, "-m", "kpi_pipeline.cli", "demo"]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
        assert refusing.message_requests > 0
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr
    held = [line.strip() for line in proc.stderr.splitlines() if line.startswith("  2026-")]
    assert len(held) == 92 and held[0].startswith("2026-07-01 held: "), held[:2]
    assert proc.stderr.splitlines()[-1].startswith("92 day(s) not fully published (extract.day_status)")
    wh = open_warehouse(f"duckdb:///{tmp_path / 'data' / 'warehouse.duckdb'}")
    assert_every_asked_metric_was_unread(wh, held)
    assert wh.scalar("SELECT count(*) FROM kpi.fct_metric_daily") == 0
