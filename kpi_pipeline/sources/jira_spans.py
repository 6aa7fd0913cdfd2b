"""Every issue's states as spans of days, and every event once, held columnar for a whole Jira source.

An issue's state changes only on a day that holds one of its changes or its resolution date, so each state
is computed once (sources/jira_history.py) and kept with the days it holds for: from day A inclusive to day
B exclusive. A day's rows are the spans covering it, a filter instead of a rebuild. Repeated texts (a
description, a status name) are kept once and spans hold their codes.

An export folder is read twice, one page at a time: the first pass learns what needs the whole export
(which copy of each key is kept, the custom fields, the status categories), the second builds the spans of
the kept copies. Neither holds more than one page's payloads.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kpi_pipeline.sources.jira_export import (
    CustomFields,
    SearchPage,
    export_files,
    read_search_file,
    sprint_like_fields,
    updated_at,
)
from kpi_pipeline.sources.jira_history import (
    EVENT_COLUMNS,
    ISSUE_COLUMNS,
    IssueTimeline,
    StatusSeen,
    events_of,
    key_order,
    state_as_of,
    status_categories,
    status_seen,
    timeline,
)
from kpi_pipeline.warehouse.tables import RAW_JIRA_ISSUES, Column

_OPEN_END = date.max.toordinal() + 1  # the last span of an issue holds for every later day
_NO_TIME = np.iinfo(np.int64).min  # NaT as datetime64[us]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ISSUE_TEXTS = ("issue_key", "issue_id", "project_key", "url")
_STATE_TEXTS = tuple(
    c for c in ISSUE_COLUMNS if c not in (*_ISSUE_TEXTS, "story_points", "created_at", "resolved_at", "day")
)
_EVENT_TEXTS = ("issue_key", "event_type", "field", "from_value", "to_value", "author", "url")
_EVENT_OBJECTS = ("event_id", "body")  # mostly distinct: kept as they are


class _Texts:
    """Each distinct text (or None) once; columns hold its code."""

    def __init__(self) -> None:
        self._codes: dict[str | None, int] = {None: 0}
        self.values: list[str | None] = [None]

    def code(self, value: str | None) -> int:
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self.values)
            self.values.append(value)
        return found


@dataclass(frozen=True)
class JiraSpans:
    """All issue states (spans) and events of one source; `issues_on` and `events_on` give a day's frames."""

    texts: np.ndarray  # object array: code -> text
    issue_texts: dict[str, np.ndarray]  # per issue: codes of key, id, project, url
    issue_created: np.ndarray  # per issue: created_at, µs since the epoch
    span_issue: np.ndarray  # per span, spans in issue key order then by day: the issue's index
    span_from: np.ndarray  # first day (ordinal) the span holds for
    span_to: np.ndarray  # first day it no longer holds for
    span_texts: dict[str, np.ndarray]  # per span: codes of the state's texts
    span_points: np.ndarray  # story points, NaN when none
    span_resolved: np.ndarray  # resolved_at, µs since the epoch (NaT when unresolved)
    event_day: np.ndarray  # per event, events in the order a day lists them: UTC day (ordinal)
    event_at: np.ndarray  # occurred_at, µs since the epoch
    event_texts: dict[str, np.ndarray]
    event_objects: dict[str, np.ndarray]
    duplicate_histories: int
    duplicate_comments: int

    def issues_on(self, day: date) -> pd.DataFrame:
        """Every issue that existed at the end of `day` (UTC) in its state then: raw.jira_issues' columns
        without `ingested_at`, issues in key order (PLAT-9 before PLAT-10)."""
        rows = self._spans_on(day)
        columns = self._state_columns(rows)
        columns["day"] = _days(day, len(rows))
        return pd.DataFrame(columns, columns=ISSUE_COLUMNS)

    def issue_count_on(self, day: date) -> int:
        """How many rows `issues_on(day)` holds."""
        return len(self._spans_on(day))

    def span_frame(self, first: date, last: date) -> pd.DataFrame:
        """The spans that hold for any day from `first` to `last`, with SPAN_COLUMNS: a day's issue rows are
        those with valid_from <= day < valid_to (day ordinals), ordered by `position` (copy_day_sql)."""
        rows = np.flatnonzero((self.span_from <= last.toordinal()) & (first.toordinal() < self.span_to))
        columns = self._state_columns(rows)
        columns |= {"valid_from": self.span_from[rows], "valid_to": self.span_to[rows], "position": rows}
        return pd.DataFrame(columns, columns=[c.name for c in SPAN_COLUMNS])

    def _spans_on(self, day: date) -> np.ndarray:
        ordinal = day.toordinal()
        return np.flatnonzero((self.span_from <= ordinal) & (ordinal < self.span_to))

    def _state_columns(self, rows: np.ndarray) -> dict[str, Any]:
        issues = self.span_issue[rows]
        columns: dict[str, Any] = {name: self.texts[codes[issues]] for name, codes in self.issue_texts.items()}
        columns |= {name: self.texts[codes[rows]] for name, codes in self.span_texts.items()}
        columns["story_points"] = pd.array(self.span_points[rows], dtype="Float64")
        columns["created_at"] = _utc(self.issue_created[issues])
        columns["resolved_at"] = _utc(self.span_resolved[rows])
        return columns

    def events_on(self, day: date) -> pd.DataFrame:
        """The events of `day` (UTC): raw.jira_events' columns without `ingested_at`, by time, same-instant
        events in issue key order, then creation, changelog order, comments."""
        ordinal = day.toordinal()
        first, end = np.searchsorted(self.event_day, [ordinal, ordinal + 1])
        picked = slice(int(first), int(end))
        columns: dict[str, Any] = {name: self.texts[codes[picked]] for name, codes in self.event_texts.items()}
        columns |= {name: values[picked] for name, values in self.event_objects.items()}
        columns["occurred_at"] = _utc(self.event_at[picked])
        columns["day"] = _days(day, int(end - first))
        return pd.DataFrame(columns, columns=EVENT_COLUMNS)

    def notes(self) -> dict[str, int]:
        """Changelog histories and comments dropped as repeats of an id already read, over all issues."""
        return {
            "duplicate_changelog_entries": self.duplicate_histories,
            "duplicate_comments": self.duplicate_comments,
        }


# the staged spans (span_frame): an issue row's columns but `day`, and the days it holds for
SPAN_COLUMNS = (
    *(c for c in RAW_JIRA_ISSUES.columns if c.name in ISSUE_COLUMNS and c.name != "day"),
    Column("valid_from", "INTEGER", nullable=False),
    Column("valid_to", "INTEGER", nullable=False),
    Column("position", "INTEGER", nullable=False),
)


def copy_day_sql(staged: str) -> str:
    """The INSERT of one day's raw.jira_issues rows from the spans staged as `staged` (span_frame), in key
    order; parameters: the day, ingested_at, the day's ordinal twice."""
    columns = [c.name for c in SPAN_COLUMNS if c.name in ISSUE_COLUMNS]
    return (
        f"INSERT INTO {RAW_JIRA_ISSUES.qualified} ({', '.join(columns)}, day, ingested_at) "
        f"SELECT {', '.join(columns)}, CAST(? AS DATE), CAST(? AS TIMESTAMPTZ) FROM {staged} "
        "WHERE valid_from <= ? AND ? < valid_to ORDER BY position"
    )


def _utc(micros: np.ndarray) -> pd.Series:
    return pd.Series(micros.view("M8[us]")).dt.tz_localize(UTC)


def _days(day: date, n: int) -> np.ndarray:
    days = np.empty(n, dtype=object)
    days[:] = day
    return days


def _micros(at: datetime | None) -> int:
    if at is None:
        return int(_NO_TIME)
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SpanBuilder:
    """Collects issues' spans and events one timeline at a time; `finish` orders and freezes them."""

    def __init__(self) -> None:
        self._texts = _Texts()
        self._keys: list[str] = []
        self._issue_texts = {name: array("i") for name in _ISSUE_TEXTS}
        self._issue_created = array("q")
        self._span_issue = array("i")
        self._span_from = array("i")
        self._span_to = array("i")
        self._span_texts = {name: array("i") for name in _STATE_TEXTS}
        self._span_points = array("d")
        self._span_resolved = array("q")
        self._event_issue = array("i")
        self._event_seq = array("i")
        self._event_at = array("q")
        self._event_texts = {name: array("i") for name in _EVENT_TEXTS}
        self._event_objects: dict[str, list[str | None]] = {name: [] for name in _EVENT_OBJECTS}
        self._duplicate_histories = 0
        self._duplicate_comments = 0

    def add(self, issue: IssueTimeline) -> None:
        index = len(self._keys)
        code = self._texts.code
        self._keys.append(issue.key)
        for name, value in (
            ("issue_key", issue.key),
            ("issue_id", issue.issue_id),
            ("project_key", issue.project_key),
            ("url", issue.url),
        ):
            self._issue_texts[name].append(code(value))
        self._issue_created.append(_micros(issue.created_at))
        starts = _state_days(issue)
        for start, end in zip(starts, [*starts[1:], _OPEN_END], strict=True):
            state = state_as_of(issue, date.fromordinal(start))
            self._span_issue.append(index)
            self._span_from.append(start)
            self._span_to.append(end)
            for name, codes in self._span_texts.items():
                codes.append(code(state[name]))
            points = state["story_points"]
            self._span_points.append(float("nan") if points is None else points)
            self._span_resolved.append(_micros(state["resolved_at"]))
        for seq, event in enumerate(events_of(issue)):
            self._event_issue.append(index)
            self._event_seq.append(seq)
            self._event_at.append(_micros(event["occurred_at"]))
            for name, codes in self._event_texts.items():
                codes.append(code(event[name]))
            for name, values in self._event_objects.items():
                values.append(event[name])
        self._duplicate_histories += issue.duplicate_histories
        self._duplicate_comments += issue.duplicate_comments

    def finish(self) -> JiraSpans:
        rank = np.empty(len(self._keys), dtype=np.int32)
        rank[sorted(range(len(self._keys)), key=lambda i: key_order(self._keys[i]))] = np.arange(
            len(self._keys), dtype=np.int32
        )
        span_issue = np.frombuffer(self._span_issue, dtype=np.int32)
        spans = np.argsort(rank[span_issue], kind="stable")  # a builder adds an issue's spans by day
        event_at = np.frombuffer(self._event_at, dtype=np.int64)
        event_rank = rank[np.frombuffer(self._event_issue, dtype=np.int32)]
        events = np.lexsort((np.frombuffer(self._event_seq, dtype=np.int32), event_rank, event_at))
        texts = np.empty(len(self._texts.values), dtype=object)
        texts[:] = self._texts.values
        return JiraSpans(
            texts=texts,
            issue_texts={name: np.frombuffer(codes, dtype=np.int32) for name, codes in self._issue_texts.items()},
            issue_created=np.frombuffer(self._issue_created, dtype=np.int64),
            span_issue=span_issue[spans],
            span_from=np.frombuffer(self._span_from, dtype=np.int32)[spans],
            span_to=np.frombuffer(self._span_to, dtype=np.int32)[spans],
            span_texts={name: np.frombuffer(codes, dtype=np.int32)[spans] for name, codes in self._span_texts.items()},
            span_points=np.frombuffer(self._span_points, dtype=np.float64)[spans],
            span_resolved=np.frombuffer(self._span_resolved, dtype=np.int64)[spans],
            event_day=(event_at[events] // 86_400_000_000 + _EPOCH.date().toordinal()).astype(np.int32),
            event_at=event_at[events],
            event_texts={name: _ints(codes)[events] for name, codes in self._event_texts.items()},
            event_objects={name: _objects(values)[events] for name, values in self._event_objects.items()},
            duplicate_histories=self._duplicate_histories,
            duplicate_comments=self._duplicate_comments,
        )


def _ints(codes: array[int]) -> np.ndarray:
    return np.frombuffer(codes, dtype=np.int32)


def _objects(values: list[str | None]) -> np.ndarray:
    held = np.empty(len(values), dtype=object)
    held[:] = values
    return held


def _state_days(issue: IssueTimeline) -> list[int]:
    """The days (ordinals) a new state of the issue starts on: its creation day, then every later day with a
    change to a kept column or its resolution date (resolved_at and, without a changelog, the status)."""
    first = issue.created_at.date().toordinal()
    days = {c.at.date().toordinal() for c in issue.changes if c.column is not None}
    if issue.resolution_date is not None:
        days.add(issue.resolution_date.date().toordinal())
    return [first, *sorted(d for d in days if d > first)]


def spans_of(
    issues: Iterable[Mapping[str, Any]], custom_fields: CustomFields, site_url: str | None = None
) -> JiraSpans:
    """The spans of issues already in memory (API mode); status categories are learnt across all of them."""
    issues = list(issues)
    categories = status_categories(status_seen(issue) for issue in issues)
    builder = SpanBuilder()
    for issue in issues:
        builder.add(timeline(issue, custom_fields, categories, site_url))
    return builder.finish()


@dataclass(frozen=True)
class _Kept:
    """What the first pass keeps of the copy of a key that wins (the latest `updated`, the later page on a tie)."""

    updated: datetime
    page: int
    position: int
    status: StatusSeen
    sprint_like: frozenset[str]


def read_export_spans(folder: Path) -> JiraSpans:
    """The spans of an export folder's issues, each key once, read page by page (see the module's doc)."""
    files = export_files(folder)
    kept: dict[str, _Kept] = {}
    names: dict[str, str] = {}
    statuses: dict[StatusSeen, StatusSeen] = {}  # one tuple per distinct status
    for page_number, page in enumerate(_pages(files)):
        names.update(page.names)
        for position, issue in enumerate(page.issues):
            updated = updated_at(issue)
            previous = kept.get(issue["key"])
            if previous is None or updated >= previous.updated:
                status = status_seen(issue)
                kept[issue["key"]] = _Kept(
                    updated, page_number, position, statuses.setdefault(status, status), sprint_like_fields(issue)
                )
    custom = CustomFields.from_names(names).with_sprint_fields(f for k in kept.values() for f in k.sprint_like)
    categories = status_categories(k.status for k in kept.values())
    wanted = {(k.page, k.position) for k in kept.values()}
    del kept
    builder = SpanBuilder()
    for page_number, page in enumerate(_pages(files)):
        for position, issue in enumerate(page.issues):
            if (page_number, position) in wanted:
                builder.add(timeline(issue, custom, categories, None))
    return builder.finish()


def _pages(files: list[Path]) -> Iterator[SearchPage]:
    for path in files:
        yield read_search_file(path)
