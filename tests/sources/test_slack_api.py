"""Slack Web API reading with the real slack_sdk client against our local server: same rows as the export."""

from __future__ import annotations

import json
import socket
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.slack_api import SlackApiReader
from kpi_pipeline.sources.slack_export import SlackExport
from kpi_pipeline.testing.slack_server import SlackApiServer

TOKEN = "xoxb-test-123-secret"
WORKSPACE = "https://houstondatavis.example.slack.com/"


def ts_at(iso: str, micro: int = 0) -> str:
    return f"{int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())}.{micro:06d}"


@pytest.fixture
def houston(realdata: Path) -> Path:
    return realdata / "slack_exports" / "houstondatavis"


def export_rows(export: Path, day: date) -> pd.DataFrame:
    with SlackExport.open(export, workspace_url=WORKSPACE) as slack:
        return slack.messages_for_day(day)


def test_api_rows_equal_export_rows_despite_429_5xx_and_tiny_pages(houston: Path) -> None:
    days = [date(2015, 6, 10), date(2015, 6, 12), date(2016, 7, 20)]
    server = SlackApiServer(
        houston,
        token=TOKEN,
        page_size=2,
        rate_limit_on={2, 9},
        retry_after=0,
        server_error_on={4, 15},
        workspace_url=WORKSPACE,
    )
    with server as url:
        reader = SlackApiReader.connect(TOKEN, url, lookback_days=2, max_wait=0.1)
        for day in days:
            got = reader.messages_for_day(day)
            assert len(got) > 0
            pd.testing.assert_frame_equal(got, export_rows(houston, day))
    history_pages = server.requests.count("conversations.history")
    assert history_pages > 2 * 16 * len(days)  # paging happened, with two windows per channel and day
    assert server.requests[1] == server.requests[2]  # the 429'd request was sent again


def thread_export(root: Path) -> tuple[Path, dict[str, str]]:
    """A channel whose thread starts 2026-07-01 and gets a late reply on 2026-07-05, plus unrelated chatter."""
    parent_ts = ts_at("2026-07-01T10:00:00", 1)
    late_ts = ts_at("2026-07-05T09:30:00", 7)
    messages = {
        "2026-07-01": [
            {"type": "message", "user": "U1", "text": "error rate 3%", "ts": parent_ts, "thread_ts": parent_ts,
             "reply_count": 2, "latest_reply": late_ts},
            {"type": "message", "user": "U2", "text": "ack", "ts": ts_at("2026-07-01T10:05:00", 2),
             "thread_ts": parent_ts, "parent_user_id": "U1"},
        ],
        "2026-07-05": [
            {"type": "message", "user": "U3", "text": "standup", "ts": ts_at("2026-07-05T08:00:00", 5)},
            {"type": "message", "user": "U2", "text": "now 2%", "ts": late_ts, "thread_ts": parent_ts,
             "parent_user_id": "U1"},
        ],
    }  # fmt: skip
    root.mkdir()
    (root / "channels.json").write_text(json.dumps([{"id": "COPS", "name": "ops"}]))
    (root / "ops").mkdir()
    for day, day_messages in messages.items():
        (root / "ops" / f"{day}.json").write_text(json.dumps(day_messages))
    return root, {"parent": parent_ts, "late": late_ts}


def test_a_late_reply_to_an_older_thread_is_caught_through_the_lookback(tmp_path: Path) -> None:
    export, ts = thread_export(tmp_path / "x")
    day = date(2026, 7, 5)
    with SlackApiServer(export, token=TOKEN, page_size=1, workspace_url=WORKSPACE) as url:
        with_lookback = SlackApiReader.connect(TOKEN, url, lookback_days=7).messages_for_day(day)
        without = SlackApiReader.connect(TOKEN, url, lookback_days=0).messages_for_day(day)
    pd.testing.assert_frame_equal(with_lookback, export_rows(export, day))
    late = with_lookback[with_lookback["ts"] == ts["late"]]
    assert list(late["thread_ts"]) == [ts["parent"]]
    assert ts["late"] not in set(without["ts"])
    assert ts["parent"] not in set(with_lookback["ts"])  # the parent stays on its own day


def test_replies_on_the_parents_day_are_read_once(tmp_path: Path) -> None:
    export, _ = thread_export(tmp_path / "x")
    day = date(2026, 7, 1)
    with SlackApiServer(export, token=TOKEN, page_size=1, workspace_url=WORKSPACE) as url:
        got = SlackApiReader.connect(TOKEN, url, lookback_days=7).messages_for_day(day)
    pd.testing.assert_frame_equal(got, export_rows(export, day))
    assert got["reply_count"].iloc[0] == 2 and got["ts"].is_unique


def test_a_wrong_token_says_to_set_slack_bot_token_without_printing_it(houston: Path) -> None:
    with SlackApiServer(houston, token=TOKEN) as url:
        reader = SlackApiReader.connect("xoxb-wrong-token", url)
        with pytest.raises(SourceError, match=r"invalid_auth.*set SLACK_BOT_TOKEN to a valid bot token") as raised:
            reader.messages_for_day(date(2015, 6, 10))
    assert "xoxb-wrong-token" not in str(raised.value)


@pytest.mark.parametrize("token", [None, ""])
def test_a_missing_token_says_to_set_slack_bot_token(token: str | None) -> None:
    with pytest.raises(SourceError, match="SLACK_BOT_TOKEN is not set"):
        SlackApiReader.connect(token, "http://127.0.0.1:9/api/")


@pytest.mark.timeout(60)
def test_a_huge_retry_after_is_capped(houston: Path) -> None:
    # slack_sdk alone would sleep the full hour
    with SlackApiServer(houston, token=TOKEN, rate_limit_on={1}, retry_after=3600, workspace_url=WORKSPACE) as url:
        got = SlackApiReader.connect(TOKEN, url, lookback_days=0, max_wait=0.05).messages_for_day(date(2015, 6, 10))
    pd.testing.assert_frame_equal(got, export_rows(houston, date(2015, 6, 10)))


def test_rate_limiting_that_never_ends_fails_clearly(houston: Path) -> None:
    with SlackApiServer(houston, token=TOKEN, rate_limit_on=range(1, 100), retry_after=0) as url:
        reader = SlackApiReader.connect(TOKEN, url, max_wait=0.01)
        with pytest.raises(SourceError, match=r"auth\.test is still rate limited after retrying"):
            reader.messages_for_day(date(2015, 6, 10))


def test_an_unreachable_api_names_slack_api_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reader = SlackApiReader.connect(TOKEN, f"http://127.0.0.1:{port}/api/")
    reader.client.retry_handlers = []
    with pytest.raises(SourceError, match=r"could not be reached at http://127\.0\.0\.1:\d+/api/.*SLACK_API_URL"):
        reader.messages_for_day(date(2015, 6, 10))
