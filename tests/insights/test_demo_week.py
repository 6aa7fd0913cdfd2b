"""Acceptance: one demo week through the real definitions (offline backend), then its digest posted to the local
Slack server by the weekly job, and a second run of the week updating the same message."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.insights.digest import Digest
from kpi_pipeline.testing.slack_server import SlackApiServer
from kpi_pipeline.warehouse import open_warehouse
from tests.assets.test_extract_anthropic import definitions_under, materialize, pipeline_env

MONDAY = date(2026, 7, 6)
WEEK = {
    "dagster/asset_partition_range_start": MONDAY.isoformat(),
    "dagster/asset_partition_range_end": (MONDAY + timedelta(days=6)).isoformat(),
}
TOKEN = "xoxb-demo-digest"


@pytest.mark.slow
def test_a_demo_week_is_posted_and_re_posting_updates_the_same_message(tmp_path: Path) -> None:
    dataset = generate_dataset(tmp_path / "demo", seed=7).out_dir
    channel = json.loads((dataset / "slack" / "channels.json").read_text())[0]["name"]
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    server = SlackApiServer(dataset / "slack", token=TOKEN)
    with server as slack_url:
        env = pipeline_env(
            dataset,
            url,
            tmp_path / "cache",
            KPI_LLM_BACKEND="offline",
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_API_URL=slack_url,
            KPI_DIGEST_SLACK_CHANNEL=f"#{channel}",
        )
        with definitions_under(env) as defs:
            assert materialize(defs, tags=WEEK).success
            digest_job = defs.resolve_job_def("weekly_digest_job")
            for _ in range(2):
                run = digest_job.execute_in_process(
                    partition_key=MONDAY.isoformat(), instance=DagsterInstance.ephemeral()
                )
                assert run.success
    (message,) = server.posted(f"#{channel}")
    assert "edited" in message and server.requests.count("chat.update") == 1
    row = open_warehouse(url).query_df("SELECT digest, slack_ts FROM kpi.weekly_digest").iloc[0]
    digest = Digest.from_json(row["digest"])
    assert row["slack_ts"] == message["ts"] and message["text"] == "KPI digest, week of 2026-07-06 to 2026-07-12"
    moves = [s for o in digest.objectives for s in o.moves] + list(digest.other_moves)
    assert digest.objectives and moves and all(s.quote for s in moves)
    shown = "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    assert all(o.title in shown for o in digest.objectives)
