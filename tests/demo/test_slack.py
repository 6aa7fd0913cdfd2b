"""The demo Slack export follows the official export layout and carries real-world message shapes."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.demo import generate_dataset


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("slack"), seed=7).out_dir / "slack"


@pytest.fixture(scope="module")
def messages(export: Path) -> dict[str, list[tuple[date, dict[str, Any]]]]:
    by_channel: dict[str, list[tuple[date, dict[str, Any]]]] = {}
    for path in sorted(export.glob("*/*.json")):
        day = date.fromisoformat(path.stem)
        by_channel.setdefault(path.parent.name, []).extend((day, m) for m in json.loads(path.read_text()))
    return by_channel


def test_one_folder_per_channel_name(export: Path) -> None:
    channels = json.loads((export / "channels.json").read_text())
    assert {c["name"] for c in channels} == {p.name for p in export.iterdir() if p.is_dir()}
    assert all(re.fullmatch(r"C[0-9A-Z]+", c["id"]) and c["members"] for c in channels)


def test_day_files_hold_their_utc_day_in_ascending_unique_ts(export: Path) -> None:
    for path in export.glob("*/*.json"):
        day_messages = json.loads(path.read_text())
        stamps = [m["ts"] for m in day_messages]
        assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        days = {datetime.fromtimestamp(float(ts), UTC).date().isoformat() for ts in stamps}
        assert days == {path.stem}


def test_every_author_is_a_known_user(export: Path, messages: dict[str, list[tuple[date, dict[str, Any]]]]) -> None:
    users = {u["id"] for u in json.loads((export / "users.json").read_text())}
    authors = {m["user"] for msgs in messages.values() for _, m in msgs if "user" in m}
    assert authors <= users


def test_threads_are_complete_and_some_replies_land_on_later_days(
    messages: dict[str, list[tuple[date, dict[str, Any]]]],
) -> None:
    later_day_replies = 0
    for msgs in messages.values():
        parents = {m["ts"]: (day, m) for day, m in msgs if m.get("reply_count")}
        replies = Counter(m["thread_ts"] for _, m in msgs if m.get("thread_ts") and m["thread_ts"] != m["ts"])
        assert set(replies) == set(parents)
        for ts, count in replies.items():
            _, parent = parents[ts]
            assert parent["reply_count"] == count == len(parent["replies"])
        later_day_replies += sum(
            1 for day, m in msgs if m.get("thread_ts") not in (None, m["ts"]) and day > parents[m["thread_ts"]][0]
        )
    assert later_day_replies > 50


def test_real_world_message_shapes_are_present(messages: dict[str, list[tuple[date, dict[str, Any]]]]) -> None:
    everything = [m for msgs in messages.values() for _, m in msgs]
    subtypes = Counter(m.get("subtype") for m in everything)
    assert subtypes["bot_message"] > 100 and subtypes["channel_join"] > 0
    assert all("bot_id" in m and "user" not in m for m in everything if m.get("subtype") == "bot_message")
    assert sum("edited" in m for m in everything) > 100
    assert sum("reactions" in m for m in everything) > 100
    texts = " ".join(m["text"] for m in everything)
    assert re.search(r"<https://[^|>]+\|[^>]+>", texts)
    assert re.search(r"<@U[0-9A-Z]+>", texts)
    assert re.search(r":[a-z_]+:", texts)
