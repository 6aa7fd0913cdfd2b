"""Jira Cloud through the real `jira` client against the local site: same rows as the export, faults survived."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_api import JiraCloud, RetryPolicy, day_bounded_jql
from kpi_pipeline.sources.jira_export import read_export_folder
from kpi_pipeline.testing.jira_server import JiraSite, serve_jira
from tests.sources.jira_oracle import build_timelines, rows_for_day

SITE = "https://acme.atlassian.net"
NAMES = {"customfield_10016": "Story point estimate", "customfield_10020": "Sprint", "summary": "Summary"}
STATUS = {
    "To Do": {"id": "10000", "name": "To Do", "statusCategory": {"key": "new"}},
    "In Progress": {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    "Done": {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}},
}
DAYS = [date(2026, 7, 1) + timedelta(days=n) for n in range(8)]


def _ts(day_offset: int, hour: int) -> str:
    return f"{(date(2026, 7, 1) + timedelta(days=day_offset)).isoformat()}T{hour:02d}:00:00.000+0000"


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def _issue(n: int) -> dict[str, Any]:
    """PLAT-n: created day n%3, started, estimated, re-sprinted, done (every other one), with three comments."""
    start = n % 3
    histories = [
        {
            "id": f"{n}01",
            "created": _ts(start + 1, 9),
            "author": {"displayName": "Ann Lee"},
            "items": [
                {
                    "field": "status",
                    "fieldId": "status",
                    "from": "10000",
                    "fromString": "To Do",
                    "to": "3",
                    "toString": "In Progress",
                },
            ],
        },
        {
            "id": f"{n}02",
            "created": _ts(start + 2, 10),
            "author": {"displayName": "Ann Lee"},
            "items": [
                {
                    "field": "Story point estimate",
                    "fieldId": "customfield_10016",
                    "fromString": None,
                    "toString": str(n),
                },
                {
                    "field": "Sprint",
                    "fieldId": "customfield_10020",
                    "fieldtype": "custom",
                    "fromString": "PLAT Sprint 1",
                    "toString": "PLAT Sprint 1, PLAT Sprint 2",
                },
            ],
        },
    ]
    done = n % 2 == 0
    if done:
        histories.append(
            {
                "id": f"{n}03",
                "created": _ts(start + 3, 16),
                "author": {"displayName": "Bo Chen"},
                "items": [
                    {
                        "field": "status",
                        "fieldId": "status",
                        "from": "3",
                        "fromString": "In Progress",
                        "to": "10001",
                        "toString": "Done",
                    },
                    {"field": "resolution", "fieldId": "resolution", "fromString": None, "toString": "Done"},
                ],
            }
        )
    comments = [
        {
            "id": f"{n}9{c}",
            "created": _ts(start + c, 11),
            "author": {"displayName": "Raj Patel"},
            "body": _adf(f"PLAT-{n} note {c}: error rate {n}.{c}%"),
        }
        for c in range(3)
    ]
    return {
        "id": str(10000 + n),
        "key": f"PLAT-{n}",
        "self": f"{SITE}/rest/api/3/issue/{10000 + n}",
        "fields": {
            "summary": f"Issue {n}",
            "created": _ts(start, 8),
            "updated": _ts(start + 3, 17),
            "status": STATUS["Done" if done else "In Progress"],
            "resolution": {"name": "Done"} if done else None,
            "resolutiondate": _ts(start + 3, 16) if done else None,
            "issuetype": {"name": "Story"},
            "project": {"key": "PLAT"},
            "priority": {"name": "Medium"},
            "reporter": {"displayName": "Raj Patel"},
            "assignee": {"displayName": "Ann Lee"},
            "labels": ["api"],
            "customfield_10016": float(n),
            "customfield_10020": [
                {"id": 1, "name": "PLAT Sprint 1", "state": "closed"},
                {"id": 2, "name": "PLAT Sprint 2", "state": "active"},
            ],
            "comment": {"startAt": 0, "maxResults": 3, "total": 3, "comments": comments},
        },
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories},
    }


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """Seven issues in two enhanced search pages, PLAT-3 in both (the second copy is newer)."""
    issues = [_issue(n) for n in range(1, 8)]
    stale = json.loads(json.dumps(issues[2]))
    stale["fields"] |= {"updated": _ts(0, 8), "summary": "stale copy"}
    pages = [
        {"issues": [*issues[:2], stale], "names": NAMES, "nextPageToken": "p2", "isLast": False},
        {"issues": issues[2:], "names": NAMES, "isLast": True},
    ]
    folder = tmp_path / "jira"
    folder.mkdir()
    for number, page in enumerate(pages, 1):
        (folder / f"page-{number}.json").write_text(json.dumps(page))
    return folder


def _frames_from_export(folder: Path, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    export = read_export_folder(folder)
    return rows_for_day(build_timelines(export.issues, export.custom_fields), day)


def test_api_mode_through_429_5xx_and_small_pages_gives_exactly_the_export_rows(export_dir: Path) -> None:
    site = JiraSite.from_folder(
        export_dir,
        max_page_size=2,
        embedded_changelog_limit=1,
        embedded_comment_limit=1,
        rate_limit_on=frozenset({3}),
        retry_after="7",
        fail_on=frozenset({5, 9}),
        failure_status=502,
    )
    waits: list[float] = []
    with serve_jira(site) as url:
        cloud = JiraCloud(url, site.email, site.api_token, page_size=2, sleep=waits.append)
        fetched = cloud.issues_created_by("project = PLAT ORDER BY created DESC", DAYS[-1])

    timelines = build_timelines(fetched.issues, fetched.custom_fields, cloud.url)
    for day in DAYS:
        api_issues, api_events = rows_for_day(timelines, day)
        export_issues, export_events = _frames_from_export(export_dir, day)
        pd.testing.assert_frame_equal(api_issues, export_issues)
        pd.testing.assert_frame_equal(api_events, export_events)
    assert sorted(i["key"] for i in fetched.issues) == sorted(f"PLAT-{n}" for n in range(1, 8))
    assert waits == [7.0, 1.0, 1.0]  # Retry-After honoured, then backoff for each 502
    assert sum(r.endswith("/changelog") for r in site.requests) >= 7  # capped changelogs were completed
    assert sum(r.endswith("/comment") for r in site.requests) >= 7
    assert sum(r.endswith("/search/jql") for r in site.requests) >= 4  # 7 issues, 2 a page


def test_the_search_restricts_jql_to_issues_created_by_the_day(export_dir: Path) -> None:
    site = JiraSite.from_folder(export_dir)
    with serve_jira(site) as url:
        fetched = JiraCloud(url, site.email, site.api_token).issues_created_by("project = PLAT", date(2026, 6, 30))
    # issues are created on 2026-07-01 + n % 3 days; the bound 2026-07-02 (day + 2 for time zones) lets in day 0
    assert sorted(i["key"] for i in fetched.issues) == ["PLAT-3", "PLAT-6"]


def test_day_bounded_jql_keeps_the_condition_and_replaces_the_order() -> None:
    assert day_bounded_jql("project = PLAT order by created DESC", date(2026, 7, 3)) == (
        '(project = PLAT) AND created < "2026-07-05" ORDER BY key ASC'
    )


def test_a_wrong_token_is_a_clear_error_that_never_shows_the_token(export_dir: Path) -> None:
    site = JiraSite.from_folder(export_dir)
    with serve_jira(site) as url, pytest.raises(SourceError) as caught:
        JiraCloud(url, site.email, "not-the-token-123")
    message = str(caught.value)
    assert "HTTP 401" in message and "JIRA_API_TOKEN" in message and "JIRA_EMAIL" in message
    assert "not-the-token-123" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_or_malformed_settings_are_named() -> None:
    with pytest.raises(SourceError, match="needs JIRA_URL, JIRA_API_TOKEN"):
        JiraCloud(None, "me@example.com", "")
    with pytest.raises(SourceError, match=r"JIRA_URL='acme\.atlassian\.net' is not a URL"):
        JiraCloud("acme.atlassian.net", "me@example.com", "token")


def test_jira_data_center_is_refused_with_what_to_do_instead(export_dir: Path) -> None:
    site = JiraSite.from_folder(export_dir, deployment_type="Server")
    with serve_jira(site) as url, pytest.raises(SourceError, match="is Jira Server, not Jira Cloud: export"):
        JiraCloud(url, site.email, site.api_token)


def test_a_missing_jql_is_named(export_dir: Path) -> None:
    site = JiraSite.from_folder(export_dir)
    with serve_jira(site) as url, pytest.raises(SourceError, match="needs JIRA_JQL"):
        JiraCloud(url, site.email, site.api_token).issues_created_by(" ", DAYS[0])


def test_a_server_that_keeps_failing_is_given_up_on_after_the_policy_attempts(export_dir: Path) -> None:
    site = JiraSite.from_folder(export_dir, fail_on=frozenset(range(3, 100)))
    waits: list[float] = []
    with serve_jira(site) as url:
        cloud = JiraCloud(url, site.email, site.api_token, retry=RetryPolicy(attempts=3), sleep=waits.append)
        with pytest.raises(SourceError, match=r"HTTP 500 while searching .* after 3 attempts"):
            cloud.issues_created_by("project = PLAT", DAYS[0])
    assert waits == [1.0, 2.0]


def test_retry_waits_follow_retry_after_within_the_cap() -> None:
    policy = RetryPolicy(max_wait_seconds=30.0, backoff_seconds=0.5)
    assert policy.wait(1, "12") == 12.0
    assert policy.wait(1, "3600") == 30.0
    assert policy.wait(3, None) == 2.0
    assert policy.wait(1, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
