"""An issue's state as of a day is rebuilt from its changelog; a day's events are what happened that day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_export import CustomFields, read_export_folder
from kpi_pipeline.sources.jira_history import EVENT_COLUMNS, ISSUE_COLUMNS, state_as_of
from kpi_pipeline.warehouse.tables import RAW_JIRA_EVENTS, RAW_JIRA_ISSUES
from tests.sources.jira_oracle import build_timelines, events_on, rows_for_day

POINTS, SPRINT = "customfield_10016", "customfield_10020"
FIELDS = CustomFields(story_point_ids=(POINTS,), sprint_ids=(SPRINT,))
SITE = "https://acme.atlassian.net"
STATUSES = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "Done": ("10001", "done"),
    "Reopened": ("4", "new"),
}


def status(name: str) -> dict[str, Any]:
    sid, category = STATUSES[name]
    return {"id": sid, "name": name, "statusCategory": {"key": category}}


def item(field: str, old: str | None, new: str | None, **extra: Any) -> dict[str, Any]:
    return {"field": field, "fieldtype": "jira", "fromString": old, "toString": new, **extra}


def moved(old: str, new: str) -> dict[str, Any]:
    return item("status", old, new, fieldId="status", **{"from": STATUSES[old][0], "to": STATUSES[new][0]})


def history(hid: int, at: str, *items: dict[str, Any], author: str = "Ann Lee") -> dict[str, Any]:
    return {"id": str(hid), "created": at, "author": {"displayName": author}, "items": list(items)}


def make_issue(key: str, created: str, histories: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "summary": "Cut API error rate",
        "status": status("To Do"),
        "created": created,
        "updated": created,
        "issuetype": {"name": "Story"},
        "project": {"key": key.split("-")[0]},
        "reporter": {"displayName": "Raj Patel"},
        "assignee": None,
        "priority": {"name": "High"},
        "labels": [],
        "resolution": None,
        "resolutiondate": None,
        "comment": {"comments": [], "total": 0},
    }
    number = key.split("-")[1]
    return {
        "id": f"1{number}",
        "key": key,
        "self": f"{SITE}/rest/api/3/issue/1{number}",
        "fields": base | fields,
        "changelog": {"startAt": 0, "total": len(histories), "histories": histories},
    }


def timeline_of(issue: dict[str, Any], *others: dict[str, Any]) -> Any:
    return build_timelines([issue, *others], FIELDS)[0]


TRANSITIONS = make_issue(
    "PLAT-1",
    "2026-07-01T10:00:00.000+0000",
    [
        history(10001, "2026-07-02T09:00:00.000+0000", moved("To Do", "In Progress")),
        history(
            10002,
            "2026-07-04T15:00:00.000+0000",
            moved("In Progress", "Done"),
            item("resolution", None, "Done", fieldId="resolution", to="10000"),
        ),
    ],
    status=status("Done"),
    resolution={"name": "Done"},
    resolutiondate="2026-07-04T15:00:00.000+0000",
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 7, 1), ("To Do", "new", None, None)),
        (date(2026, 7, 2), ("In Progress", "indeterminate", None, None)),
        (date(2026, 7, 3), ("In Progress", "indeterminate", None, None)),
        (date(2026, 7, 4), ("Done", "done", "Done", datetime(2026, 7, 4, 15, tzinfo=UTC))),
        (date(2026, 9, 30), ("Done", "done", "Done", datetime(2026, 7, 4, 15, tzinfo=UTC))),
    ],
)
def test_status_and_resolution_are_those_at_the_end_of_the_day(day: date, expected: tuple[Any, ...]) -> None:
    row = state_as_of(timeline_of(TRANSITIONS), day)
    assert (row["status"], row["status_category"], row["resolution"], row["resolved_at"]) == expected


def test_a_reopened_issue_loses_its_resolution_until_it_is_resolved_again() -> None:
    issue = make_issue(
        "PLAT-2",
        "2026-07-01T08:00:00.000+0000",
        [
            history(
                1,
                "2026-07-03T12:00:00.000+0000",
                moved("To Do", "Done"),
                item("resolution", None, "Fixed", fieldId="resolution"),
            ),
            history(
                2,
                "2026-07-05T12:00:00.000+0000",
                moved("Done", "Reopened"),
                item("resolution", "Fixed", None, fieldId="resolution"),
            ),
            history(
                3,
                "2026-07-08T12:00:00.000+0000",
                moved("Reopened", "Done"),
                item("resolution", None, "Fixed", fieldId="resolution"),
            ),
        ],
        status=status("Done"),
        resolution={"name": "Fixed"},
        resolutiondate="2026-07-08T12:00:00.000+0000",
    )
    timeline = timeline_of(issue)
    resolved_first = state_as_of(timeline, date(2026, 7, 4))
    reopened = state_as_of(timeline, date(2026, 7, 6))
    resolved_again = state_as_of(timeline, date(2026, 7, 8))

    assert (resolved_first["status"], resolved_first["resolution"]) == ("Done", "Fixed")
    assert resolved_first["resolved_at"] == datetime(2026, 7, 3, 12, tzinfo=UTC)
    assert (reopened["status"], reopened["status_category"]) == ("Reopened", "new")
    assert (reopened["resolution"], reopened["resolved_at"]) == (None, None)
    assert resolved_again["resolved_at"] == datetime(2026, 7, 8, 12, tzinfo=UTC)


SPRINT_OBJECTS = [
    {"id": 1, "name": "PLAT Sprint 1", "state": "closed", "boardId": 3},
    {"id": 2, "name": "PLAT Sprint 2", "state": "active", "boardId": 3},
]
ESTIMATED = make_issue(
    "PLAT-3",
    "2026-07-01T08:00:00.000+0000",
    [
        history(20, "2026-07-02T10:00:00.000+0000", item("Story point estimate", None, "3", fieldId=POINTS)),
        history(21, "2026-07-03T10:00:00.000+0000", item("Story point estimate", "3", "5", fieldId=POINTS)),
        history(
            22,
            "2026-07-05T10:00:00.000+0000",
            item("Sprint", "PLAT Sprint 1", "PLAT Sprint 1, PLAT Sprint 2", fieldId=SPRINT, fieldtype="custom"),
        ),
        history(23, "2026-07-05T11:00:00.000+0000", item("assignee", "Ann Lee", "Bo Chen", fieldId="assignee")),
        history(24, "2026-07-06T11:00:00.000+0000", item("summary", "Cut errors", "Cut API error rate")),
    ],
    **{POINTS: 5.0, SPRINT: SPRINT_OBJECTS, "assignee": {"displayName": "Bo Chen"}},
)


@pytest.mark.parametrize(
    ("day", "points", "sprint", "assignee", "summary"),
    [
        (date(2026, 7, 1), None, "PLAT Sprint 1", "Ann Lee", "Cut errors"),
        (date(2026, 7, 2), 3.0, "PLAT Sprint 1", "Ann Lee", "Cut errors"),
        (date(2026, 7, 4), 5.0, "PLAT Sprint 1", "Ann Lee", "Cut errors"),
        (date(2026, 7, 5), 5.0, "PLAT Sprint 2", "Bo Chen", "Cut errors"),
        (date(2026, 7, 6), 5.0, "PLAT Sprint 2", "Bo Chen", "Cut API error rate"),
    ],
)
def test_story_points_sprint_assignee_and_summary_follow_their_changes(
    day: date, points: float | None, sprint: str, assignee: str, summary: str
) -> None:
    row = state_as_of(timeline_of(ESTIMATED), day)
    assert (row["story_points"], row["sprint"], row["assignee"], row["summary"]) == (points, sprint, assignee, summary)


def test_changelog_items_without_field_ids_are_matched_by_name_as_v2_sends_them() -> None:
    issue = make_issue(
        "PLAT-4",
        "2026-07-01T08:00:00.000+0000",
        [history(30, "2026-07-03T10:00:00.000+0000", item("Story Points", "2.0", "8.0", fieldtype="custom"))],
        customfield_12310293=8.0,
    )
    apache_like = CustomFields.from_names({"customfield_12310293": "Story Points"})
    timeline = build_timelines([issue], apache_like)[0]
    assert state_as_of(timeline, date(2026, 7, 2))["story_points"] == 2.0
    assert state_as_of(timeline, date(2026, 7, 3))["story_points"] == 8.0


def test_the_day_of_a_change_is_its_utc_day_whatever_offset_jira_wrote() -> None:
    late_evening_west = make_issue(
        "PLAT-5",
        "2026-07-01T08:00:00.000+0000",
        [history(40, "2026-07-02T23:30:00.000-0200", moved("To Do", "In Progress"))],
        status=status("In Progress"),
    )
    timeline = timeline_of(late_evening_west)
    assert state_as_of(timeline, date(2026, 7, 2))["status"] == "To Do"
    assert state_as_of(timeline, date(2026, 7, 3))["status"] == "In Progress"
    assert [e["event_id"] for e in events_on(timeline, date(2026, 7, 3))] == ["PLAT-5/history/40/0"]


def test_events_of_a_day_are_creation_changes_and_comments_with_stable_ids() -> None:
    adf = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Error rate is down to 2.1%"}]}],
    }
    issue = make_issue(
        "PLAT-12",
        "2026-07-03T08:00:00.000+0000",
        [
            history(10001, "2026-07-03T09:00:00.000+0000", moved("To Do", "Done"), item("resolution", None, "Done")),
            history(10002, "2026-07-03T09:30:00.000+0000", item("Story point estimate", None, "2", fieldId=POINTS)),
            history(10003, "2026-07-04T09:00:00.000+0000", item("summary", "Error budget", "Cut API error rate")),
        ],
        status=status("Done"),
        resolution={"name": "Done"},
        resolutiondate="2026-07-03T09:00:00.000+0000",
        comment={
            "total": 1,
            "comments": [
                {
                    "id": "10020",
                    "created": "2026-07-03T10:00:00.000+0000",
                    "author": {"displayName": "Bo Chen"},
                    "body": adf,
                }
            ],
        },
        **{POINTS: 2},
    )
    events = events_on(timeline_of(issue), date(2026, 7, 3))

    assert [(e["event_id"], e["event_type"], e["field"], e["from_value"], e["to_value"]) for e in events] == [
        ("PLAT-12/created", "created", None, None, "To Do"),
        ("PLAT-12/history/10001/0", "status_change", "status", "To Do", "Done"),
        ("PLAT-12/history/10001/1", "resolution", "resolution", None, "Done"),
        ("PLAT-12/history/10002/0", "field_change", "Story Points", None, "2"),
        ("PLAT-12/comment/10020", "comment", None, None, None),
    ]
    created, *_, comment = events
    assert created["body"] == "Error budget"  # the summary it was created with, not today's
    assert created["author"] == "Raj Patel"
    assert comment["body"] == "Error rate is down to 2.1%"
    assert comment["author"] == "Bo Chen"
    assert comment["url"] == f"{SITE}/browse/PLAT-12?focusedCommentId=10020"
    assert {e["day"] for e in events} == {date(2026, 7, 3)}


def test_rows_for_a_day_hold_only_issues_created_by_then_with_the_raw_tables_columns() -> None:
    timelines = build_timelines([TRANSITIONS, ESTIMATED], FIELDS)
    issues, events = rows_for_day(timelines, date(2026, 7, 2))

    assert [c for c in RAW_JIRA_ISSUES.column_names if c != "ingested_at"] == ISSUE_COLUMNS
    assert [c for c in RAW_JIRA_EVENTS.column_names if c != "ingested_at"] == EVENT_COLUMNS
    assert list(issues.columns) == ISSUE_COLUMNS
    assert list(events.columns) == EVENT_COLUMNS
    assert list(issues["issue_key"]) == ["PLAT-1", "PLAT-3"]
    assert list(issues["url"]) == [f"{SITE}/browse/PLAT-1", f"{SITE}/browse/PLAT-3"]
    assert set(issues["day"]) == {date(2026, 7, 2)}
    assert str(issues["created_at"].dtype) == "datetime64[us, UTC]"
    assert list(events["event_id"]) == ["PLAT-1/history/10001/0", "PLAT-3/history/20/0"]

    before_any, no_events = rows_for_day(timelines, date(2026, 6, 30))
    assert before_any.empty and no_events.empty
    assert list(before_any.columns) == ISSUE_COLUMNS


def test_an_unknown_status_category_is_learnt_from_other_issues_or_guessed_from_the_name() -> None:
    blocked = make_issue(
        "PLAT-6",
        "2026-07-01T08:00:00.000+0000",
        [
            history(
                50, "2026-07-02T08:00:00.000+0000", item("status", "Triage", "Blocked", **{"from": "77", "to": "78"})
            ),
            history(
                51, "2026-07-03T08:00:00.000+0000", item("status", "Blocked", "Closed", **{"from": "78", "to": "6"})
            ),
        ],
        status={"id": "6", "name": "Closed"},
    )
    elsewhere_blocked = make_issue("PLAT-7", "2026-07-01T08:00:00.000+0000", [], status=_blocked())
    timeline = timeline_of(blocked, elsewhere_blocked)
    assert state_as_of(timeline, date(2026, 7, 1))["status_category"] == "indeterminate"  # "Triage": a guess
    assert state_as_of(timeline, date(2026, 7, 2))["status_category"] == "new"  # learnt from PLAT-7
    assert state_as_of(timeline, date(2026, 7, 3))["status_category"] == "done"  # "Closed": Jira's default


def _blocked() -> dict[str, Any]:
    return {"id": "78", "name": "Blocked", "statusCategory": {"key": "new"}}


def test_without_a_changelog_an_issue_is_unresolved_before_its_resolution_date(realdata: Path) -> None:
    export = read_export_folder(realdata / "jira" / "apache_jira_real")
    timelines = {t.key: t for t in build_timelines(export.issues, export.custom_fields)}
    lucene1 = timelines["LUCENE-1"]

    before = state_as_of(lucene1, date(2003, 1, 1))
    after = state_as_of(lucene1, date(2006, 6, 6))
    assert (before["resolution"], before["resolved_at"], before["status"]) == (None, None, None)
    assert (after["status"], after["status_category"], after["resolution"]) == ("Closed", "done", "Fixed")
    assert after["resolved_at"] == datetime(2006, 6, 6, 6, 24, 38, tzinfo=UTC)
    assert after["url"] == "https://issues.apache.org/jira/browse/LUCENE-1"
    created, comment = events_on(timelines["LUCENE-3"], date(2001, 10, 11))
    assert (created["event_type"], created["body"]) == ("created", "Prefix Queries cannot be case insensitive")
    assert (comment["event_id"], comment["author"]) == ("LUCENE-3/comment/12320965", "cutting@apache.org")
    assert comment["body"].startswith("A simple way to fix this")


def test_a_bad_timestamp_names_the_issue() -> None:
    broken = json.loads(json.dumps(TRANSITIONS))
    broken["changelog"]["histories"][0]["created"] = "yesterday"
    with pytest.raises(SourceError, match=r"PLAT-1.*yesterday"):
        build_timelines([broken], FIELDS)


@pytest.mark.parametrize(
    "self_link",
    ["javascript:alert(1)//rest/api/3/issue/1", "data:text/html,x/rest/api/3/issue/1", "ftp://x/rest/api/3/i"],
)
def test_an_issue_self_link_that_is_not_http_gives_no_url(self_link: str) -> None:
    issue = make_issue("PLAT-1", "2026-07-01T09:00:00.000+0000", []) | {"self": self_link}
    timeline = build_timelines([issue], FIELDS)[0]
    assert timeline.url is None
    # the configured site, when there is one, stands in
    assert build_timelines([issue], FIELDS, SITE)[0].url == f"{SITE}/browse/PLAT-1"


def test_an_http_self_link_gives_the_browse_url() -> None:
    issue = make_issue("PLAT-1", "2026-07-01T09:00:00.000+0000", [])
    assert timeline_of(issue).url == f"{SITE}/browse/PLAT-1"


def test_repeated_histories_and_comments_are_dropped_by_id_keeping_the_first() -> None:
    first = history(7, "2026-07-02T10:00:00.000+0000", moved("To Do", "In Progress"))
    again = history(7, "2026-07-02T10:00:00.000+0000", moved("To Do", "Done"))
    note = {"id": "3", "created": "2026-07-02T11:00:00.000+0000", "author": None, "body": "first"}
    issue = make_issue(
        "PLAT-1", "2026-07-01T09:00:00.000+0000", [first, again], comment={"comments": [note, note | {"body": "b"}]}
    )
    timeline = timeline_of(issue)
    assert (timeline.duplicate_histories, timeline.duplicate_comments) == (1, 1)
    assert [c.to_text for c in timeline.changes] == ["In Progress"]
    assert [c.body for c in timeline.comments] == ["first"]
    _, events = rows_for_day([timeline], date(2026, 7, 2))
    assert events["event_id"].is_unique


def test_histories_without_ids_are_all_kept() -> None:
    one = {"created": "2026-07-02T10:00:00.000+0000", "items": [moved("To Do", "In Progress")]}
    two = {"created": "2026-07-02T12:00:00.000+0000", "items": [moved("In Progress", "Done")]}
    timeline = timeline_of(make_issue("PLAT-1", "2026-07-01T09:00:00.000+0000", [one, two]))
    assert [c.to_text for c in timeline.changes] == ["In Progress", "Done"]
    assert timeline.duplicate_histories == 0


def test_entries_without_ids_get_distinct_event_ids() -> None:
    one = {"created": "2026-07-02T10:00:00.000+0000", "items": [moved("To Do", "In Progress")]}
    two = {"created": "2026-07-02T12:00:00.000+0000", "items": [moved("In Progress", "Done")]}
    notes = [{"created": "2026-07-02T11:00:00.000+0000", "body": text} for text in ("a", "b")]
    issue = make_issue("PLAT-1", "2026-07-01T09:00:00.000+0000", [one, two], comment={"comments": notes})
    _, events = rows_for_day([timeline_of(issue)], date(2026, 7, 2))
    assert sorted(events["event_id"]) == [
        "PLAT-1/comment/p0",
        "PLAT-1/comment/p1",
        "PLAT-1/history/p0/0",
        "PLAT-1/history/p1/0",
    ]


def test_a_history_that_is_not_an_object_names_the_issue() -> None:
    issue = make_issue("PLAT-1", "2026-07-01T09:00:00.000+0000", [None])  # type: ignore[list-item]
    with pytest.raises(SourceError, match=r"^issue PLAT-1: changelog history #0 is not a JSON object"):
        timeline_of(issue)
