"""JiraSource gives a day's issues and events from an export folder or the API, ready for the raw tables."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.testing.jira_server import JiraSite, serve_jira
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.tables import RAW_JIRA_EVENTS, RAW_JIRA_ISSUES

SITE = "https://acme.atlassian.net"
DONE = {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}}
TODO = {"id": "10000", "name": "To Do", "statusCategory": {"key": "new"}}


def _issue(n: int, created: str, histories: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "id": str(n),
        "key": f"PLAT-{n}",
        "self": f"{SITE}/rest/api/3/issue/{n}",
        "fields": {
            "summary": f"Issue {n}",
            "created": created,
            "updated": created,
            "status": TODO,
            "project": {"key": "PLAT"},
            "customfield_10016": None,
            "comment": {"total": 1, "comments": [{"id": f"{n}0", "created": created, "body": f"opened {n}"}]},
            **fields,
        },
        "changelog": {"total": len(histories), "histories": histories},
    }


def _write_export(folder: Path) -> Path:
    resolved = [
        {
            "id": "501",
            "created": "2026-07-02T15:00:00.000+0000",
            "items": [
                {
                    "field": "status",
                    "fieldId": "status",
                    "from": "10000",
                    "fromString": "To Do",
                    "to": "10001",
                    "toString": "Done",
                },
                {"field": "resolution", "fieldId": "resolution", "fromString": None, "toString": "Done"},
                {"field": "Story Points", "fieldId": "customfield_10016", "fromString": None, "toString": "3"},
            ],
        }
    ]
    issues = [
        _issue(
            1,
            "2026-07-01T09:00:00.000+0000",
            resolved,
            status=DONE,
            resolution={"name": "Done"},
            resolutiondate="2026-07-02T15:00:00.000+0000",
            customfield_10016=3.0,
        ),
        _issue(2, "2026-07-02T09:00:00.000+0000", []),
        _issue(3, "2026-07-03T09:00:00.000+0000", []),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    page = {"issues": issues, "names": {"customfield_10016": "Story Points"}, "isLast": True}
    (folder / "page-1.json").write_text(json.dumps(page))
    return folder


def test_export_mode_gives_the_days_state_and_events(tmp_path: Path) -> None:
    source = JiraSource(source=str(_write_export(tmp_path / "jira")))
    issues, events = source.issues_and_events_for_day(date(2026, 7, 1))
    later_issues, later_events = source.issues_and_events_for_day(date(2026, 7, 2))

    assert list(issues.columns) == [c for c in RAW_JIRA_ISSUES.column_names if c != "ingested_at"]
    assert list(events.columns) == [c for c in RAW_JIRA_EVENTS.column_names if c != "ingested_at"]
    assert issues[["issue_key", "status", "story_points"]].to_dict("records") == [
        {"issue_key": "PLAT-1", "status": "To Do", "story_points": None}
    ]
    assert list(events["event_id"]) == ["PLAT-1/created", "PLAT-1/comment/10"]
    assert list(later_issues["status"]) == ["Done", "To Do"]
    assert later_issues["story_points"].iloc[0] == 3.0
    assert list(later_events["event_type"]) == ["created", "comment", "status_change", "resolution", "field_change"]


def test_the_frames_replace_a_day_in_the_warehouse(tmp_path: Path, warehouse: Warehouse) -> None:
    day = date(2026, 7, 2)
    issues, events = JiraSource(source=str(_write_export(tmp_path / "jira"))).issues_and_events_for_day(day)
    now = pd.Timestamp.now(tz="UTC")
    warehouse.replace_days(RAW_JIRA_ISSUES, [day], issues.assign(ingested_at=now))
    warehouse.replace_days(RAW_JIRA_EVENTS, [day], events.assign(ingested_at=now))

    stored = warehouse.query_df("SELECT issue_key, story_points, resolved_at FROM raw.jira_issues ORDER BY issue_key")
    assert list(stored["issue_key"]) == ["PLAT-1", "PLAT-2"]
    assert stored["story_points"].iloc[0] == 3.0 and pd.isna(stored["story_points"].iloc[1])
    assert pd.Timestamp(stored["resolved_at"].iloc[0]) == pd.Timestamp("2026-07-02T15:00:00Z")
    assert warehouse.scalar("SELECT count(*) FROM raw.jira_events WHERE day = ?", [day]) == len(events)


def _rename_issue_3_unseen(page: Path) -> None:
    """Rename "Issue 3" to "Issue X" keeping the file's size and modification time: no fingerprint change."""
    stat = page.stat()
    page.write_text(page.read_text().replace('"Issue 3"', '"Issue X"'))
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_an_export_folder_is_parsed_once_until_a_file_changes(tmp_path: Path) -> None:
    folder = _write_export(tmp_path / "jira")
    page = folder / "page-1.json"
    source = JiraSource(source=str(folder))
    first, _ = source.issues_and_events_for_day(date(2026, 7, 3))

    _rename_issue_3_unseen(page)
    cached, _ = source.issues_and_events_for_day(date(2026, 7, 3))
    page.touch()
    reread, _ = source.issues_and_events_for_day(date(2026, 7, 3))

    assert list(first["summary"]) == list(cached["summary"]) == ["Issue 1", "Issue 2", "Issue 3"]
    assert list(reread["summary"]) == ["Issue 1", "Issue 2", "Issue X"]


def test_a_released_export_is_read_again_by_the_next_call(tmp_path: Path) -> None:
    folder = _write_export(tmp_path / "jira")
    page = folder / "page-1.json"
    source = JiraSource(source=str(folder))
    first, _ = source.issues_and_events_for_day(date(2026, 7, 3))

    _rename_issue_3_unseen(page)
    source.release()
    reread, _ = source.issues_and_events_for_day(date(2026, 7, 3))

    assert list(first["summary"]) == ["Issue 1", "Issue 2", "Issue 3"]
    assert list(reread["summary"]) == ["Issue 1", "Issue 2", "Issue X"]


def test_api_mode_matches_export_mode_and_reuses_its_search_for_earlier_days(tmp_path: Path) -> None:
    folder = _write_export(tmp_path / "jira")
    site = JiraSite.from_folder(folder, max_page_size=1, rate_limit_on=frozenset({4}), retry_after="0")
    exported = JiraSource(source=str(folder))
    with serve_jira(site) as url:
        api = JiraSource(source="api", url=url, email=site.email, api_token=site.api_token, jql="project = PLAT")
        for day in (date(2026, 7, 3), date(2026, 7, 2), date(2026, 7, 1)):
            api_frames = api.issues_and_events_for_day(day)
            export_frames = exported.issues_and_events_for_day(day)
            pd.testing.assert_frame_equal(api_frames[0], export_frames[0])
            pd.testing.assert_frame_equal(api_frames[1], export_frames[1])
    assert sum(r.endswith("/serverInfo") for r in site.requests) == 1  # one search served all three days


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"source": " "}, "KPI_JIRA_SOURCE is empty"),
        ({"source": "api", "email": "me@example.com", "api_token": "t"}, "needs JIRA_URL"),
        ({"source": "/no/such/folder"}, "is not a folder"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        JiraSource(**settings).issues_and_events_for_day(date(2026, 7, 1))


def test_a_wrong_token_names_the_settings_to_check(tmp_path: Path) -> None:
    site = JiraSite.from_folder(_write_export(tmp_path / "jira"))
    with serve_jira(site) as url:
        source = JiraSource(source="api", url=url, email=site.email, api_token="wrong", jql="project = PLAT")
        with pytest.raises(SourceError, match=r"rejected the credentials.*JIRA_API_TOKEN"):
            source.issues_and_events_for_day(date(2026, 7, 1))
