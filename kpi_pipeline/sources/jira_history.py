"""An issue's state as of the end of a UTC day, and what happened to it, from its changelog.

Search responses only carry an issue's *current* fields. To see a past day as it was, each issue is turned
into a timeline (current state + sorted changelog items + comments); a day's state is the current state
with every change made after that day undone, newest first. Without a changelog (not expanded) the current
values are all there is, except that `resolutiondate` still tells when the issue was not yet done.
sources/jira_spans.py turns each timeline into the spans of days its states hold for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_export import CustomFields, adf_to_text, current_sprint_name, parse_timestamp
from kpi_pipeline.sources.urls import web_url
from kpi_pipeline.warehouse.tables import RAW_JIRA_EVENTS, RAW_JIRA_ISSUES

ISSUE_COLUMNS = [c for c in RAW_JIRA_ISSUES.column_names if c != "ingested_at"]
EVENT_COLUMNS = [c for c in RAW_JIRA_EVENTS.column_names if c != "ingested_at"]

# changelog field (lower-cased `fieldId` or `field`) -> the state column it changes
_SYSTEM_COLUMNS = {
    "summary": "summary",
    "description": "description",
    "status": "status",
    "priority": "priority",
    "assignee": "assignee",
    "reporter": "reporter",
    "labels": "labels",
    "resolution": "resolution",
    "issuetype": "issue_type",
}
_EVENT_TYPES = {"status": "status_change", "resolution": "resolution"}
_DONE_NAMES = {"done", "closed", "resolved", "complete", "completed"}
_NEW_NAMES = {"open", "to do", "todo", "backlog", "new", "reopened", "selected for development"}


@dataclass(frozen=True)
class Change:
    """One changelog item, with the state column it touches (None for fields we don't keep)."""

    event_id: str
    at: datetime
    author: str | None
    field: str
    column: str | None
    from_value: Any
    to_value: Any
    from_text: str | None
    to_text: str | None
    from_category: str | None = None


@dataclass(frozen=True)
class Comment:
    comment_id: str
    at: datetime
    author: str | None
    body: str | None


@dataclass(frozen=True)
class IssueTimeline:
    key: str
    issue_id: str | None
    project_key: str | None
    url: str | None
    created_at: datetime
    creator: str | None
    resolution_date: datetime | None
    current: dict[str, Any]
    changes: tuple[Change, ...]
    comments: tuple[Comment, ...]
    has_changelog: bool
    # entries dropped because their id was already seen (overlapping pages repeat them)
    duplicate_histories: int = 0
    duplicate_comments: int = 0


def timeline(
    issue: Mapping[str, Any], custom: CustomFields, categories: Mapping[str, str], site_url: str | None
) -> IssueTimeline:
    """The issue's timeline; `categories` (status_categories) are learnt across all issues of the source."""
    key = str(issue["key"])
    fields = issue["fields"]
    created_raw = fields.get("created")
    if not created_raw:
        raise SourceError(f"issue {key} has no 'created' field: export search results with fields=*all")
    url = _browse_url(issue, site_url)
    status = fields.get("status") or {}
    current = {
        "summary": fields.get("summary"),
        "description": adf_to_text(fields.get("description")),
        "status": status.get("name"),
        "status_category": _category(status, categories),
        "priority": _name(fields.get("priority")),
        "assignee": _person(fields.get("assignee")),
        "reporter": _person(fields.get("reporter")),
        "labels": _labels(fields.get("labels") or []),
        "story_points": _first_number(fields.get(fid) for fid in custom.story_point_ids),
        "sprint": next((s for s in (current_sprint_name(fields.get(fid)) for fid in custom.sprint_ids) if s), None),
        "resolution": _name(fields.get("resolution")),
        "issue_type": _name(fields.get("issuetype")),
    }
    changelog = issue.get("changelog")
    histories, duplicate_histories = _unique_by_id(
        key, "changelog history", changelog.get("histories") if isinstance(changelog, Mapping) else None
    )
    ordered = sorted(
        histories, key=lambda h: (_timestamp(key, "changelog created", h.get("created")), _numeric_id(str(h.get("id"))))
    )
    changes = [change for history in ordered for change in _changes(key, history, custom, categories)]
    comment_block = fields.get("comment")
    raw_comments, duplicate_comments = _unique_by_id(
        key, "comment", comment_block.get("comments") if isinstance(comment_block, Mapping) else None
    )
    comments = tuple(
        sorted(
            (
                Comment(
                    str(c.get("id")),
                    _timestamp(key, "comment created", c.get("created")),
                    _person(c.get("author")),
                    adf_to_text(c.get("body")),
                )
                for c in raw_comments
            ),
            key=lambda c: (c.at, _numeric_id(c.comment_id)),
        )
    )
    resolution_raw = fields.get("resolutiondate")
    return IssueTimeline(
        key=key,
        issue_id=str(issue["id"]) if issue.get("id") is not None else None,
        project_key=(fields.get("project") or {}).get("key") or key.rsplit("-", 1)[0],
        url=url,
        created_at=_timestamp(key, "created", created_raw),
        creator=_person(fields.get("creator")) or current["reporter"],
        resolution_date=_timestamp(key, "resolutiondate", resolution_raw) if resolution_raw else None,
        current=current,
        changes=tuple(changes),
        comments=comments,
        has_changelog=isinstance(changelog, Mapping),
        duplicate_histories=duplicate_histories,
        duplicate_comments=duplicate_comments,
    )


def _unique_by_id(key: str, what: str, entries: Any) -> tuple[list[Mapping[str, Any]], int]:
    """Changelog histories or comments, each id once (the first copy: overlapping API pages repeat entries),
    and how many repeats were dropped. A missing or null list is no entries. An entry without an id (a
    hand-written export) gets `p<position>`, so its events still have distinct ids."""
    if entries is None:
        return [], 0
    if not isinstance(entries, list):
        raise SourceError(
            f"issue {key}: the {what} list is a JSON {type(entries).__name__}, not an array; re-export it"
        )
    unique: dict[str, Mapping[str, Any]] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise SourceError(f"issue {key}: {what} #{position} is not a JSON object; re-export the issue")
        if entry.get("id") is None:
            entry = {**entry, "id": f"p{position}"}
        unique.setdefault(str(entry["id"]), entry)
    return list(unique.values()), len(entries) - len(unique)


def _changes(
    key: str, history: Mapping[str, Any], custom: CustomFields, categories: Mapping[str, str]
) -> Iterable[Change]:
    at = _timestamp(key, "changelog created", history.get("created"))
    author = _person(history.get("author"))
    for index, item in enumerate(history.get("items") or []):
        field, column = _field_and_column(item, custom)
        from_text, to_text = _text(item.get("fromString")), _text(item.get("toString"))
        from_value = _column_value(column, item.get("from"), from_text)
        from_category = None
        if column == "status":
            from_category = categories.get(str(item.get("from"))) or _guess_category(from_text)
        yield Change(
            event_id=f"{key}/history/{history.get('id')}/{index}",
            at=at,
            author=author,
            field=field,
            column=column,
            from_value=from_value,
            to_value=_column_value(column, item.get("to"), to_text),
            from_text=from_text if from_text is not None else _text(item.get("from")),
            to_text=to_text if to_text is not None else _text(item.get("to")),
            from_category=from_category,
        )


def _field_and_column(item: Mapping[str, Any], custom: CustomFields) -> tuple[str, str | None]:
    name = str(item.get("field") or "")
    field_id = str(item.get("fieldId") or "")
    if field_id in custom.story_point_ids or name.lower() in custom.story_point_names:
        return "Story Points", "story_points"
    if field_id in custom.sprint_ids or name.lower() in custom.sprint_names:
        return "Sprint", "sprint"
    system = (field_id or name).lower()
    if item.get("fieldtype") != "custom" and system in _SYSTEM_COLUMNS:
        return system, _SYSTEM_COLUMNS[system]
    return name or field_id, None


def _column_value(column: str | None, raw: Any, text: str | None) -> Any:
    """A changelog side as the state column holds it."""
    if column == "story_points":
        return _first_number([text, raw])
    if column == "sprint":
        return text.split(", ")[-1].strip() if text else None
    if column == "labels":
        return _labels(text.split() if text else [])
    return text


def state_as_of(timeline: IssueTimeline, day: date) -> dict[str, Any]:
    """The issue row for the end of `day` (UTC): current values with every later change undone."""
    end = _end_of(day)
    state = dict(timeline.current)
    later = [c for c in timeline.changes if c.at >= end]
    for change in reversed(later):
        if change.column is not None:
            state[change.column] = change.from_value
            if change.column == "status":
                state["status_category"] = change.from_category
    state["resolved_at"] = _resolved_at(timeline, state, end)
    resolved_later = timeline.resolution_date is not None and timeline.resolution_date >= end
    if not timeline.has_changelog and resolved_later:
        # no changelog: resolutiondate shows the issue was still open, but not in which status
        state.update(resolution=None, status=None, status_category=None)
    return {
        **state,
        "issue_key": timeline.key,
        "issue_id": timeline.issue_id,
        "project_key": timeline.project_key,
        "created_at": timeline.created_at,
        "url": timeline.url,
        "day": day,
    }


def _resolved_at(timeline: IssueTimeline, state: Mapping[str, Any], end: datetime) -> datetime | None:
    if state["resolution"] is None:
        return None
    set_times = [c.at for c in timeline.changes if c.column == "resolution" and c.to_value and c.at < end]
    if set_times:
        return set_times[-1]
    resolved = timeline.resolution_date
    return resolved if resolved is not None and resolved < end else None


def events_of(timeline: IssueTimeline) -> list[dict[str, Any]]:
    """Creation, changelog items and comments, each with its UTC day, from the creation day on (an earlier
    one falls on a day the issue did not exist yet)."""
    first_day = timeline.created_at.date()
    initial = dict(timeline.current)
    for change in reversed(timeline.changes):
        if change.column is not None:
            initial[change.column] = change.from_value
    events = [
        _event(timeline, f"{timeline.key}/created", "created", timeline.created_at, timeline.creator)
        | {"to_value": initial["status"], "body": initial["summary"]}
    ]
    for change in timeline.changes:
        if change.at.date() >= first_day:
            events.append(
                _event(
                    timeline, change.event_id, _EVENT_TYPES.get(change.field, "field_change"), change.at, change.author
                )
                | {"field": change.field, "from_value": change.from_text, "to_value": change.to_text}
            )
    for comment in timeline.comments:
        if comment.at.date() >= first_day:
            url = f"{timeline.url}?focusedCommentId={comment.comment_id}" if timeline.url else None
            events.append(
                _event(timeline, f"{timeline.key}/comment/{comment.comment_id}", "comment", comment.at, comment.author)
                | {"body": comment.body, "url": url}
            )
    return events


def _event(timeline: IssueTimeline, event_id: str, kind: str, at: datetime, author: str | None) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "issue_key": timeline.key,
        "event_type": kind,
        "field": None,
        "from_value": None,
        "to_value": None,
        "author": author,
        "body": None,
        "occurred_at": at,
        "url": timeline.url,
        "day": at.date(),
    }


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def key_order(key: str) -> tuple[Any, ...]:
    """PLAT-9 before PLAT-10: numbers inside keys and ids compare as numbers."""
    parts: list[Any] = []
    for piece in key.replace("-", "/").split("/"):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


def _numeric_id(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


# an issue's current status as (id, name, category key), each None when absent
StatusSeen = tuple[str | None, str | None, str | None]


def status_seen(issue: Mapping[str, Any]) -> StatusSeen:
    status = issue["fields"].get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    name = status.get("name")
    return (
        str(status["id"]) if status.get("id") is not None else None,
        str(name) if name else None,
        str(category) if category else None,
    )


def status_categories(statuses: Iterable[StatusSeen]) -> dict[str, str]:
    """Status id and lower-cased name -> category key, from every issue's current status (status_seen)."""
    categories: dict[str, str] = {}
    for status_id, name, category in statuses:
        if category:
            if status_id is not None:
                categories[status_id] = category
            if name:
                categories[name.lower()] = category
    return categories


def _category(status: Mapping[str, Any], categories: Mapping[str, str]) -> str | None:
    known = (status.get("statusCategory") or {}).get("key")
    if known:
        return str(known)
    name = status.get("name")
    return (categories.get(str(name).lower()) or _guess_category(name)) if name else None


def _guess_category(name: str | None) -> str | None:
    """Last resort when no issue shows this status's category: Jira's default workflow names."""
    if not name:
        return None
    lowered = name.lower()
    return "done" if lowered in _DONE_NAMES else "new" if lowered in _NEW_NAMES else "indeterminate"


def _browse_url(issue: Mapping[str, Any], site_url: str | None) -> str | None:
    """The issue's browse link on its site (from `self`, else the configured site), http(s) only."""
    self_link = web_url(issue.get("self")) or ""
    base = self_link.split("/rest/api/", 1)[0] if "/rest/api/" in self_link else (site_url or "").rstrip("/")
    return web_url(f"{base}/browse/{issue['key']}") if base else None


def _timestamp(key: str, what: str, raw: Any) -> datetime:
    try:
        return parse_timestamp(str(raw))
    except (ValueError, TypeError):
        raise SourceError(f"issue {key}: {what} is not a Jira timestamp: {raw!r}") from None


def _person(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    return value.get("displayName") or value.get("name") or value.get("accountId")


def _name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, Mapping) else None


def _labels(labels: Iterable[Any]) -> str:
    return json.dumps(sorted(str(label) for label in labels))


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _first_number(values: Iterable[Any]) -> float | None:
    for value in values:
        if value is None or value == "":
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None
