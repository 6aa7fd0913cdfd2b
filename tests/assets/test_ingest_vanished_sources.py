"""A source that yields nothing for days its raw tables hold has vanished: those days are kept, the step fails
naming the source, and only KPI_ALLOW_EMPTY empties them. An unconfigured source is skipped, touching nothing."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetsDefinition, materialize

from kpi_pipeline.assets.ingest import raw_docs, raw_jira, raw_slack_messages
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.warehouse import open_warehouse

JULY = [date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)]
AUGUST = date(2026, 8, 4)
RAW_TABLES = ("raw.slack_messages", "raw.jira_issues", "raw.jira_events", "raw.docs")


def _ts(day: date, hour: int) -> str:
    return f"{datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp():.6f}"


def write_dataset(root: Path, days: list[date]) -> Path:
    """A dataset with a Slack export, a Jira export and docs holding something on each of `days`."""
    (root / "slack" / "general").mkdir(parents=True)
    (root / "slack" / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    (root / "slack" / "users.json").write_text("[]")
    (root / "jira").mkdir()
    (root / "docs").mkdir()
    issues = []
    for n, day in enumerate(days, start=1):
        messages = [{"type": "message", "ts": _ts(day, h), "user": "U1", "text": f"error rate {h}%"} for h in (9, 10)]
        (root / "slack" / "general" / f"{day}.json").write_text(json.dumps(messages))
        (root / "docs" / f"status-{day}.md").write_text(f"---\ndate: {day}\n---\n# Status\nError rate {n}%.\n")
        created = f"{day}T09:00:00.000+0000"
        issues.append(
            {
                "key": f"PLAT-{n}",
                "id": str(n),
                "fields": {"created": created, "updated": created, "summary": f"issue {n}", "status": {"name": "Open"}},
            }
        )
    (root / "jira" / "page-001.json").write_text(json.dumps({"issues": issues, "isLast": True}))
    return root


def run(assets: AssetsDefinition, url: str, **sources: Any) -> tuple[bool, str, dict[str, Any]]:
    """Materialize `assets` over JULY in one range run: (success, failure messages, metadata of the result)."""
    result = materialize(
        [assets],
        resources={"warehouse": WarehouseResource(url=url), **sources},
        tags={
            "dagster/asset_partition_range_start": JULY[0].isoformat(),
            "dagster/asset_partition_range_end": JULY[-1].isoformat(),
        },
        raise_on_error=False,
    )
    # the step's error wraps the asset's: its cause is the one line a user reads
    errors = [e.event_specific_data.error for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]
    failures = [
        (error.cause or error).message.strip().removeprefix(f"{SourceError.__module__}.SourceError: ")
        for error in errors
    ]
    metadata: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    return result.success, "\n".join(failures), metadata


def raw_tables(url: str) -> dict[str, pd.DataFrame]:
    wh = open_warehouse(url)
    return {t: wh.query_df(f"SELECT * FROM {t} ORDER BY 1, 2, day") for t in RAW_TABLES}


def assert_unchanged(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    for table in RAW_TABLES:
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)


@pytest.fixture
def ingested(tmp_path: Path, warehouse_url: str) -> tuple[str, dict[str, pd.DataFrame]]:
    """July ingested from a complete dataset: the warehouse URL and every raw table as it stands."""
    full = write_dataset(tmp_path / "full", JULY)
    assert run(raw_slack_messages, warehouse_url, slack=SlackSource(source=str(full / "slack")))[0]
    assert run(raw_jira, warehouse_url, jira=JiraSource(source=str(full / "jira")))[0]
    assert run(raw_docs, warehouse_url, docs=DocsSource(source=str(full / "docs")))[0]
    before = raw_tables(warehouse_url)
    assert all(len(before[t]) > 0 for t in RAW_TABLES)
    return warehouse_url, before


def test_a_slack_export_without_channels_keeps_the_days_and_names_the_source(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, before = ingested
    monkeypatch.delenv("KPI_ALLOW_EMPTY", raising=False)
    lost = write_dataset(tmp_path / "lost", JULY)
    (lost / "slack" / "channels.json").write_text("[]")

    ok, error, _ = run(raw_slack_messages, url, slack=SlackSource(source=str(lost / "slack")))

    assert not ok
    assert error.startswith("slack: KPI_SLACK_SOURCE=")
    assert str(lost / "slack") in error and "2026-07-01...2026-07-03" in error and "KPI_ALLOW_EMPTY=slack" in error
    assert_unchanged(before, raw_tables(url))


def test_an_empty_docs_folder_keeps_the_days(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, before = ingested
    monkeypatch.delenv("KPI_ALLOW_EMPTY", raising=False)
    (tmp_path / "empty_docs").mkdir()

    ok, error, _ = run(raw_docs, url, docs=DocsSource(source=str(tmp_path / "empty_docs")))

    assert not ok
    assert error.startswith("docs: KPI_DOCS_SOURCE=") and "raw.docs" in error
    assert_unchanged(before, raw_tables(url))


def test_a_july_less_export_keeps_july_for_every_source(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, before = ingested
    monkeypatch.delenv("KPI_ALLOW_EMPTY", raising=False)
    august = write_dataset(tmp_path / "august", [AUGUST])

    for assets, name, resource in (
        (raw_slack_messages, "slack", SlackSource(source=str(august / "slack"))),
        (raw_jira, "jira", JiraSource(source=str(august / "jira"))),
        (raw_docs, "docs", DocsSource(source=str(august / "docs"))),
    ):
        ok, error, _ = run(assets, url, **{name: resource})
        assert not ok and error.startswith(f"{name}: "), error
        assert "3 day(s)" in error

    assert_unchanged(before, raw_tables(url))


def test_days_that_still_have_data_are_written_and_only_the_vanished_ones_kept(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, before = ingested
    monkeypatch.delenv("KPI_ALLOW_EMPTY", raising=False)
    partial = write_dataset(tmp_path / "partial", JULY)
    (partial / "slack" / "general" / f"{JULY[1]}.json").unlink()
    (partial / "slack" / "general" / f"{JULY[0]}.json").write_text(
        json.dumps([{"type": "message", "ts": _ts(JULY[0], 11), "user": "U2", "text": "edited"}])
    )

    ok, error, _ = run(raw_slack_messages, url, slack=SlackSource(source=str(partial / "slack")))

    assert not ok and "1 day(s)" in error and "2026-07-02" in error
    after = raw_tables(url)["raw.slack_messages"]
    assert list(after[after["day"].astype(str) == "2026-07-01"]["text"]) == ["edited"]
    kept = before["raw.slack_messages"]
    assert len(after[after["day"].astype(str) == "2026-07-02"]) == len(kept[kept["day"].astype(str) == "2026-07-02"])


@pytest.mark.parametrize("allow", ["slack", "docs, slack", "all"])
def test_kpi_allow_empty_lets_the_source_empty_its_days(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allow: str
) -> None:
    url, before = ingested
    monkeypatch.setenv("KPI_ALLOW_EMPTY", allow)
    lost = write_dataset(tmp_path / "lost", JULY)
    (lost / "slack" / "channels.json").write_text("[]")

    ok, error, _ = run(raw_slack_messages, url, slack=SlackSource(source=str(lost / "slack")))

    assert ok, error
    after = raw_tables(url)
    assert after["raw.slack_messages"].empty
    for table in ("raw.jira_issues", "raw.jira_events", "raw.docs"):
        pd.testing.assert_frame_equal(after[table], before[table])


def test_kpi_allow_empty_naming_another_source_does_not_help(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, before = ingested
    monkeypatch.setenv("KPI_ALLOW_EMPTY", "docs")
    (tmp_path / "empty_jira").mkdir()
    ok, error, _ = run(raw_jira, url, jira=JiraSource(source=str(tmp_path / "empty_jira")))
    assert not ok and error.startswith("jira: ")
    assert_unchanged(before, raw_tables(url))


def test_a_misspelt_kpi_allow_empty_is_one_line_naming_the_setting(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, before = ingested
    monkeypatch.setenv("KPI_ALLOW_EMPTY", "slak")
    ok, error, _ = run(raw_slack_messages, url, slack=SlackSource(source=str(tmp_path / "lost")))
    assert not ok
    assert error.startswith("KPI_ALLOW_EMPTY='slak'") and "slack, jira, docs" in error
    assert_unchanged(before, raw_tables(url))


@pytest.mark.parametrize(
    ("assets", "name", "resource_type", "setting"),
    [
        (raw_slack_messages, "slack", SlackSource, "KPI_SLACK_SOURCE"),
        (raw_jira, "jira", JiraSource, "KPI_JIRA_SOURCE"),
        (raw_docs, "docs", DocsSource, "KPI_DOCS_SOURCE"),
    ],
)
def test_a_source_set_to_none_is_skipped_writing_and_deleting_nothing(
    ingested: tuple[str, dict[str, pd.DataFrame]],
    assets: AssetsDefinition,
    name: str,
    resource_type: type[SlackSource | JiraSource | DocsSource],
    setting: str,
) -> None:
    url, before = ingested
    ok, error, metadata = run(assets, url, **{name: resource_type(source="none")})
    assert ok, error
    assert metadata["skipped"] == f"{name}: no source configured ({setting}=none); skipped"
    assert metadata["dagster/row_count"] == 0
    assert_unchanged(before, raw_tables(url))


def test_a_dataset_without_a_sources_folder_skips_that_source(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    url, before = ingested
    docs_only = write_dataset(tmp_path / "docs_only", JULY)
    shutil.rmtree(docs_only / "slack")
    shutil.rmtree(docs_only / "jira")

    slack = SlackSource(source=str(docs_only / "slack"), from_dataset=True)
    ok, error, metadata = run(raw_slack_messages, url, slack=slack)
    assert ok, error
    assert (
        metadata["skipped"].startswith("slack: no source configured")
        and "KPI_SLACK_SOURCE is unset" in metadata["skipped"]
    )
    jira = JiraSource(source=str(docs_only / "jira"), from_dataset=True)
    assert run(raw_jira, url, jira=jira)[0]
    assert_unchanged(before, raw_tables(url))


def test_an_explicit_path_that_does_not_exist_is_an_error_naming_the_setting(
    ingested: tuple[str, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    url, before = ingested
    for assets, name, resource, setting in (
        (raw_slack_messages, "slack", SlackSource(source=str(tmp_path / "nope")), "KPI_SLACK_SOURCE"),
        (raw_jira, "jira", JiraSource(source=str(tmp_path / "nope")), "KPI_JIRA_SOURCE"),
        (raw_docs, "docs", DocsSource(source=str(tmp_path / "nope")), "KPI_DOCS_SOURCE"),
    ):
        ok, error, _ = run(assets, url, **{name: resource})
        assert not ok and setting in error and str(tmp_path / "nope") in error
    assert_unchanged(before, raw_tables(url))


def test_backfill_allow_empty_sets_kpi_allow_empty_for_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from kpi_pipeline.cli import build_parser, cmd_backfill
    from kpi_pipeline.preflight import UsageError

    monkeypatch.setenv("KPI_ALLOW_EMPTY", "")  # restored after the test
    args = build_parser().parse_args(["backfill", "2020-01-01", "2020-01-02", "--allow-empty"])
    with pytest.raises(UsageError, match="KPI_START_DATE"):  # stops before any run: the setting is made first
        cmd_backfill(args)
    assert os.environ["KPI_ALLOW_EMPTY"] == "all"
    assert not build_parser().parse_args(["backfill", "2026-Q3"]).allow_empty
