"""`dagster asset materialize` on a real Slack export loads exactly one UTC day's messages, idempotently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kpi_pipeline.warehouse import open_warehouse

REPO = Path(__file__).resolve().parents[2]
DAY = date(2015, 7, 15)


def messages_in_export_on(export: Path, day: date) -> tuple[int, int]:
    """Count messages (and those with a subtype) whose own ts is on `day`, straight from the JSON files."""
    total = with_subtype = 0
    for file in export.glob("*/*.json"):
        for message in json.loads(file.read_text()):
            if datetime.fromtimestamp(float(message["ts"]), UTC).date() == day:
                total += 1
                with_subtype += "subtype" in message
    return total, with_subtype


def materialize(env: dict[str, str], day: date) -> None:
    cmd = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "kpi_pipeline.definitions"]
    cmd += ["--select", "raw_slack_messages", "--partition", day.isoformat()]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_materializing_a_day_loads_exactly_that_days_messages_twice_over(realdata: Path, tmp_path: Path) -> None:
    export = realdata / "slack_exports" / "houstondatavis"
    expected, expected_subtypes = messages_in_export_on(export, DAY)
    assert expected > 0
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    env = dict(os.environ)
    env.update(
        KPI_SLACK_SOURCE=str(export),
        KPI_START_DATE="2015-01-01",
        KPI_WAREHOUSE_URL=url,
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    Path(env["DAGSTER_HOME"]).mkdir()
    query = "SELECT channel_id, ts, thread_ts, user_id, subtype, text, day FROM raw.slack_messages ORDER BY 1, 2"

    materialize(env, DAY)
    first = open_warehouse(url).query_df(query)
    materialize(env, DAY)
    second = open_warehouse(url).query_df(query)

    assert len(first) == expected
    assert int(first["subtype"].notna().sum()) == expected_subtypes
    assert set(first["day"].astype(str)) == {DAY.isoformat()}
    assert first.equals(second)
