"""Slack export parsing: every message lands on the UTC day of its own ts, exactly once; bad files fail clearly."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.slack_export import MESSAGE_COLUMNS, SlackExport
from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES


def utc_day(ts: str) -> date:
    return datetime.fromtimestamp(int(ts.split(".")[0]), UTC).date()


def expected_by_day(export: Path) -> dict[date, set[tuple[str, str]]]:
    """(channel_id, ts) of every message in the export's JSON files, keyed by the UTC day of its ts."""
    by_day: dict[date, set[tuple[str, str]]] = defaultdict(set)
    for channel in json.loads((export / "channels.json").read_text()):
        for day_file in (export / channel["name"]).glob("*.json"):
            for message in json.loads(day_file.read_text()):
                by_day[utc_day(message["ts"])].add((channel["id"], message["ts"]))
    return by_day


def write_export(root: Path, channels: dict[str, dict[str, list[dict[str, Any]]]]) -> Path:
    """An export folder: {channel name: {file day: messages}}; channel ids are C + the name upper-cased."""
    root.mkdir(parents=True, exist_ok=True)
    listing = [{"id": f"C{name.upper()}", "name": name} for name in channels]
    (root / "channels.json").write_text(json.dumps(listing))
    (root / "users.json").write_text(json.dumps([{"id": "U1", "team_id": "T0TEAM"}]))
    for name, files in channels.items():
        (root / name).mkdir()
        for file_day, messages in files.items():
            (root / name / f"{file_day}.json").write_text(json.dumps(messages))
    return root


def ts_at(iso: str, micro: int = 0) -> str:
    return f"{int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())}.{micro:06d}"


@pytest.mark.parametrize(("name", "total"), [("houstondatavis", 1382), ("slack_export_viewer_testarchive", 158)])
def test_every_day_matches_an_independent_count_of_the_json_files(realdata: Path, name: str, total: int) -> None:
    export = realdata / "slack_exports" / name
    expected = expected_by_day(export)
    with SlackExport.open(export) as slack:
        got = {day: slack.messages_for_day(day) for day in expected}
    for day, frame in got.items():
        assert set(zip(frame["channel_id"], frame["ts"], strict=True)) == expected[day], day
        assert not frame.duplicated(["channel_id", "ts"]).any()
        assert (frame["day"] == day).all()
    assert sum(len(frame) for frame in got.values()) == total


def test_messages_in_the_previous_local_day_file_are_found(realdata: Path) -> None:
    # houstondatavis names files by Houston time: 2015-06-11 evening messages sit in general/2015-06-11.json
    # but are on 2015-06-12 UTC
    export = realdata / "slack_exports" / "houstondatavis"
    spill = [
        m["ts"]
        for m in json.loads((export / "general" / "2015-06-11.json").read_text())
        if utc_day(m["ts"]) == date(2015, 6, 12)
    ]
    assert spill
    with SlackExport.open(export) as slack:
        frame = slack.messages_for_day(date(2015, 6, 12))
    assert set(spill) <= set(frame.loc[frame["channel_name"] == "general", "ts"])


def test_a_fresh_export_and_a_backfill_in_one_export_give_the_same_rows(realdata: Path) -> None:
    export = realdata / "slack_exports" / "houstondatavis"
    days = [date(2015, 6, 9), date(2015, 6, 10), date(2015, 6, 11), date(2016, 7, 20)]
    with SlackExport.open(export) as slack:
        in_sequence = [slack.messages_for_day(day) for day in days]
    for day, frame in zip(days, in_sequence, strict=True):
        with SlackExport.open(export) as fresh:
            pd.testing.assert_frame_equal(frame, fresh.messages_for_day(day))


def test_rows_have_the_table_columns_and_keep_subtypes_ts_strings_and_bot_ids(realdata: Path) -> None:
    export = realdata / "slack_exports" / "slack_export_viewer_testarchive"
    with SlackExport.open(export) as slack:
        frame = slack.messages_for_day(date(2016, 3, 26))
    assert list(frame.columns) == [c for c in RAW_SLACK_MESSAGES.column_names if c != "ingested_at"]
    assert list(frame.columns) == list(MESSAGE_COLUMNS)
    bots = frame[frame["subtype"] == "bot_message"]
    assert len(bots) > 0
    raw = {m["ts"]: m for m in json.loads((export / "traveling-sailor" / "2016-03-25.json").read_text())}
    for _, row in bots.iterrows():
        if row["ts"] in raw:
            assert row["user_id"] == raw[row["ts"]]["bot_id"]
            assert row["text"] == raw[row["ts"]]["text"]
    assert frame["ts"].str.fullmatch(r"\d{10}\.\d{6}").all()
    assert frame["thread_ts"].isna().all() and frame["reply_count"].isna().all()


def test_system_subtypes_are_kept(realdata: Path) -> None:
    export = realdata / "slack_exports" / "houstondatavis"
    with SlackExport.open(export) as slack:
        frame = slack.messages_for_day(date(2015, 6, 10))
    assert "channel_join" in set(frame["subtype"].dropna())
    assert frame["subtype"].isna().any()


def test_permalinks_use_the_workspace_url_found_in_file_permalinks_else_a_slack_link(realdata: Path) -> None:
    export = realdata / "slack_exports" / "houstondatavis"
    shared = next(m for m in json.loads((export / "datajam" / "2015-06-19.json").read_text()) if "file" in m)
    # a day whose files (and their neighbours, which may hold the day) carry no Slack permalink at all
    no_link_day = next(
        day
        for day in sorted(expected_by_day(export))
        if not any(
            b'"permalink"' in path.read_bytes()
            for offset in (-1, 0, 1)
            for path in export.glob(f"*/{date.fromordinal(day.toordinal() + offset).isoformat()}.json")
        )
    )
    with SlackExport.open(export) as slack:
        with_file = slack.messages_for_day(utc_day(shared["ts"]))
        without = slack.messages_for_day(no_link_day)
    assert shared["ts"] in set(with_file["ts"])
    first = with_file.iloc[0]
    assert first["permalink"] == (
        f"https://houstondatavis.slack.com/archives/{first['channel_id']}/p{first['ts'].replace('.', '')}"
    )
    row = without.iloc[0]
    assert row["permalink"] == f"slack://channel?team=T061A2UFL&id={row['channel_id']}&message={row['ts']}"


def test_an_explicit_workspace_url_wins(realdata: Path) -> None:
    export = realdata / "slack_exports" / "houstondatavis"
    with SlackExport.open(export, workspace_url="https://acme.slack.com/") as slack:
        frame = slack.messages_for_day(date(2015, 6, 10))
    assert frame["permalink"].str.startswith("https://acme.slack.com/archives/C").all()


def test_thread_replies_belong_to_the_day_of_their_own_ts(tmp_path: Path) -> None:
    parent: dict[str, Any] = {
        "type": "message",
        "user": "U1",
        "text": "error rate 3%",
        "ts": ts_at("2026-07-01T10:00:00", 1),
    }
    parent |= {"thread_ts": parent["ts"], "reply_count": 2, "latest_reply": ts_at("2026-07-03T09:00:00", 3)}
    same_day = {"type": "message", "user": "U2", "text": "nice", "ts": ts_at("2026-07-01T11:00:00", 2)}
    late = {"type": "message", "user": "U2", "text": "now 2%", "ts": ts_at("2026-07-03T09:00:00", 3)}
    for reply in (same_day, late):
        reply |= {"thread_ts": parent["ts"], "parent_user_id": "U1"}
    export = write_export(tmp_path / "x", {"ops": {"2026-07-01": [parent, same_day], "2026-07-03": [late]}})
    with SlackExport.open(export) as slack:
        first, third = slack.messages_for_day(date(2026, 7, 1)), slack.messages_for_day(date(2026, 7, 3))
    assert list(first["ts"]) == [parent["ts"], same_day["ts"]]
    assert list(first["thread_ts"]) == [parent["ts"], parent["ts"]]
    assert first["reply_count"].iloc[0] == 2
    assert pd.isna(first["reply_count"].iloc[1])
    assert list(third["ts"]) == [late["ts"]]
    assert third["permalink"].iloc[0] == (
        f"slack://channel?team=T0TEAM&id=COPS&message={late['ts']}&thread_ts={parent['ts']}"
    )


def test_a_message_repeated_in_the_files_appears_once(tmp_path: Path) -> None:
    message = {"type": "message", "user": "U1", "text": "hi", "ts": ts_at("2026-07-01T23:59:59", 5)}
    export = write_export(tmp_path / "x", {"ops": {"2026-07-01": [message, message], "2026-07-02": [message]}})
    with SlackExport.open(export) as slack:
        assert list(slack.messages_for_day(date(2026, 7, 1))["ts"]) == [message["ts"]]
        assert slack.messages_for_day(date(2026, 7, 2)).empty


def test_unknown_fields_and_files_are_tolerated(tmp_path: Path) -> None:
    message = {"type": "message", "ts": ts_at("2026-07-01T08:00:00"), "blocks": [{"x": 1}], "future": {"a": [1]}}
    export = write_export(tmp_path / "x", {"ops": {"2026-07-01": [message]}})
    (export / "canvases.json").write_text("[]")
    (export / "ops" / "notes.txt").write_text("not json")
    with SlackExport.open(export) as slack:
        frame = slack.messages_for_day(date(2026, 7, 1))
    assert len(frame) == 1 and pd.isna(frame["user_id"].iloc[0])


@pytest.mark.parametrize("top_folder", ["", "export/"])
def test_a_zip_gives_the_same_rows_as_the_folder(realdata: Path, tmp_path: Path, top_folder: str) -> None:
    folder = realdata / "slack_exports" / "slack_export_viewer_testarchive"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.rglob("*.json"):
            zipped.write(path, top_folder + path.relative_to(folder).as_posix())
    for day in (date(2016, 1, 16), date(2016, 3, 26)):
        with SlackExport.open(folder) as from_folder, SlackExport.open(archive) as from_zip:
            pd.testing.assert_frame_equal(from_zip.messages_for_day(day), from_folder.messages_for_day(day))


def test_missing_channels_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "general").mkdir()
    with pytest.raises(SourceError, match=r"channels\.json: missing.*KPI_SLACK_SOURCE"):
        SlackExport.open(tmp_path)


def test_a_missing_source_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"KPI_SLACK_SOURCE=.*nowhere"):
        SlackExport.open(tmp_path / "nowhere")


def good_and_bad_export(tmp_path: Path, bad_content: bytes) -> Path:
    good = {"type": "message", "user": "U1", "text": "fine", "ts": ts_at("2026-07-01T08:00:00")}
    export = write_export(tmp_path / "x", {"aaa": {"2026-07-01": [good]}, "zzz": {"2026-07-01": []}})
    (export / "zzz" / "2026-07-01.json").write_bytes(bad_content)
    return export


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"ts": "1782900000.000001", "text": "cut', r"malformed JSON at line 1"),
        (b'[{"ts": "1782900000.000001", "text": "caf\xe9"}]', r"byte \d+ is not UTF-8"),
        (b'{"ts": "1782900000.000001"}', r"expected a JSON array of messages, found a JSON dict"),
        (b'[{"text": "no ts"}]', r"message #0 has no valid 'ts'"),
        (b'[{"ts": "yesterday"}]', r"message #0 has no valid 'ts'"),
    ],
)
def test_a_bad_day_file_fails_the_whole_day_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    export = good_and_bad_export(tmp_path, content)
    with SlackExport.open(export) as slack, pytest.raises(SourceError, match=message) as raised:
        slack.messages_for_day(date(2026, 7, 1))
    assert str(export / "zzz" / "2026-07-01.json") in str(raised.value)


def test_a_bad_file_inside_a_zip_is_named_with_the_zip(tmp_path: Path) -> None:
    export = good_and_bad_export(tmp_path, b"[{")
    archive = tmp_path / "export.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", export)
    with SlackExport.open(archive) as slack, pytest.raises(SourceError, match=r"export\.zip!zzz/2026-07-01\.json"):
        slack.messages_for_day(date(2026, 7, 1))


def test_a_channel_listing_with_a_path_as_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "channels.json").write_text(json.dumps([{"id": "C1", "name": "../etc"}]))
    with pytest.raises(SourceError, match=r"channels\.json entry #0: channel folder '\.\./etc'"):
        SlackExport.open(tmp_path)
