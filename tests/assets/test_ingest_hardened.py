"""Inputs real sources produce that used to break or silently corrupt ingestion: repeated entries, nulls, bombs,
bad values. Each is either read correctly and counted, or refused with one line naming the file and setting."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, DagsterInstance, materialize

from kpi_pipeline.assets.ingest import raw_docs, raw_jira, raw_slack_messages
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import open_warehouse

DAY = "2026-07-02"


def run(assets: AssetsDefinition, url: str, **sources: Any) -> tuple[bool, str, dict[str, Any]]:
    result = materialize(
        [assets],
        partition_key=DAY,
        resources={"warehouse": WarehouseResource(url=url), **sources},
        raise_on_error=False,
    )
    errors = [e.event_specific_data.error for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]
    metadata: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        metadata |= {k: v.value for k, v in event.materialization.metadata.items()}
    return result.success, "\n".join((e.cause or e).message for e in errors), metadata


def comment(cid: str, at: str, text: str) -> dict[str, Any]:
    return {"id": cid, "created": at, "author": {"displayName": "Ann"}, "body": text}


def test_a_repeated_comment_and_changelog_entry_are_read_once_and_counted(tmp_path: Path, warehouse_url: str) -> None:
    history = {
        "id": "501",
        "created": f"{DAY}T10:00:00.000+0000",
        "items": [{"field": "status", "fieldId": "status", "fromString": "To Do", "toString": "Done"}],
    }
    first, repeat = (
        comment("7", f"{DAY}T11:00:00.000+0000", "error rate 3%"),
        comment("7", f"{DAY}T11:00:00.000+0000", "x"),
    )
    issue = {
        "key": "PLAT-1",
        "fields": {
            "created": "2026-07-01T09:00:00.000+0000",
            "status": {"name": "Done"},
            "comment": {"comments": [first, repeat], "total": 2},
        },
        "changelog": {"histories": [history, dict(history)], "total": 2},
    }
    (tmp_path / "jira").mkdir()
    (tmp_path / "jira" / "page.json").write_text(json.dumps({"issues": [issue], "isLast": True}))

    ok, error, metadata = run(raw_jira, warehouse_url, jira=JiraSource(source=str(tmp_path / "jira")))

    assert ok, error
    events = open_warehouse(warehouse_url).query_df("SELECT event_id, body FROM raw.jira_events ORDER BY event_id")
    assert list(events["event_id"]) == ["PLAT-1/comment/7", "PLAT-1/history/501/0"]
    assert events["body"].iloc[0] == "error rate 3%"  # the first copy is kept
    assert metadata["duplicate_comments"] == 1 and metadata["duplicate_changelog_entries"] == 1


@pytest.mark.parametrize("changelog", [{"histories": None}, {"histories": None, "total": 0}, None])
def test_a_null_changelog_is_no_history(tmp_path: Path, duckdb_url: str, changelog: Any) -> None:
    issue = {"key": "PLAT-2", "fields": {"created": "2026-07-01T09:00:00.000+0000", "comment": None}}
    issue["changelog"] = changelog
    (tmp_path / "jira").mkdir()
    (tmp_path / "jira" / "page.json").write_text(json.dumps({"issues": [issue], "isLast": True}))
    ok, error, _ = run(raw_jira, duckdb_url, jira=JiraSource(source=str(tmp_path / "jira")))
    assert ok, error
    issues = open_warehouse(duckdb_url).query_df("SELECT issue_key FROM raw.jira_issues")
    assert list(issues["issue_key"]) == ["PLAT-2"]


def test_what_a_run_does_not_read_is_in_its_metadata(tmp_path: Path, duckdb_url: str) -> None:
    """Future-dated docs and channel folders no listing names are counted where the run reports."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "today.md").write_text(f"---\ndate: {DAY}\n---\nError rate 3%.\n")
    (docs / "future.md").write_text("---\ndate: 2999-01-01\n---\nError rate 1%.\n")
    ok, error, metadata = run(raw_docs, duckdb_url, docs=DocsSource(source=str(docs)))
    assert ok, error
    assert metadata["future_dated_docs"] == 1 and metadata["dagster/row_count"] == 1

    export = tmp_path / "slack"
    for folder in ("general", "unlisted"):
        (export / folder).mkdir(parents=True)
    (export / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    ok, error, metadata = run(raw_slack_messages, duckdb_url, slack=SlackSource(source=str(export)))
    assert ok, error
    assert metadata["orphan_channel_folders"] == 1


def test_what_a_run_does_not_read_is_a_warning_in_its_log(tmp_path: Path, duckdb_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "today.md").write_text(f"---\ndate: {DAY}\n---\nError rate 3%.\n")
    (docs / "future.md").write_text("---\ndate: 2999-01-01\n---\nError rate 1%.\n")
    with DagsterInstance.ephemeral() as instance:
        resources = {"warehouse": WarehouseResource(url=duckdb_url), "docs": DocsSource(source=str(docs))}
        result = materialize([raw_docs], partition_key=DAY, resources=resources, instance=instance)
        warnings = [r.user_message for r in instance.all_logs(result.run_id) if r.level == logging.WARNING]
    assert "docs: 1 future dated docs" in warnings
