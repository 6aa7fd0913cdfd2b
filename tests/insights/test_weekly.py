"""A week's digest through the Dagster asset: stored in kpi.weekly_digest, posted to the local Slack server, and
re-posting the week edits the same message."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from dagster import materialize

from kpi_pipeline.assets.digest import weekly_digest
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.insights.digest import Digest
from kpi_pipeline.insights.digest_text import digest_blocks
from kpi_pipeline.resources.slack_post import SlackPoster
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.testing.slack_server import SlackApiServer
from kpi_pipeline.warehouse import open_warehouse

TOKEN = "xoxb-digest-test"
WEEK = date(2026, 7, 13)


@pytest.fixture
def published(duckdb_url: str) -> str:
    """The synthetic published 2026-Q3 the dashboard tests use: 8 KPIs, 4 objectives, conflicts, quarantine."""
    write_sample(open_warehouse(duckdb_url), n_metrics=8)
    return duckdb_url


def run(url: str, slack_url: str | None, token: str = TOKEN, channel: str | None = "#general") -> object:
    return materialize(
        [weekly_digest],
        resources={
            "warehouse": WarehouseResource(url=url),
            "slack_poster": SlackPoster(token=token, api_url=slack_url, digest_channel=channel if slack_url else None),
        },
        partition_key=WEEK.isoformat(),
        raise_on_error=False,
    )


def test_the_week_is_posted_then_re_posting_updates_the_same_message(published: str, realdata: Path) -> None:
    server = SlackApiServer(realdata / "slack_exports" / "houstondatavis", token=TOKEN)
    with server as slack_url:
        assert run(published, slack_url).success  # type: ignore[attr-defined]
        wh = open_warehouse(published)
        row = wh.query_df("SELECT * FROM kpi.weekly_digest").iloc[0]
        (message,) = server.posted("#general")
        digest = Digest.from_json(row["digest"])
        assert message["ts"] == row["slack_ts"] and row["slack_channel"] == server._channel_id("general")
        assert message["blocks"] == digest_blocks(digest)
        assert digest.objectives[0].status == "off_track" and digest.quarantined and digest.conflicts
        assert all(s.quote for o in digest.objectives for s in o.key_results)

        assert run(published, slack_url).success  # type: ignore[attr-defined]
        (again,) = server.posted("#general")
        assert again["ts"] == message["ts"] and "edited" in again
        assert server.requests.count("chat.postMessage") == 1 and server.requests.count("chat.update") == 1
        assert wh.scalar("SELECT COUNT(*) FROM kpi.weekly_digest") == 1


def test_a_slack_failure_fails_the_digest_run_but_the_digest_is_stored(published: str, realdata: Path) -> None:
    with SlackApiServer(realdata / "slack_exports" / "houstondatavis", token=TOKEN) as slack_url:
        result = run(published, slack_url, token="xoxb-wrong")
    assert not result.success  # type: ignore[attr-defined]
    (failure,) = [e for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    assert "stored but was not posted: Slack chat.postMessage to #general failed: invalid_auth" in str(
        failure.step_failure_data.error.message
    )
    row = open_warehouse(published).query_df("SELECT text, slack_ts FROM kpi.weekly_digest").iloc[0]
    assert row["text"].startswith("# KPI digest, week of 2026-07-13 to 2026-07-19") and row["slack_ts"] is None


def test_without_a_channel_the_digest_is_only_stored(published: str) -> None:
    assert run(published, None).success  # type: ignore[attr-defined]
    digest = json.loads(open_warehouse(published).scalar("SELECT digest FROM kpi.weekly_digest"))
    assert digest["week_start"] == "2026-07-13" and digest["notes"] == []
