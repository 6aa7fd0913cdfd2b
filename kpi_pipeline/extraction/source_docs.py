"""A day's raw rows -> the `SourceDoc`s extraction reads and cites.

Source ids are stable and readable (`slack:C123:1720000000.000100`, `jira:PLAT-12#comment-10020`,
`docs:status/2026-w27.md@<rev>#2`) because they end up in the warehouse as evidence that people click.
System messages carry no KPI text, so they never reach the model.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd

from kpi_pipeline.extraction.schema import SourceDoc

SLACK_SYSTEM_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_purpose",
        "channel_topic",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
        "reminder_add",
        "tombstone",
    }
)
DOC_SECTION_CHARS = 2000  # longer docs are split at headings (then paragraphs) into sections of about this size
_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)


def slack_docs(rows: pd.DataFrame) -> list[SourceDoc]:
    """Messages with text, system subtypes (joins, topic changes, ...) skipped."""
    docs = []
    for row in _records(rows, "text", "subtype", "ts", "channel_id", "permalink", "channel_name"):
        text = _text(row.get("text"))
        if not text or row.get("subtype") in SLACK_SYSTEM_SUBTYPES:
            continue
        ts = str(row["ts"])
        docs.append(
            SourceDoc(
                source_type="slack",
                source_id=f"slack:{row['channel_id']}:{ts}",
                text=text,
                observed_at=datetime.fromtimestamp(float(ts), tz=UTC),
                url=_text(row.get("permalink")) or None,
                title=None,
                channel=_text(row.get("channel_name")) or str(row["channel_id"]),
            )
        )
    return sorted(docs, key=lambda d: d.observed_at)


def jira_docs(issues: pd.DataFrame, events: pd.DataFrame, day: date) -> list[SourceDoc]:
    """Comments of the day, and the summary and description of issues created that day."""
    summaries: dict[str, str] = {}
    urls: dict[str, str] = {}
    created_today = issues
    if not issues.empty:
        keys = issues["issue_key"].astype(str)
        summaries = dict(zip(keys, issues["summary"].fillna("").astype(str), strict=True))
        urls = dict(zip(keys, issues["url"].fillna("").astype(str), strict=True))
        created = pd.to_datetime(issues["created_at"], utc=True)
        created_today = issues[created.dt.date == day]
    docs = []
    for row in _records(created_today, "issue_key", "summary", "description", "created_at"):
        key = str(row["issue_key"])
        text = "\n\n".join(t for t in (_text(row.get("summary")), _text(row.get("description"))) if t)
        created_at = _timestamp(row.get("created_at"))
        if text and created_at is not None:
            docs.append(
                SourceDoc(
                    "jira", f"jira:{key}", text, created_at, urls.get(key) or None, summaries.get(key), _project(key)
                )
            )
    comments = events[events["event_type"] == "comment"] if not events.empty else events
    for row in _records(comments, "body", "occurred_at", "issue_key", "event_id", "url"):
        text = _text(row.get("body"))
        occurred = _timestamp(row.get("occurred_at"))
        if not text or occurred is None:
            continue
        key = str(row["issue_key"])
        docs.append(
            SourceDoc(
                source_type="jira",
                source_id=f"jira:{key}#comment-{_comment_ref(str(row['event_id']), key)}",
                text=text,
                observed_at=occurred,
                url=_text(row.get("url")) or urls.get(key) or None,
                title=summaries.get(key) or None,
                channel=_project(key),
            )
        )
    return sorted(docs, key=lambda d: d.observed_at)


def docs_docs(rows: pd.DataFrame) -> list[SourceDoc]:
    """Each document revision, split into sections when long so that selection can keep the relevant part."""
    docs = []
    for row in _records(rows, "text", "path", "revision", "day", "url", "title"):
        text = _text(row.get("text"))
        if not text.strip():
            continue
        path, revision = str(row["path"]), str(row["revision"])
        day = row["day"] if isinstance(row["day"], date) else pd.Timestamp(row["day"]).date()
        observed = datetime.combine(day, time(0), tzinfo=UTC)
        sections = split_sections(text)
        for number, section in enumerate(sections, start=1):
            suffix = f"#{number}" if len(sections) > 1 else ""
            docs.append(
                SourceDoc(
                    source_type="docs",
                    source_id=f"docs:{path}@{revision}{suffix}",
                    text=section,
                    observed_at=observed,
                    url=_text(row.get("url")) or None,
                    title=_text(row.get("title")) or path,
                    channel=path,
                )
            )
    return docs


def split_sections(text: str, max_chars: int = DOC_SECTION_CHARS) -> list[str]:
    """Verbatim pieces of `text`: whole text if short, else by headings, long sections by paragraphs."""
    if len(text) <= max_chars:
        return [text.strip()]
    starts = sorted({0, *(m.start() for m in _HEADING.finditer(text))})
    pieces = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    sections: list[str] = []
    for piece in pieces:
        sections.extend(_paragraph_chunks(piece, max_chars) if len(piece) > max_chars else [piece])
    return [s.strip() for s in _merge_small(sections, max_chars) if s.strip()]


def _paragraph_chunks(text: str, max_chars: int) -> list[str]:
    """Pack paragraphs (or lines, for a paragraph that is itself too long) into chunks of at most `max_chars`."""
    units: list[str] = []
    for paragraph in re.split(r"(?<=\n\n)", text):
        units.extend(re.split(r"(?<=\n)", paragraph) if len(paragraph) > max_chars else [paragraph])
    chunks: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + len(unit) > max_chars:
            chunks.append(current)
            current = ""
        current += unit
    return [*chunks, current] if current else chunks


def _merge_small(sections: list[str], max_chars: int) -> list[str]:
    """Glue tiny neighbouring sections (a heading alone) so every section stands on its own."""
    merged: list[str] = []
    for section in sections:
        if merged and len(merged[-1]) + len(section) <= max_chars // 2:
            merged[-1] += section
        else:
            merged.append(section)
    return merged


def _comment_ref(event_id: str, issue_key: str) -> str:
    """The comment's id from an event id such as `PLAT-12:comment:10020` or `PLAT-12#comment-10020`."""
    rest = event_id.removeprefix(issue_key).strip(":#-_/ ")
    digits = re.findall(r"\d+", rest)
    return digits[0] if digits else rest or event_id


def _project(issue_key: str) -> str:
    return issue_key.rsplit("-", 1)[0]


def _records(frame: pd.DataFrame | None, *names: str) -> list[dict[str, Any]]:
    """The rows as dicts of Python values of the columns `names` that the frame has, missing values (None, NaN,
    NaT) as None: built column by column, since a row loop over pandas costs more than the rest of building the
    sources, and only the columns read (converting the unread timestamp columns was a third of `slack_docs`)."""
    if frame is None or frame.empty:
        return []
    columns = {name: _values(frame[name]) for name in names if name in frame.columns}
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _values(column: pd.Series) -> list[Any]:
    values = column.tolist()
    missing = column.isna().tolist()
    return [None if gone else v for v, gone in zip(values, missing, strict=True)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()
