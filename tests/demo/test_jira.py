"""The demo Jira files are /rest/api/3/search/jql pages whose changelogs agree with the issues' fields."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.demo import DatasetSummary, generate_dataset
from kpi_pipeline.demo.jira import adf

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetSummary:
    return generate_dataset(tmp_path_factory.mktemp("jira"), seed=7)


@pytest.fixture(scope="module")
def pages(dataset: DatasetSummary) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((dataset.out_dir / "jira").glob("*.json"))]


@pytest.fixture(scope="module")
def issues(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [issue for page in pages for issue in page["issues"]]


def test_pages_chain_by_token_and_the_last_page_has_none(pages: list[dict[str, Any]]) -> None:
    assert len(pages) > 1
    for page in pages[:-1]:
        assert page["isLast"] is False and page["nextPageToken"]
    assert pages[-1]["isLast"] is True and "nextPageToken" not in pages[-1]
    assert len({p.get("nextPageToken") for p in pages[:-1]}) == len(pages) - 1
    assert pages[0]["names"]["customfield_10016"] == "Story Points"
    assert pages[0]["names"]["customfield_10020"] == "Sprint"


def test_at_least_600_issues_with_unique_keys(issues: list[dict[str, Any]]) -> None:
    assert len(issues) >= 600
    assert len({i["key"] for i in issues}) == len(issues)


def test_timestamps_use_jiras_format(issues: list[dict[str, Any]]) -> None:
    for issue in issues:
        f = issue["fields"]
        assert STAMP.fullmatch(f["created"]) and STAMP.fullmatch(f["updated"])
        assert f["resolutiondate"] is None or STAMP.fullmatch(f["resolutiondate"])
        assert all(STAMP.fullmatch(h["created"]) for h in issue["changelog"]["histories"])


def test_replaying_the_changelog_gives_the_final_fields(issues: list[dict[str, Any]]) -> None:
    for issue in issues:
        f = issue["fields"]
        status, resolution, resolved_at, points = "To Do", None, None, None
        for history in issue["changelog"]["histories"]:
            for item in history["items"]:
                if item["field"] == "status":
                    assert item["fromString"] == status
                    status = item["toString"]
                elif item["field"] == "resolution":
                    resolution, resolved_at = item["toString"], history["created"]
                elif item["field"] == "Story Points":
                    points = float(item["toString"])
        assert f["status"]["name"] == status, issue["key"]
        assert (f["resolution"] or {}).get("name") == resolution
        assert f["resolutiondate"] == resolved_at
        assert f["customfield_10016"] == points
        assert (f["status"]["statusCategory"]["key"] == "done") == (resolution is not None)


def test_issues_have_comments_sprints_and_story_points(issues: list[dict[str, Any]]) -> None:
    assert sum(i["fields"]["comment"]["total"] for i in issues) > 600
    assert sum(bool(i["fields"]["customfield_10020"]) for i in issues) > 200
    assert sum(i["fields"]["customfield_10016"] is not None for i in issues) > 300
    assert {i["fields"]["status"]["statusCategory"]["key"] for i in issues} == {"new", "indeterminate", "done"}
    sprint = next(i["fields"]["customfield_10020"][0] for i in issues if i["fields"]["customfield_10020"])
    assert {"id", "name", "state", "boardId", "startDate", "endDate"} <= set(sprint)


def test_planted_jira_readings_are_comments_on_their_day(dataset: DatasetSummary, issues: list[dict[str, Any]]) -> None:
    comments = {
        (i["key"], c["created"][:10], c["body"]["content"][0]["content"][0]["text"])
        for i in issues
        for c in i["fields"]["comment"]["comments"]
    }
    planted = [s for p in dataset.plants for s in p.statements if s.source_type == "jira"]
    assert planted
    for s in planted:
        assert (s.place, s.day.isoformat(), s.text) in comments


def test_bodies_are_atlassian_document_format(issues: list[dict[str, Any]]) -> None:
    assert adf("one\ntwo") == {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]} for t in ("one", "two")],
    }
    assert all(i["fields"]["description"]["type"] == "doc" for i in issues)


def test_the_last_page_is_short(dataset: DatasetSummary, pages: list[dict[str, Any]]) -> None:
    assert len(pages[-1]["issues"]) == dataset.issues - 100 * (len(pages) - 1)
    assert Path(dataset.out_dir / "jira" / "search-00001.json").is_file()
