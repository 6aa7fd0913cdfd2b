"""Acceptance: a vanished source is not an empty day. Three demo days are published through the daily Dagster job,
then the job is run again over them with a source that lost those days (a Slack export whose channels.json is
`[]`, an export that holds only the first half of July, an emptied docs folder, an empty Jira export): on both
engines the run fails naming the source, its setting and the days, and every raw.*, extract.* and kpi.* table is
as it was before the faulty run. With KPI_ALLOW_EMPTY naming the source, the days really are emptied."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult

from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.orchestration.run_errors import failure_lines
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.tables import ALL_TABLES
from tests.assets.test_extract_anthropic import definitions_under, pipeline_env

DAYS = ("2026-07-29", "2026-07-30", "2026-07-31")
RANGE = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}


def every_table(wh: Warehouse) -> dict[str, list[tuple[str, ...]]]:
    """Every raw.*, extract.* and kpi.* table, sorted, every column but raw rows' ingested_at: the sources that
    did not vanish are read again by the faulty run, which rewrites their (identical) rows."""

    def columns(names: tuple[str, ...]) -> str:
        return ", ".join(c for c in names if c != "ingested_at")

    return {
        t.qualified: sorted(
            tuple(str(v) for v in row)
            for row in wh.query_df(f"SELECT {columns(t.column_names)} FROM {t.qualified}").itertuples(index=False)
        )
        for t in ALL_TABLES
    }


@dataclass(frozen=True)
class Vanishing:
    """A source that lost the published days: the setting pointing at it and what the refusal names."""

    source: str
    step: str  # the ingest asset that reads it
    setting: str
    table: str  # the table(s) the refusal names; the first holds the days
    make: Callable[[Path, Path], Path]  # (dataset, scratch folder) -> the vanished source's location


def slack_without_channels(dataset: Path, scratch: Path) -> Path:
    export = Path(shutil.copytree(dataset / "slack", scratch / "slack"))
    (export / "channels.json").write_text("[]")
    return export


def slack_of_early_july(dataset: Path, scratch: Path) -> Path:
    """A rotated export: the same channels, only the days before 2026-07-16."""
    export = Path(shutil.copytree(dataset / "slack", scratch / "slack"))
    for day_file in export.glob("*/2026-*.json"):
        if day_file.stem >= "2026-07-16":
            day_file.unlink()
    return export


def empty_folder(dataset: Path, scratch: Path) -> Path:
    (scratch / "empty").mkdir()
    return scratch / "empty"


VANISHINGS = {
    "slack channels.json []": Vanishing(
        "slack", "raw_slack_messages", "KPI_SLACK_SOURCE", "raw.slack_messages", slack_without_channels
    ),
    "slack export of early July": Vanishing(
        "slack", "raw_slack_messages", "KPI_SLACK_SOURCE", "raw.slack_messages", slack_of_early_july
    ),
    "empty docs folder": Vanishing("docs", "raw_docs", "KPI_DOCS_SOURCE", "raw.docs", empty_folder),
    "empty jira export": Vanishing(
        "jira", "raw_jira", "KPI_JIRA_SOURCE", "raw.jira_issues/raw.jira_events", empty_folder
    ),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("demo"), seed=7).out_dir


def run(dataset: Path, url: str, cache: Path, **settings: str) -> ExecuteInProcessResult:
    """The daily job over DAYS in one run, offline backend; a failed step fails the result, it is not raised."""
    with definitions_under(pipeline_env(dataset, url, cache, KPI_LLM_BACKEND="offline", **settings)) as defs:
        job = defs.resolve_job_def("daily_kpi_job")
        return job.execute_in_process(tags=RANGE, instance=DagsterInstance.ephemeral(), raise_on_error=False)


@pytest.fixture(scope="module")
def published(dataset: Path, engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """DAYS published on one engine. The faulty runs change nothing, so they share this state."""
    result = run(dataset, engine_url, tmp_path_factory.mktemp("cache"))
    assert result.success
    facts = open_warehouse(engine_url).query_df("SELECT day FROM kpi.fct_metric_daily")
    assert {str(d)[:10] for d in facts["day"]} == set(DAYS)
    return engine_url


@pytest.mark.slow
@pytest.mark.parametrize("case", list(VANISHINGS))
def test_a_vanished_source_fails_the_run_naming_it_and_leaves_every_table_as_it_was(
    published: str, dataset: Path, tmp_path: Path, case: str
) -> None:
    vanishing = VANISHINGS[case]
    location = vanishing.make(dataset, tmp_path)
    wh = open_warehouse(published)
    before = every_table(wh)
    assert all(before[t] for t in ("raw.slack_messages", "raw.docs", "raw.jira_issues", "kpi.fct_metric_daily"))

    result = run(dataset, published, tmp_path / "cache", **{vanishing.setting: str(location)})

    assert not result.success
    (line,) = failure_lines(result.all_events)  # the line `kpi-pipeline backfill` prints for the run
    assert line.startswith(f"in {vanishing.step}: SourceError: {vanishing.source}: ")
    assert f"{vanishing.source}: {vanishing.setting}={str(location)!r}" in line
    holding = wh.query_df(f"SELECT DISTINCT day FROM {vanishing.table.split('/')[0]}")
    held = sorted({str(d)[:10] for d in holding["day"]} & set(DAYS))
    span = held[0] if len(held) == 1 else f"{held[0]}...{held[-1]}"  # the demo's docs hold only the month end
    assert f"nothing for {len(held)} day(s) that {vanishing.table} already holds ({span})" in line, line
    assert f"KPI_ALLOW_EMPTY={vanishing.source}" in line
    assert every_table(wh) == before  # not one raw, extract or kpi row deleted, added or changed


@pytest.mark.slow
def test_allow_empty_naming_the_source_empties_its_days_and_the_rest_publishes(
    dataset: Path, engine_url: str, tmp_path: Path
) -> None:
    """Last in the module (it empties the shared warehouse's Slack days): the override does what it says."""
    assert run(dataset, engine_url, tmp_path / "cache_first").success
    export = slack_without_channels(dataset, tmp_path)

    result = run(dataset, engine_url, tmp_path / "cache", KPI_SLACK_SOURCE=str(export), KPI_ALLOW_EMPTY="slack")

    assert result.success, failure_lines(result.all_events)
    wh = open_warehouse(engine_url)
    assert wh.scalar("SELECT count(*) FROM raw.slack_messages") == 0
    assert wh.scalar("SELECT count(*) FROM raw.docs") > 0
    cited = set(wh.query_df("SELECT source_type FROM kpi.fct_metric_evidence")["source_type"])
    assert cited and "slack" not in cited  # what is published now leans on the sources that remain
