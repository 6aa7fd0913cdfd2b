"""Slack exports that are too big, corrupt or oddly typed are refused with the file named; unlisted folders
are counted, never silently ignored."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.slack_export import SlackExport

DAY = date(2026, 7, 2)
TS = f"{datetime(2026, 7, 2, 9, tzinfo=UTC).timestamp():.6f}"


def export_folder(root: Path, messages: list[dict[str, Any]]) -> Path:
    (root / "general").mkdir(parents=True)
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    (root / "general" / f"{DAY}.json").write_text(json.dumps(messages))
    return root


def zipped(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())
    return archive


def message(**fields: Any) -> dict[str, Any]:
    return {"type": "message", "ts": TS, "user": "U1", "text": "error rate 3%"} | fields


def test_a_zip_entry_inflating_past_the_cap_is_refused_naming_entry_and_setting(tmp_path: Path) -> None:
    # 1.5 MB of messages that compress to a few kilobytes: a small ZIP, a big day file
    padding = [message(ts=f"{float(TS) + i / 1000:.6f}", text="x" * 1000) for i in range(1500)]
    archive = zipped(export_folder(tmp_path / "export", padding), tmp_path / "export.zip")
    assert archive.stat().st_size < 100_000

    with SlackExport.open(archive, max_file_mb=1) as export, pytest.raises(SourceError) as caught:
        export.messages_for_day(DAY)
    assert str(caught.value).startswith(f"{archive}!general/{DAY}.json: 1.5 MB uncompressed")
    assert "KPI_MAX_SOURCE_FILE_MB=1" in str(caught.value)
    with SlackExport.open(archive, max_file_mb=2) as export:
        assert len(export.messages_for_day(DAY)) == 1500


def test_a_folder_file_past_the_cap_is_refused_too(tmp_path: Path) -> None:
    padding = [message(ts=f"{float(TS) + i / 1000:.6f}", text="x" * 1000) for i in range(1500)]
    folder = export_folder(tmp_path / "export", padding)
    with (
        SlackExport.open(folder, max_file_mb=1) as export,
        pytest.raises(SourceError, match="KPI_MAX_SOURCE_FILE_MB=1"),
    ):
        export.messages_for_day(DAY)


def test_the_resource_passes_the_cap_on(tmp_path: Path) -> None:
    padding = [message(ts=f"{float(TS) + i / 1000:.6f}", text="x" * 1000) for i in range(1500)]
    archive = zipped(export_folder(tmp_path / "export", padding), tmp_path / "export.zip")
    with pytest.raises(SourceError, match="KPI_MAX_SOURCE_FILE_MB=1"):
        SlackSource(source=str(archive), max_file_mb=1).messages_for_day(DAY)


def test_a_corrupt_zip_entry_names_the_archive_and_entry(tmp_path: Path) -> None:
    messages = [message(ts=f"{float(TS) + i:.6f}", text=f"message number {i} " * 20) for i in range(200)]
    archive = zipped(export_folder(tmp_path / "export", messages), tmp_path / "export.zip")
    entry = f"general/{DAY}.json"
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(entry)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 20, start + 60):  # scramble the deflate stream, not the headers
        data[offset] ^= 0x5A
    archive.write_bytes(bytes(data))

    with SlackExport.open(archive) as export, pytest.raises(SourceError) as caught:
        export.messages_for_day(DAY)
    assert str(caught.value).startswith(f"{archive}: entry {entry} is corrupt")


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("text", 42, "number"),
        ("text", {"blocks": []}, "object"),
        ("user", ["U1"], "array"),
        ("thread_ts", 1.5, "number"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_naming_file_and_field(
    tmp_path: Path, field: str, value: Any, kind: str
) -> None:
    folder = export_folder(tmp_path / "export", [message(), message(ts=f"{float(TS) + 1:.6f}", **{field: value})])
    with SlackExport.open(folder) as export, pytest.raises(SourceError) as caught:
        export.messages_for_day(DAY)
    assert str(caught.value).startswith(
        f"{folder / 'general' / f'{DAY}.json'}: message #1 has '{field}' as a JSON {kind}"
    )


def test_a_reply_count_must_be_a_whole_number(tmp_path: Path) -> None:
    folder = export_folder(tmp_path / "export", [message(reply_count="3")])
    with SlackExport.open(folder) as export, pytest.raises(SourceError, match="'reply_count' as a JSON string"):
        export.messages_for_day(DAY)


@pytest.mark.parametrize("as_zip", [False, True])
def test_channel_folders_no_listing_names_are_counted(tmp_path: Path, as_zip: bool) -> None:
    folder = export_folder(tmp_path / "export", [message()])
    (folder / "secret-ops").mkdir()
    (folder / "secret-ops" / f"{DAY}.json").write_text(json.dumps([message(text="not listed")]))
    source = zipped(folder, tmp_path / "export.zip") if as_zip else folder
    with SlackExport.open(source) as export:
        assert export.orphan_folders == ("secret-ops",)
        assert list(export.messages_for_day(DAY)["text"]) == ["error rate 3%"]
    assert SlackSource(source=str(source)).notes() == {"orphan_channel_folders": 1}
