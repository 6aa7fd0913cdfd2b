"""Search-response pages of both styles become issue dicts; bad files fail with a message naming them."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_export import (
    CustomFields,
    adf_to_text,
    current_sprint_name,
    parse_search_page,
    parse_sprints,
    parse_timestamp,
    read_export_folder,
)

CLI_PAGES = ("search_page1.json", "search_page2.json", "search_page2_mid.json", "search_page3.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-03T10:15:00.000+0000", datetime(2026, 7, 3, 10, 15, tzinfo=UTC)),
        ("2020-12-03T14:05:20.974+0100", datetime(2020, 12, 3, 13, 5, 20, 974000, tzinfo=UTC)),
        ("2026-07-03T10:15:00+02:00", datetime(2026, 7, 3, 8, 15, tzinfo=UTC)),
        ("2026-07-03T10:15:00Z", datetime(2026, 7, 3, 10, 15, tzinfo=UTC)),
    ],
)
def test_jira_timestamps_parse_to_utc_with_or_without_a_colon_in_the_offset(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_a_timestamp_without_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_timestamp("2026-07-03T10:15:00")


def test_adf_bodies_flatten_to_text_and_v2_strings_pass_through(realdata: Path) -> None:
    issue = json.loads((realdata / "jira/jira_cli_handwritten_fixtures/issue.json").read_text())
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "p95 latency "},
                    {"type": "text", "text": "180 ms", "marks": [{"type": "strong"}]},
                    {"type": "hardBreak"},
                    {"type": "mention", "attrs": {"id": "abc", "text": "@Ann Lee"}},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a"}]}],
                    },
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "b"}]}],
                    },
                ],
            },
        ],
    }
    assert adf_to_text(issue["fields"]["description"]) == "Test description"
    assert adf_to_text(doc) == "p95 latency 180 ms\n@Ann Lee\n- a\n- b"
    assert adf_to_text("I fixed this by disabling lock files in JDK 1.1.\n") == (
        "I fixed this by disabling lock files in JDK 1.1.\n"
    )
    assert adf_to_text(None) is None


def test_a_classic_v2_page_knows_more_pages_follow_from_start_at_and_total(realdata: Path) -> None:
    data = json.loads((realdata / "jira/apache_jira_real/lucene_rest_api_2_search_page.json").read_text())
    page = parse_search_page(data, "lucene.json")
    assert [i["key"] for i in page.issues][:3] == ["LUCENE-1", "LUCENE-2", "LUCENE-3"]
    assert len(page.issues) == 10
    assert page.is_last is False  # startAt 0 + 10 issues of total 4918


def test_enhanced_pages_follow_next_page_token_and_is_last(realdata: Path) -> None:
    folder = realdata / "jira/jira_cli_handwritten_fixtures"
    first = parse_search_page(json.loads((folder / "search_page1.json").read_text()), "p1")
    last = parse_search_page(json.loads((folder / "search_page2.json").read_text()), "p2")
    empty = parse_search_page(json.loads((folder / "search_empty.json").read_text()), "empty")
    assert (first.next_page_token, first.is_last) == ("token-page-2", False)
    assert (last.next_page_token, last.is_last) == (None, True)  # an empty-string token means no more pages
    assert (empty.issues, empty.is_last) == ([], True)
    assert parse_search_page({"issues": []}, "bare").is_last is True


def test_an_export_folder_keeps_each_issue_once_latest_updated_winning(realdata: Path, tmp_path: Path) -> None:
    for name in CLI_PAGES:
        shutil.copy(realdata / "jira/jira_cli_handwritten_fixtures" / name, tmp_path / name)
    newer = json.loads((tmp_path / "search_page1.json").read_text())
    newer["issues"] = [newer["issues"][0]]
    newer["issues"][0]["fields"] |= {"updated": "2021-01-05T09:00:00.000+0000", "summary": "Bug summary, edited"}
    (tmp_path / "a_first_by_name_but_newer.json").write_text(json.dumps(newer))

    export = read_export_folder(tmp_path)

    by_key = {i["key"]: i for i in export.issues}
    assert sorted(by_key) == ["TEST-1", "TEST-2", "TEST-3", "TEST-4"]
    assert by_key["TEST-1"]["fields"]["summary"] == "Bug summary, edited"


def test_custom_fields_resolve_by_name_from_a_names_map() -> None:
    fields = CustomFields.from_names(
        {"customfield_10016": "Story point estimate", "customfield_10020": "Sprint", "customfield_10018": "Rank"}
    )
    assert fields.story_point_ids == ("customfield_10016",)
    assert fields.sprint_ids == ("customfield_10020",)


def test_custom_fields_resolve_from_real_field_lists(realdata: Path) -> None:
    sites = json.loads(
        (realdata / "jira/public_jira_dataset_field_info/agile_custom_fields_by_instance.json").read_text()
    )
    apache = CustomFields.from_field_list(sites["Apache"])
    intel = CustomFields.from_field_list(sites["IntelDAOS"])
    assert apache.story_point_ids == ("customfield_12310293",)  # not "Original story points"
    assert apache.sprint_ids == ("customfield_12310921",)
    assert intel.story_point_ids == ("customfield_10026", "customfield_10016")  # "Story Points" preferred
    assert all(len(CustomFields.from_field_list(fields).sprint_ids) == 1 for fields in sites.values())


def test_without_a_names_map_the_sprint_field_is_recognised_by_its_values() -> None:
    issues = [{"key": "X-1", "fields": {"customfield_10019": [{"id": 1, "name": "S1", "state": "active"}]}}]
    assert CustomFields().with_sprint_fields_found_in(issues).sprint_ids == ("customfield_10019",)


def test_sprints_parse_from_legacy_strings_and_objects() -> None:
    legacy = [
        "com.atlassian.greenhopper.service.sprint.Sprint@7eede03a[id=1,rapidViewId=2,state=CLOSED,"
        "name=SP Sprint 1,goal=<null>,startDate=<null>,endDate=<null>,completeDate=<null>,sequence=1]",
        "com.atlassian.greenhopper.service.sprint.Sprint@7eede03b[id=2,rapidViewId=2,state=FUTURE,"
        "name=SP Sprint 2, hardening,goal=<null>,startDate=<null>,endDate=<null>,completeDate=<null>,sequence=2]",
    ]
    objects = [
        {"id": 5, "name": "PLAT 5", "state": "active", "boardId": 1},
        {"id": 4, "name": "PLAT 4", "state": "closed", "boardId": 1},
    ]
    assert [s.name for s in parse_sprints(legacy)] == ["SP Sprint 1", "SP Sprint 2, hardening"]
    assert current_sprint_name(legacy) == "SP Sprint 2, hardening"
    assert current_sprint_name(objects) == "PLAT 5"  # the open sprint, not the last listed
    assert current_sprint_name([objects[1]]) == "PLAT 4"
    assert current_sprint_name(None) is None


def _write(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"issues": [', r"bad\.json is not valid JSON \(line 1"),
        (b'{"issues": []}'.replace(b"[]", b'["caf\xe9"]'), r"bad\.json is not UTF-8"),
        (b'[{"key": "X-1"}]', r"bad\.json is not a Jira search response"),
        (b'{"values": []}', r"bad\.json is not a Jira search response"),
        (b'{"issues": [{"id": "1"}]}', r"bad\.json: issue #0 has no 'key'"),
    ],
)
def test_bad_files_fail_naming_the_file_and_what_to_do(tmp_path: Path, content: bytes, message: str) -> None:
    _write(tmp_path / "export", "bad.json", content)
    with pytest.raises(SourceError, match=message):
        read_export_folder(tmp_path / "export")


def test_a_missing_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"KPI_JIRA_SOURCE=.*is not a folder"):
        read_export_folder(tmp_path / "nowhere")


def test_an_empty_folder_is_an_export_without_issues(tmp_path: Path) -> None:
    assert read_export_folder(tmp_path).issues == []


def test_a_single_issue_file_is_not_mistaken_for_a_search_page(realdata: Path) -> None:
    with pytest.raises(SourceError, match=r"issue\.json is not a Jira search response"):
        read_export_folder(realdata / "jira/jira_cli_handwritten_fixtures")


def _page(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"issues": issues, "isLast": True}


def test_pages_in_subfolders_are_read_too(tmp_path: Path) -> None:
    issue = {"key": "PLAT-1", "fields": {"created": "2026-07-01T00:00:00.000+0000"}}
    nested = tmp_path / "jira" / "2026-07"
    nested.mkdir(parents=True)
    (nested / "page-001.json").write_text(json.dumps(_page([issue])))
    assert [i["key"] for i in read_export_folder(tmp_path / "jira").issues] == ["PLAT-1"]
