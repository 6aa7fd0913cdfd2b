"""API mode with KPI_JIRA_STATE_DIR reads incrementally (dlt-style cursor on `updated`, two days of overlap)
through the real `jira` client, and every day it serves, today's or a backfilled one, equals a full read."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.testing.jira_server import JiraSite, serve_jira

TODO = {"id": "10000", "name": "To Do", "statusCategory": {"key": "new"}}
DONE = {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}}
DAYS = [date(2026, 7, 1) + timedelta(days=i) for i in range(8)]


def issue(n: int, created: str, updated: str | None = None) -> dict[str, Any]:
    return {
        "id": str(n),
        "key": f"PLAT-{n}",
        "fields": {
            "summary": f"Issue {n}",
            "created": created,
            "updated": updated or created,
            "status": TODO,
            "project": {"key": "PLAT"},
            "comment": {"total": 0, "comments": []},
        },
        "changelog": {"total": 0, "histories": []},
    }


def resolve(found: dict[str, Any], at: str) -> None:
    """Move an issue to Done at `at`, as Jira would: a changelog entry, a comment, a new `updated`."""
    found["fields"].update(status=DONE, updated=at, resolution={"name": "Done"}, resolutiondate=at)
    found["changelog"]["histories"].append(
        {
            "id": f"9{found['id']}",
            "created": at,
            "items": [{"field": "status", "fieldId": "status", "from": "10000", "fromString": "To Do",
                       "to": "10001", "toString": "Done"}],
        }
    )  # fmt: skip
    found["fields"]["comment"]["comments"].append({"id": f"8{found['id']}", "created": at, "body": "fixed, 2% now"})
    found["changelog"]["total"] = len(found["changelog"]["histories"])
    found["fields"]["comment"]["total"] = len(found["fields"]["comment"]["comments"])


def source(url: str, site: JiraSite, state_dir: Path | None) -> JiraSource:
    """A fresh resource, as each run gets one."""
    return JiraSource(
        source="api",
        url=url,
        email=site.email,
        api_token=site.api_token,
        jql="project = PLAT ORDER BY created DESC",
        state_dir=str(state_dir) if state_dir else None,
    )


def frames(jira: JiraSource, days: list[date]) -> list[pd.DataFrame]:
    return [frame for day in days for frame in jira.issues_and_events_for_day(day)]


def test_the_second_run_asks_only_for_recent_updates_and_serves_every_day_like_a_full_read(tmp_path: Path) -> None:
    site = JiraSite(
        issues=[
            issue(1, "2026-07-01T09:00:00.000+0000"),
            issue(2, "2026-07-02T09:00:00.000+0000"),
            issue(3, "2026-07-03T09:00:00.000+0000", updated="2026-07-03T18:30:00.000+0000"),
        ],
        max_page_size=2,
    )
    state = tmp_path / "state"
    with serve_jira(site) as url:
        first = frames(source(url, site, state), DAYS[:3])
        assert site.queries == ["(project = PLAT) ORDER BY key ASC"]  # no state yet: a full read

        # the next day: issue 1 is resolved, issue 4 is created; issue 2 does not change
        resolve(site.issues[0], "2026-07-06T10:00:00.000+0000")
        site.issues.append(issue(4, "2026-07-06T11:00:00.000+0000"))
        site.queries.clear()
        incremental = source(url, site, state)
        served = frames(incremental, DAYS)

        # the cursor was the newest `updated` kept (07-03 18:30); two days of overlap
        assert site.queries == ['(project = PLAT) AND updated >= "2026-07-01 18:30" ORDER BY key ASC']
        full = frames(source(url, site, None), DAYS)
    for got, expected in zip(served, full, strict=True):
        pd.testing.assert_frame_equal(got, expected)
    issues_on_7_6 = served[2 * 5]
    assert list(issues_on_7_6["issue_key"]) == ["PLAT-1", "PLAT-2", "PLAT-3", "PLAT-4"]
    assert list(issues_on_7_6["status"]) == ["Done", "To Do", "To Do", "To Do"]
    # a backfill of an old day still sees that day: issue 1 was open on 07-01, whatever it is now
    assert served[0]["status"].tolist() == ["To Do"] and first[0]["status"].tolist() == ["To Do"]
    state_files = list(state.glob("jira-*.json"))
    assert len(state_files) == 1
    kept = json.loads(state_files[0].read_text())
    assert kept["cursor"] == "2026-07-06T11:00:00+00:00" and len(kept["issues"]) == 4


def test_a_re_run_with_nothing_new_reads_only_the_overlap_and_changes_nothing(tmp_path: Path) -> None:
    site = JiraSite(issues=[issue(1, "2026-07-01T09:00:00.000+0000"), issue(2, "2026-07-05T09:00:00.000+0000")])
    state = tmp_path / "state"
    with serve_jira(site) as url:
        before = frames(source(url, site, state), DAYS)
        again = frames(source(url, site, state), DAYS)
    assert site.queries[-1] == '(project = PLAT) AND updated >= "2026-07-03 09:00" ORDER BY key ASC'
    for got, expected in zip(again, before, strict=True):
        pd.testing.assert_frame_equal(got, expected)


def test_one_run_searches_once_for_all_its_days(tmp_path: Path) -> None:
    site = JiraSite(issues=[issue(1, "2026-07-01T09:00:00.000+0000")])
    with serve_jira(site) as url:
        frames(source(url, site, tmp_path / "state"), DAYS)
    assert len(site.queries) == 1


def test_a_damaged_state_file_names_itself_and_what_to_do(tmp_path: Path) -> None:
    site = JiraSite(issues=[copy.deepcopy(issue(1, "2026-07-01T09:00:00.000+0000"))])
    state = tmp_path / "state"
    with serve_jira(site) as url:
        frames(source(url, site, state), DAYS[:1])
        (path,) = state.glob("jira-*.json")
        path.write_text("{not json")
        with pytest.raises(SourceError, match=r"the Jira incremental state cannot be read .*delete it"):
            frames(source(url, site, state), DAYS[:1])
