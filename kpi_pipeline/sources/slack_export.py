"""Slack workspace export (folder or ZIP, official layout) -> rows of raw.slack_messages for one UTC day.

Day files are named by the exporting workspace's *local* day (the real houstondatavis export, UTC-5/-6, files
431 of 1,382 messages under the day before their UTC day), so a UTC day can only be held by the files of that day and
its two neighbours. Only those are read: each is parsed once and kept while a backfill moves day by day, and an
earlier day's file not parsed yet is first scanned for a `"ts"` on the day. The frame helpers here are shared
with the Web API reader so both modes yield identical rows.
"""

from __future__ import annotations

import abc
import gc
import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.urls import web_url
from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

MESSAGE_COLUMNS: tuple[str, ...] = tuple(c for c in RAW_SLACK_MESSAGES.column_names if c != "ingested_at")

# channel listings of an export and whether their folders are named by channel name (else by id)
_LISTINGS: tuple[tuple[str, bool], ...] = (
    ("channels.json", True),
    ("groups.json", True),
    ("mpims.json", True),
    ("dms.json", False),
)
DEFAULT_MAX_FILE_MB = 100
_MB = 1024 * 1024
_ANY_TS = re.compile(rb'"ts"\s*:\s*"(\d+)[."]')
_TEAM_ID = re.compile(rb'"team_id"\s*:\s*"([A-Z0-9]+)"')
_WORKSPACE_IN_PERMALINK = re.compile(
    rb'"permalink"\s*:\s*"(https:(?:\\?/){2}[a-z0-9-]+\.slack\.com)\\?/(?:files|archives)\\?/'
)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str | None
    folder: str


@dataclass(frozen=True)
class Workspace:
    """What links are built from: the workspace URL (https://x.slack.com) and team id, when known."""

    url: str | None = None
    team_id: str | None = None


def utc_day_bounds(day: date) -> tuple[int, int]:
    """Epoch seconds [start, end) of a UTC day."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    return start, start + 86_400


# (ts, thread_ts, user_id, subtype, text, reply_count): the fields a message contributes to its row
Row = tuple[str, Any, Any, Any, Any, Any]


def message_rows(messages: list[Any], where: str) -> list[Row]:
    """The row fields of each message, in order; SourceError naming `where` when one has no valid ts.

    Bot messages have no `user`: their `bot_id` stands in, as the table contract says.
    """
    try:
        rows = [
            (m["ts"], m.get("thread_ts"), m.get("user") or m.get("bot_id"), m.get("subtype"), m.get("text"),
             m.get("reply_count"))
            for m in messages
        ]  # fmt: skip
        for row in rows:
            if not isinstance(row[0], str):
                raise TypeError
    except (KeyError, TypeError, AttributeError):
        _check_messages(messages, where)
        raise
    _check_field_types(rows, where)
    return rows


# (field, position in Row, the one JSON type it may have besides null)
_TYPED_FIELDS: tuple[tuple[str, int, type], ...] = (
    ("thread_ts", 1, str),
    ("user", 2, str),
    ("subtype", 3, str),
    ("text", 4, str),
    ("reply_count", 5, int),
)
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _check_field_types(rows: list[Row], where: str) -> None:
    """Refuse a field of the wrong JSON type (text as a number or object, …): it would be stored as a Python repr."""
    for name, index, kind in _TYPED_FIELDS:
        if {type(row[index]) for row in rows} <= {kind, type(None)}:
            continue
        position, value = next(
            (i, row[index]) for i, row in enumerate(rows) if row[index] is not None and type(row[index]) is not kind
        )
        raise SourceError(
            f"{where}: message #{position} has '{name}' as a JSON {_JSON_TYPES.get(type(value), type(value).__name__)} "
            f"({json.dumps(value)[:40]}), not a {_JSON_TYPES[kind]}; repair or re-export the file"
        )


def rows_by_utc_day(rows: list[Row], where: str) -> dict[int, list[Row]]:
    """Rows grouped by the UTC day (days since the epoch) of their own ts, exactly (no float rounding)."""
    try:
        day_numbers = [int(row[0].partition(".")[0]) // 86_400 for row in rows]
    except ValueError:
        index = next(i for i, row in enumerate(rows) if not row[0].partition(".")[0].isdigit())
        raise _bad_ts(where, index, rows[index][0]) from None
    if not rows or min(day_numbers) == max(day_numbers):
        return {day_numbers[0]: rows} if rows else {}
    buckets: dict[int, list[Row]] = {}
    for day_number, row in zip(day_numbers, rows, strict=True):
        buckets.setdefault(day_number, []).append(row)
    return buckets


def permalinks(workspace: Workspace, channel_id: str, ts_list: Iterable[str], thread_list: Iterable[Any]) -> list[str]:
    """Each message's web link when the workspace URL is known, else a slack:// deep link; replies name their
    thread."""
    if workspace.url:
        base = f"{workspace.url.rstrip('/')}/archives/{channel_id}/p"
        reply = f"&cid={channel_id}"
        return [
            base + ts.replace(".", "") if t is None or t == ts else f"{base}{ts.replace('.', '')}?thread_ts={t}{reply}"
            for ts, t in zip(ts_list, thread_list, strict=True)
        ]
    team = f"team={workspace.team_id}&" if workspace.team_id else ""
    base = f"slack://channel?{team}id={channel_id}&message="
    return [
        base + ts if t is None or t == ts else f"{base}{ts}&thread_ts={t}"
        for ts, t in zip(ts_list, thread_list, strict=True)
    ]


def workspace_url_in(raw: bytes) -> str | None:
    """The workspace URL of the first Slack file permalink in a day file's bytes (only Slack writes those)."""
    pos = raw.find(b'"permalink"')
    while pos != -1:
        found = _WORKSPACE_IN_PERMALINK.match(raw, pos)
        if found:
            return found.group(1).replace(b"\\/", b"/").decode()
        pos = raw.find(b'"permalink"', pos + 1)
    return None


def messages_frame(channel_rows: Iterable[tuple[Channel, list[Row]]], day: date, workspace: Workspace) -> pd.DataFrame:
    """One row per message (raw.slack_messages columns, no ingested_at), sorted by channel id and ts.

    The rows must be on `day`. A (channel, ts) seen twice keeps its first occurrence.
    """
    columns: dict[str, list[Any]] = {name: [] for name in MESSAGE_COLUMNS if name != "day"}
    for channel, rows in sorted(channel_rows, key=lambda item: item[0].id):
        if not rows:
            continue
        unique = list({row[0]: row for row in reversed(rows)}.values())
        unique.sort(key=lambda row: row[0])
        ts_list, thread_list, user_list, subtype_list, text_list, reply_list = zip(*unique, strict=True)
        columns["channel_id"] += [channel.id] * len(unique)
        columns["channel_name"] += [channel.name] * len(unique)
        columns["ts"] += ts_list
        columns["thread_ts"] += thread_list
        columns["user_id"] += user_list
        columns["subtype"] += subtype_list
        columns["text"] += text_list
        columns["reply_count"] += reply_list
        columns["permalink"] += permalinks(workspace, channel.id, ts_list, thread_list)
    frame = pd.DataFrame(
        {name: pd.array(values, dtype="Int64" if name == "reply_count" else "str") for name, values in columns.items()}
    )
    frame.insert(len(frame.columns), "day", [day] * len(frame))
    return frame[list(MESSAGE_COLUMNS)]


class _ExportFiles(abc.ABC):
    """Read access to the files of an export, by path relative to its root, each at most `max_bytes` long."""

    location: str
    max_bytes: int

    def too_big(self, relpath: str, size: int | None = None) -> SourceError:
        found = f"{size / _MB:.1f} MB" if size is not None else "more"
        return SourceError(
            f"{self.where(relpath)}: {found} uncompressed, over KPI_MAX_SOURCE_FILE_MB={self.max_bytes // _MB}; "
            "raise KPI_MAX_SOURCE_FILE_MB if the file is genuine, else re-export the workspace"
        )

    @abc.abstractmethod
    def folders(self) -> set[str]:
        """Names of the export's top-level folders."""

    @abc.abstractmethod
    def read(self, relpath: str, limit: int = -1) -> bytes | None:
        """The file's bytes (the first `limit` bytes when given), or None when it does not exist."""

    @abc.abstractmethod
    def where(self, relpath: str) -> str:
        """How to name the file in an error message."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release open handles."""


class _FolderFiles(_ExportFiles):
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.location = str(root)
        self.max_bytes = max_bytes

    def folders(self) -> set[str]:
        return {p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")}

    def read(self, relpath: str, limit: int = -1) -> bytes | None:
        try:
            with open(self.root / relpath, "rb") as handle:
                if limit < 0:
                    size = os.fstat(handle.fileno()).st_size
                    if size > self.max_bytes:
                        raise self.too_big(relpath, size)
                return handle.read(limit)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SourceError(
                f"{self.where(relpath)}: cannot be read ({exc.strerror}); check its permissions"
            ) from None

    def where(self, relpath: str) -> str:
        return str(self.root / relpath)

    def close(self) -> None:
        """Nothing stays open between reads of a folder."""


class _ZipFiles(_ExportFiles):
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.location = str(path)
        self.max_bytes = max_bytes
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"{path}: not a readable ZIP file ({exc}); pass the Slack export ZIP or folder") from None
        names = self.archive.namelist()
        tops = sorted((n for n in names if n.rsplit("/", 1)[-1] == "channels.json"), key=lambda n: n.count("/"))
        # exports re-zipped by hand often sit in one top folder
        self.prefix = tops[0][: -len("channels.json")] if tops else ""
        self.names = set(names)

    def read(self, relpath: str, limit: int = -1) -> bytes | None:
        name = self.prefix + relpath
        if name not in self.names:
            return None
        declared = self.archive.getinfo(name).file_size
        if limit < 0 and declared > self.max_bytes:
            raise self.too_big(relpath, declared)
        try:
            with self.archive.open(name) as handle:
                # inflate at most one byte past the cap: an entry whose header understates its size stops there
                data = handle.read(limit if limit >= 0 else self.max_bytes + 1)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
            raise SourceError(
                f"{self.location}: entry {name} is corrupt ({exc}); re-create the ZIP from the Slack export"
            ) from None
        if limit < 0 and len(data) > self.max_bytes:
            raise self.too_big(relpath)
        return data

    def folders(self) -> set[str]:
        inner = (n[len(self.prefix) :] for n in self.names if n.startswith(self.prefix))
        return {n.split("/", 1)[0] for n in inner if "/" in n and not n.startswith((".", "__MACOSX"))}

    def where(self, relpath: str) -> str:
        return f"{self.location}!{self.prefix}{relpath}"

    def close(self) -> None:
        self.archive.close()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsed JSON is acyclic, and collections triggered by its millions of
    new objects would otherwise triple the parse time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _decode_json(raw: bytes, where: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{where}: byte {exc.start} is not UTF-8 ({exc.reason}); Slack exports are UTF-8, so re-export the "
            "workspace or re-encode this file as UTF-8"
        ) from None
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{where}: malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); re-export the workspace "
            "or repair the file"
        ) from None


def _check_messages(messages: list[Any], where: str) -> None:
    """Raise a SourceError naming the first message that is not an object with a numeric string `ts`."""
    for index, message in enumerate(messages):
        ts = message.get("ts") if isinstance(message, dict) else None
        if not isinstance(ts, str) or not ts.partition(".")[0].isdigit():
            raise _bad_ts(where, index, ts)


def _bad_ts(where: str, index: int, ts: Any) -> SourceError:
    return SourceError(
        f"{where}: message #{index} has no valid 'ts' (got {ts!r}); every Slack message is an object with a ts "
        "like '1433952393.000027', so repair or re-export the file"
    )


def _may_hold(raw: bytes, start: int, end: int) -> bool:
    """Whether a neighbouring day file has any `"ts"` on [start, end): a pre-filter to skip parsing it."""
    return any(start <= int(seconds) < end for seconds in _ANY_TS.findall(raw))


class SlackExport:
    """An opened Slack export: its channels, the workspace it came from, and its messages by UTC day.

    Parsed day files are kept for the neighbouring days of the last request, so reading consecutive days
    (a backfill) parses each file once.
    """

    def __init__(self, files: _ExportFiles, channels: tuple[Channel, ...], workspace: Workspace) -> None:
        self.files = files
        self.channels = channels
        self.workspace = workspace
        # folders no channel listing names: their messages are not read, so they are counted instead
        self.orphan_folders = tuple(sorted(files.folders() - {channel.folder for channel in channels}))
        # (relpath) -> messages by UTC day number, and the raw bytes' workspace URL if any
        self._parsed: dict[str, tuple[dict[int, list[Row]], str | None]] = {}

    @classmethod
    def open(
        cls, location: str | Path, workspace_url: str | None = None, max_file_mb: int = DEFAULT_MAX_FILE_MB
    ) -> SlackExport:
        """Open an export folder or ZIP; reads only the channel listings and the head of users.json. A file (or
        ZIP entry) over `max_file_mb` uncompressed is refused rather than read (KPI_MAX_SOURCE_FILE_MB)."""
        path = Path(location)
        if max_file_mb <= 0:
            raise SourceError(f"KPI_MAX_SOURCE_FILE_MB={max_file_mb}: must be a positive number of megabytes")
        if path.is_dir():
            files: _ExportFiles = _FolderFiles(path, max_file_mb * _MB)
        elif path.is_file():
            files = _ZipFiles(path, max_file_mb * _MB)
        else:
            raise SourceError(
                f"KPI_SLACK_SOURCE={str(location)!r}: no such folder or ZIP; point it at a Slack export (the folder "
                "or .zip holding channels.json) or set it to 'api'"
            )
        try:
            channels = _read_channels(files)
            users_head = files.read("users.json", 65_536) or b""
        except SourceError:
            files.close()
            raise
        team = _TEAM_ID.search(users_head)
        workspace = Workspace(url=web_url(workspace_url), team_id=team.group(1).decode() if team else None)
        return cls(files, channels, workspace)

    def __enter__(self) -> SlackExport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._parsed.clear()
        self.files.close()

    def messages_for_day(self, day: date) -> pd.DataFrame:
        """Every message of every channel whose own ts falls on the UTC `day`, as raw.slack_messages rows."""
        file_days = (day - timedelta(days=1), day, day + timedelta(days=1))
        wanted = {
            f"{channel.folder}/{file_day.isoformat()}.json" for channel in self.channels for file_day in file_days
        }
        self._parsed = {relpath: parsed for relpath, parsed in self._parsed.items() if relpath in wanted}
        with _collector_paused():
            per_channel, urls = self._messages_on(day, file_days)
        workspace = self.workspace
        if workspace.url is None and urls:
            workspace = Workspace(url=max(set(urls), key=urls.count), team_id=workspace.team_id)
        return messages_frame(per_channel, day, workspace)

    def _messages_on(self, day: date, file_days: tuple[date, ...]) -> tuple[list[tuple[Channel, list[Row]]], list[str]]:
        """Each channel's messages on `day`, and the workspace URLs seen in the files read."""
        day_number = utc_day_bounds(day)[0] // 86_400
        per_channel: list[tuple[Channel, list[Row]]] = []
        urls: list[str] = []
        for channel in self.channels:
            rows: list[Row] = []
            for file_day in file_days:
                parsed = self._day_file(f"{channel.folder}/{file_day.isoformat()}.json", day, file_day)
                if parsed is not None:
                    rows += parsed[0].get(day_number, [])
                    if parsed[1]:
                        urls.append(parsed[1])
            per_channel.append((channel, rows))
        return per_channel, urls

    def _day_file(self, relpath: str, day: date, file_day: date) -> tuple[dict[int, list[Row]], str | None] | None:
        """The file's messages by UTC day, or None when it is absent or (an earlier day's file) has none on `day`."""
        parsed = self._parsed.get(relpath)
        if parsed is not None:
            return parsed
        raw = self.files.read(relpath)
        if raw is None:
            return None
        if file_day < day and not _may_hold(raw, *utc_day_bounds(day)):
            # a backfill has moved past that file: parse it only if it can hold the day
            return None
        where = self.files.where(relpath)
        messages = _decode_json(raw, where)
        if not isinstance(messages, list):
            raise SourceError(
                f"{where}: expected a JSON array of messages, found a JSON {type(messages).__name__}; a Slack "
                "export day file holds an array, so re-export the workspace or repair the file"
            )
        parsed = (rows_by_utc_day(message_rows(messages, where), where), workspace_url_in(raw))
        self._parsed[relpath] = parsed
        return parsed


def _read_channels(files: _ExportFiles) -> tuple[Channel, ...]:
    channels: dict[str, Channel] = {}
    for listing, named_by_name in _LISTINGS:
        raw = files.read(listing)
        if raw is None:
            if listing == "channels.json":
                raise SourceError(
                    f"{files.where(listing)}: missing; KPI_SLACK_SOURCE must name an official Slack export (the "
                    "folder or .zip that holds channels.json and one folder per channel)"
                )
            continue
        where = files.where(listing)
        entries = _decode_json(raw, where)
        if not isinstance(entries, list):
            raise SourceError(f"{where}: expected a JSON array of channels; re-export the workspace")
        for index, entry in enumerate(entries):
            channel = _channel(entry, named_by_name, f"{where} entry #{index}")
            channels.setdefault(channel.id, channel)
    return tuple(channels.values())


def _channel(entry: Any, named_by_name: bool, where: str) -> Channel:
    channel_id = entry.get("id") if isinstance(entry, dict) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    folder = name if named_by_name else channel_id
    if not isinstance(channel_id, str) or not channel_id or not isinstance(folder, str) or not folder:
        raise SourceError(f"{where}: a channel needs a string 'id'{' and name' if named_by_name else ''}; re-export")
    if "/" in folder or "\\" in folder or folder in {".", ".."}:
        raise SourceError(f"{where}: channel folder {folder!r} is not a plain folder name; re-export the workspace")
    return Channel(id=channel_id, name=name, folder=folder)
