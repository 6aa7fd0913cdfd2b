"""The local Slack API speaks Slack's envelope, pages with cursors and injects the faults it is asked for."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.testing.slack_server import SlackApiServer

TOKEN = "xoxb-server-test"


@pytest.fixture
def houston(realdata: Path) -> Path:
    return realdata / "slack_exports" / "houstondatavis"


def call(url: str, method: str, token: str | None = TOKEN, **params: str) -> tuple[int, dict[str, str], Any]:
    """POST form params the way slack_sdk does; returns status, headers and the JSON body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url + method, data=urllib.parse.urlencode(params).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def example_keys(realdata: Path, name: str) -> set[str]:
    spec = realdata / "slack_api_payloads" / "slack_api_specs_openapi" / f"{name}.200.example.json"
    return set(json.loads(spec.read_text()))


def test_history_pages_newest_first_with_slacks_envelope_until_an_empty_cursor(houston: Path, realdata: Path) -> None:
    with SlackApiServer(houston, token=TOKEN, page_size=7) as url:
        pages = []
        cursor = ""
        while True:
            _, _, body = call(url, "conversations.history", channel="C061A2UGJ", cursor=cursor)
            pages.append(body)
            cursor = body["response_metadata"]["next_cursor"]
            if not cursor:
                break
    assert example_keys(realdata, "conversations.history") <= set(pages[0])
    assert all(page["has_more"] for page in pages[:-1]) and not pages[-1]["has_more"]
    ts = [m["ts"] for page in pages for m in page["messages"]]
    expected = [m["ts"] for f in (houston / "general").glob("*.json") for m in json.loads(f.read_text())]
    assert sorted(ts, reverse=True) == ts and sorted(ts) == sorted(expected)
    assert {len(page["messages"]) for page in pages[:-1]} == {7}


def test_history_bounds_are_exclusive_unless_inclusive(houston: Path) -> None:
    with SlackApiServer(houston) as url:
        _, _, everything = call(url, "conversations.history", channel="C061A2UGJ", limit="1000")
        first, second, third = sorted(m["ts"] for m in everything["messages"])[:3]
        _, _, exclusive = call(url, "conversations.history", channel="C061A2UGJ", oldest=first, latest=third)
        _, _, inclusive = call(
            url, "conversations.history", channel="C061A2UGJ", oldest=first, latest=third, inclusive="1"
        )
    assert [m["ts"] for m in exclusive["messages"]] == [second]
    assert [m["ts"] for m in inclusive["messages"]] == [third, second, first]


def test_list_pages_channels(houston: Path, realdata: Path) -> None:
    with SlackApiServer(houston, page_size=5) as url:
        _, _, first = call(url, "conversations.list")
        _, _, second = call(url, "conversations.list", cursor=first["response_metadata"]["next_cursor"])
    assert example_keys(realdata, "conversations.list") <= set(first) | {"response_metadata"}
    assert len(first["channels"]) == 5 and first["channels"][0]["name"] == "datajam"
    assert first["channels"][0]["is_member"] is True
    assert {c["id"] for c in first["channels"]}.isdisjoint({c["id"] for c in second["channels"]})


def test_replies_return_the_parent_first_then_replies_in_the_window(tmp_path: Path) -> None:
    parent_ts = "1782900000.000001"
    parent = {"type": "message", "ts": parent_ts, "thread_ts": parent_ts, "reply_count": 2}
    replies = [
        {"type": "message", "ts": "1782900100.000002", "thread_ts": "1782900000.000001"},
        {"type": "message", "ts": "1783000000.000003", "thread_ts": "1782900000.000001"},
    ]
    (tmp_path / "channels.json").write_text(json.dumps([{"id": "C1", "name": "ops"}]))
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "2026-07-01.json").write_text(json.dumps([parent, *replies]))
    with SlackApiServer(tmp_path) as url:
        _, _, all_of_it = call(url, "conversations.replies", channel="C1", ts=parent_ts)
        _, _, late = call(url, "conversations.replies", channel="C1", ts=parent_ts, oldest="1782950000")
        _, _, missing = call(url, "conversations.replies", channel="C1", ts="1.000000")
        _, _, history = call(url, "conversations.history", channel="C1")
    assert [m["ts"] for m in all_of_it["messages"]] == [parent["ts"], replies[0]["ts"], replies[1]["ts"]]
    assert [m["ts"] for m in late["messages"]] == [parent["ts"], replies[1]["ts"]]
    assert missing == {"ok": False, "error": "thread_not_found"}
    assert [m["ts"] for m in history["messages"]] == [parent["ts"]]  # replies stay out of history


def test_faults_and_auth(houston: Path) -> None:
    with SlackApiServer(houston, token=TOKEN, rate_limit_on={1}, retry_after=30, server_error_on={2}) as url:
        limited = call(url, "auth.test")
        failed = call(url, "auth.test")
        ok = call(url, "auth.test")
        wrong = call(url, "auth.test", token="xoxb-other")
        anonymous = call(url, "auth.test", token=None)
        unknown = call(url, "reactions.add")
        channel = call(url, "conversations.history", channel="CNOPE")
    assert (
        limited[0] == 429 and limited[1]["Retry-After"] == "30" and limited[2] == {"ok": False, "error": "ratelimited"}
    )
    assert failed[0] == 500 and failed[2]["ok"] is False
    assert ok[0] == 200 and ok[2]["ok"] is True and ok[2]["url"].startswith("https://")
    assert wrong[2] == {"ok": False, "error": "invalid_auth"}
    assert anonymous[2] == {"ok": False, "error": "not_authed"}
    assert unknown[0] == 404
    assert channel[2] == {"ok": False, "error": "channel_not_found"}


def test_runs_as_a_module(houston: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kpi_pipeline.testing.slack_server", "--export", str(houston), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[3]
        status, _, body = call(url, "conversations.list", token=None)
        assert status == 200 and len(body["channels"]) == 16
    finally:
        # SIGKILL: Dagster's in-process execution, earlier in this worker, maps SIGTERM to SIGINT's handler,
        # which is SIG_IGN under a shell that ignores SIGINT (nohup, `cmd &`), and children inherit SIG_IGN
        process.kill()
        process.wait(timeout=10)


def test_chat_post_message_and_update_answer_with_slacks_shapes_and_join_the_history(
    houston: Path, realdata: Path
) -> None:
    from slack_sdk import WebClient

    server = SlackApiServer(houston, token=TOKEN)
    with server as url:
        client = WebClient(token=TOKEN, base_url=url)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
        posted = client.chat_postMessage(channel="#general", text="hello", blocks=blocks).data
        assert isinstance(posted, dict)
        assert example_keys(realdata, "chat.postMessage") <= set(posted)
        general = posted["channel"]
        assert general == next(c["id"] for c in server.channels if c["name"] == "general")
        updated = client.chat_update(channel=general, ts=posted["ts"], text="hello again", blocks=blocks).data
        assert isinstance(updated, dict)
        assert example_keys(realdata, "chat.update") <= set(updated) and updated["ts"] == posted["ts"]
        (message,) = server.posted("#general")
        assert (message["text"], message["blocks"], message["ts"]) == ("hello again", blocks, posted["ts"])
        newest = client.conversations_history(channel=general, limit=1).data
        assert isinstance(newest, dict) and newest["messages"][0]["ts"] == posted["ts"]
        _, _, missing = call(url, "chat.update", channel=general, ts="1.000001", text="x")
        _, _, nowhere = call(url, "chat.postMessage", channel="#no-such-channel", text="x")
        _, _, empty = call(url, "chat.postMessage", channel=general)
    assert (missing["error"], nowhere["error"], empty["error"]) == ("message_not_found", "channel_not_found", "no_text")
