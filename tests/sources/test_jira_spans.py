"""A day's rows from the spans are exactly the plain per-day rebuild's (tests/sources/jira_oracle.py): same
rows, same values, same order, on every day of real exports and of a generated tracker."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_export import read_export_folder
from kpi_pipeline.sources.jira_spans import read_export_spans, spans_of
from tests.sources.jira_oracle import build_timelines, rows_for_day


def _every_day_agrees(folder: Path) -> int:
    """Compare every day from the first creation to the day after the last event; the days compared."""
    export = read_export_folder(folder)
    timelines = build_timelines(export.issues, export.custom_fields)
    spans = read_export_spans(folder)
    moments = [t.created_at for t in timelines] + [c.at for t in timelines for c in (*t.changes, *t.comments)]
    moments += [t.resolution_date for t in timelines if t.resolution_date is not None]
    first, last = min(moments).date() - timedelta(days=1), max(moments).date() + timedelta(days=1)
    days = 0
    day = first
    while day <= last:
        issues, events = rows_for_day(timelines, day)
        pd.testing.assert_frame_equal(spans.issues_on(day), issues, obj=f"issues on {day}")
        pd.testing.assert_frame_equal(spans.events_on(day), events, obj=f"events on {day}")
        day += timedelta(days=1)
        days += 1
    return days


@pytest.mark.slow  # five years of days
def test_every_day_of_a_real_apache_export_matches_the_rebuild(realdata: Path) -> None:
    assert _every_day_agrees(realdata / "jira" / "apache_jira_real") > 365


def test_every_day_of_hand_written_search_pages_matches_the_rebuild(realdata: Path, tmp_path: Path) -> None:
    for page in (realdata / "jira" / "jira_cli_handwritten_fixtures").glob("search*.json"):
        shutil.copy(page, tmp_path / page.name)
    assert _every_day_agrees(tmp_path) > 0


@pytest.fixture(scope="module")
def demo_jira(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("demo"), seed=7, days=92).out_dir / "jira"


def test_every_day_of_a_generated_quarter_matches_the_rebuild(demo_jira: Path) -> None:
    assert _every_day_agrees(demo_jira) >= 92


def test_a_key_exported_twice_keeps_the_later_update_and_the_later_page_on_a_tie(
    demo_jira: Path, tmp_path: Path
) -> None:
    pages = sorted(demo_jira.glob("*.json"))
    first = json.loads(pages[0].read_text())
    older, tied, newer = (json.loads(json.dumps(first["issues"][0])) for _ in range(3))
    older["fields"]["updated"] = "2020-01-01T00:00:00.000+0000"
    older["fields"]["summary"] = "older copy"
    tied["fields"]["summary"] = "tied copy"  # same `updated` as the page's copy, a later page
    newer = first["issues"][1] | {"fields": first["issues"][1]["fields"] | {"summary": "newer copy"}}
    newer["fields"]["updated"] = "2030-01-01T00:00:00.000+0000"
    for page in pages:
        shutil.copy(page, tmp_path / page.name)
    (tmp_path / "zz-extra.json").write_text(json.dumps({"issues": [older, tied, newer], "isLast": True}))

    assert _every_day_agrees(tmp_path) >= 92
    last = read_export_spans(tmp_path).issues_on(date(2026, 9, 30)).set_index("issue_key")["summary"]
    assert last[first["issues"][0]["key"]] == "tied copy"
    assert last[first["issues"][1]["key"]] == "newer copy"


def test_statuses_and_sprints_are_learnt_across_pages(tmp_path: Path) -> None:
    """A status's category and the sprint field shown on one page serve the issues of another."""
    sprint = [{"id": 1, "name": "PLAT Sprint 1", "state": "active"}]
    blocked = {"id": "78", "name": "Blocked", "statusCategory": {"key": "new"}}
    triaged = _issue("PLAT-1", {"status": {"id": "78", "name": "Blocked"}})
    seen = _issue("PLAT-2", {"status": blocked, "customfield_10020": sprint})
    (tmp_path / "a.json").write_text(json.dumps({"issues": [triaged]}))
    (tmp_path / "b.json").write_text(json.dumps({"issues": [seen]}))

    issues = read_export_spans(tmp_path).issues_on(date(2026, 7, 1))
    assert list(issues["status_category"]) == ["new", "new"]
    assert list(issues["sprint"].fillna("(none)")) == ["(none)", "PLAT Sprint 1"]


def _issue(key: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "fields": {"created": "2026-07-01T08:00:00.000+0000", "summary": key} | fields}


def test_issues_in_memory_give_the_same_spans_as_their_export(demo_jira: Path) -> None:
    export = read_export_folder(demo_jira)
    in_memory, read = spans_of(export.issues, export.custom_fields), read_export_spans(demo_jira)
    for day in (date(2026, 7, 1), date(2026, 8, 15), date(2026, 9, 30)):
        pd.testing.assert_frame_equal(in_memory.issues_on(day), read.issues_on(day))
        pd.testing.assert_frame_equal(in_memory.events_on(day), read.events_on(day))
    assert in_memory.notes() == read.notes()


def test_a_bad_page_stops_the_read_with_the_files_message(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"issues": [_issue("PLAT-1", {})]}))
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"b\.json is not valid JSON \(line 1, column 2"):
        read_export_spans(tmp_path)
