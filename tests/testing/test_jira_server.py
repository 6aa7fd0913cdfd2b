"""The local Jira site speaks enhanced search, changelog and comment paging, auth and injected faults."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.testing.jira_server import JiraSite, serve_jira

EMAIL, TOKEN = "ingest@example.com", "s3cret"


def _issue(n: int, created: str = "2026-07-01T08:00:00.000+0000", project: str = "PLAT") -> dict[str, Any]:
    histories = [{"id": str(100 * n + h), "created": created, "items": []} for h in range(3)]
    comments = [{"id": str(900 * n + c), "created": created, "body": f"note {c}"} for c in range(2)]
    return {
        "id": str(n),
        "key": f"{project}-{n}",
        "fields": {"created": created, "summary": f"Issue {n}", "comment": {"total": 2, "comments": comments}},
        "changelog": {"total": 3, "histories": histories},
    }


def _site(**knobs: Any) -> JiraSite:
    issues = [_issue(n) for n in range(1, 6)] + [_issue(1, project="OPS")]
    issues.append(_issue(6, created="2026-07-09T08:00:00.000+0000"))
    return JiraSite(issues, names={"customfield_10016": "Story Points"}, email=EMAIL, api_token=TOKEN, **knobs)


def _call(url: str, path: str, body: dict[str, Any] | None = None, token: str = TOKEN) -> tuple[int, Any, Any]:
    auth = base64.b64encode(f"{EMAIL}:{token}".encode()).decode()
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers


def test_search_pages_chain_by_token_and_the_last_page_omits_it() -> None:
    with serve_jira(_site()) as url:
        pages = []
        query = "/rest/api/3/search/jql?jql=project%20%3D%20PLAT&maxResults=2&expand=names"
        while True:
            status, page, _ = _call(url, query)
            assert status == 200
            pages.append(page)
            if "nextPageToken" not in page:
                break
            query = (
                f"/rest/api/3/search/jql?jql=project%20%3D%20PLAT&maxResults=2&nextPageToken={page['nextPageToken']}"
            )
    assert [[i["key"] for i in p["issues"]] for p in pages] == [
        ["PLAT-1", "PLAT-2"],
        ["PLAT-3", "PLAT-4"],
        ["PLAT-5", "PLAT-6"],
    ]
    assert [p["isLast"] for p in pages] == [False, False, True]
    assert pages[0]["names"] == {"customfield_10016": "Story Points"}
    assert "changelog" not in pages[0]["issues"][0]  # only with expand=changelog


def test_post_search_filters_by_creation_day_and_caps_embedded_changelogs() -> None:
    site = _site(embedded_changelog_limit=1, embedded_comment_limit=1)
    with serve_jira(site) as url:
        body = {"jql": '(project = PLAT) AND created < "2026-07-05"', "maxResults": 50, "expand": "changelog"}
        status, page, _ = _call(url, "/rest/api/3/search/jql", body)
    assert status == 200 and page["isLast"] is True and "nextPageToken" not in page
    assert [i["key"] for i in page["issues"]] == ["PLAT-1", "PLAT-2", "PLAT-3", "PLAT-4", "PLAT-5"]
    first = page["issues"][0]
    assert (first["changelog"]["total"], len(first["changelog"]["histories"])) == (3, 1)
    assert (first["fields"]["comment"]["total"], len(first["fields"]["comment"]["comments"])) == (2, 1)


def test_changelog_and_comments_page_by_start_at() -> None:
    with serve_jira(_site()) as url:
        _, first, _ = _call(url, "/rest/api/3/issue/PLAT-2/changelog?startAt=0&maxResults=2")
        _, rest, _ = _call(url, "/rest/api/3/issue/PLAT-2/changelog?startAt=2&maxResults=2")
        _, comments, _ = _call(url, "/rest/api/3/issue/PLAT-2/comment?startAt=1")
        missing, _, _ = _call(url, "/rest/api/3/issue/PLAT-99/changelog")
    assert [h["id"] for h in first["values"] + rest["values"]] == ["200", "201", "202"]
    assert (first["isLast"], rest["isLast"], rest["total"]) == (False, True, 3)
    assert [c["id"] for c in comments["comments"]] == ["1801"]
    assert missing == 404


def test_server_info_says_cloud_and_fields_list_the_names() -> None:
    with serve_jira(_site()) as url:
        _, info, _ = _call(url, "/rest/api/3/serverInfo")
        _, fields, _ = _call(url, "/rest/api/2/field")
    assert info["deploymentType"] == "Cloud"
    assert [(f["id"], f["name"]) for f in fields] == [("customfield_10016", "Story Points")]


def test_a_wrong_token_gets_401_and_faults_hit_the_requests_they_name() -> None:
    site = _site(rate_limit_on=frozenset({2}), retry_after="3", fail_on=frozenset({3}), failure_status=503)
    with serve_jira(site) as url:
        unauthorized, _, _ = _call(url, "/rest/api/3/myself", token="wrong")
        limited, _, headers = _call(url, "/rest/api/3/myself")
        failed, _, _ = _call(url, "/rest/api/3/myself")
        fine, me, _ = _call(url, "/rest/api/3/myself")
    assert (unauthorized, limited, failed, fine) == (401, 429, 503, 200)
    assert headers["Retry-After"] == "3"
    assert me["emailAddress"] == EMAIL
    assert site.requests == ["GET /rest/api/3/myself"] * 4


def test_a_token_from_another_query_is_rejected() -> None:
    with serve_jira(_site()) as url:
        _, page, _ = _call(url, "/rest/api/3/search/jql?jql=project%20%3D%20PLAT&maxResults=1")
        status, _, _ = _call(
            url, f"/rest/api/3/search/jql?jql=project%20%3D%20OPS&nextPageToken={page['nextPageToken']}"
        )
    assert status == 400


def test_it_runs_as_a_module_serving_an_export_folder(tmp_path: Path) -> None:
    (tmp_path / "page.json").write_text(json.dumps({"issues": [_issue(1)], "isLast": True}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kpi_pipeline.testing.jira_server",
            "--issues",
            str(tmp_path),
            "--port",
            "0",
            "--email",
            EMAIL,
            "--token",
            TOKEN,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.strip().rsplit(" ", 1)[-1]
        status, page, _ = _call(url, "/rest/api/3/search/jql?jql=project%20%3D%20PLAT")
    finally:
        # SIGKILL: Dagster's in-process execution, earlier in this worker, maps SIGTERM to SIGINT's handler,
        # which is SIG_IGN under a shell that ignores SIGINT (nohup, `cmd &`), and children inherit SIG_IGN
        process.kill()
        process.wait(timeout=10)
    assert "1 issues" in banner
    assert status == 200 and [i["key"] for i in page["issues"]] == ["PLAT-1"]


@pytest.mark.parametrize("version", ["2", "3"])
def test_both_api_versions_are_served(version: str) -> None:
    with serve_jira(_site()) as url:
        status, _, _ = _call(url, f"/rest/api/{version}/serverInfo")
    assert status == 200
