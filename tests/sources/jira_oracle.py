"""The plain per-day rebuild the spans replaced, kept as the tests' oracle: every issue rebuilt for every day.

It is what the pipeline did before spans (every issue's state undone from its changelog for the day asked,
the day's events picked from every timeline), slow but obviously right; the spans must give the same
frames, row for row and in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.sources.jira_export import CustomFields
from kpi_pipeline.sources.jira_history import (
    EVENT_COLUMNS,
    ISSUE_COLUMNS,
    IssueTimeline,
    events_of,
    key_order,
    state_as_of,
    status_categories,
    status_seen,
    timeline,
)


def build_timelines(
    issues: Sequence[Mapping[str, Any]], custom_fields: CustomFields, site_url: str | None = None
) -> list[IssueTimeline]:
    """Timelines of all issues of one source; status categories are learnt across all of them."""
    categories = status_categories(status_seen(issue) for issue in issues)
    return [timeline(issue, custom_fields, categories, site_url) for issue in issues]


def events_on(issue: IssueTimeline, day: date) -> list[dict[str, Any]]:
    """The issue's events whose UTC day is `day`."""
    return [event for event in events_of(issue) if event["occurred_at"].date() == day]


def rows_for_day(timelines: Iterable[IssueTimeline], day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(issues, events) frames for one day, with the raw tables' columns minus `ingested_at`."""
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
    existing = sorted((t for t in timelines if t.created_at < end), key=lambda t: key_order(t.key))
    issues = [state_as_of(t, day) for t in existing]
    # stable: same-instant events keep issue order, then creation, changelog order, comments
    events = sorted((e for t in existing for e in events_on(t, day)), key=lambda e: e["occurred_at"])
    return (
        _frame(issues, ISSUE_COLUMNS, ("created_at", "resolved_at"), ("story_points",)),
        _frame(events, EVENT_COLUMNS, ("occurred_at",), ()),
    )


def _frame(
    rows: list[dict[str, Any]], columns: list[str], timestamps: Sequence[str], numbers: Sequence[str]
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for name in timestamps:
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
    for name in numbers:
        frame[name] = frame[name].astype("Float64")
    frame["day"] = frame["day"].astype(object)
    return frame
