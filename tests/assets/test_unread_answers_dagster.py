"""Acceptance: a failed answer is never an answer. A demo day is published through the daily Dagster job against the
local Anthropic server, then rerun while the server answers every request with malformed JSON, or refuses every
request, or refuses one request: on both engines, every raw.* and kpi.* table is left as it was (the partial fault
republishes the metrics it read, with identical values), extract.day_status says failed or partial, and the run
reports it with a failed ERROR check. A backfill on the Message Batches path with a lost item does the same."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity, ExecuteInProcessResult

from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.tables import KPI_TABLES, RAW_TABLES, Table
from tests.assets.test_batch_backfill_dagster import BatchTunedLlm, with_llm
from tests.assets.test_extract_anthropic import DAY, KEY, definitions_under, materialize, pipeline_env

ALL_FAULTS = 10**6  # more than the run makes requests
BOOKKEEPING = {"ingested_at", "published_at", "run_id"}  # what an honest rerun of the same answers changes
PARTIAL_UNREAD_RATE = "0.9"  # one refused request leaves several metrics unread: partial, not failed


def snapshot(wh: Warehouse, exact: bool) -> dict[str, list[tuple[Any, ...]]]:
    """Every raw.* and kpi.* table, sorted; without the bookkeeping columns unless `exact` (raw rows are re-ingested
    by every run, so their ingested_at is always left out)."""

    def columns(table: Table) -> list[str]:
        left_out = {"ingested_at"} | (set() if exact else BOOKKEEPING)
        return [c for c in table.column_names if c not in left_out]

    return {
        t.qualified: sorted(
            tuple(str(v) for v in row) for row in wh.query_df(f"SELECT {', '.join(columns(t))} FROM {t.qualified}")
             .itertuples(index=False)
        )
        for t in (*RAW_TABLES, *KPI_TABLES)
    }  # fmt: skip


def rows_of(wh: Warehouse, table: str, metric_ids: list[str]) -> pd.DataFrame:
    """Every column of a kpi table's rows for `metric_ids`, in a stable order."""
    marks = ", ".join("?" for _ in metric_ids)
    sql = f"SELECT * FROM {table} WHERE metric_id IN ({marks}) ORDER BY 1, 2, 3"
    return wh.query_df(sql, metric_ids) if metric_ids else pd.DataFrame()


def check(result: ExecuteInProcessResult, name: str) -> AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def day_status(wh: Warehouse) -> dict[str, dict[str, Any]]:
    frame = wh.query_df("SELECT * FROM extract.day_status")
    return {str(row["day"])[:10]: row for row in frame.to_dict("records")}


@dataclass(frozen=True)
class Rerun:
    result: ExecuteInProcessResult
    requests: int
    before: dict[str, list[tuple[Any, ...]]]
    before_exact: dict[str, list[tuple[Any, ...]]]
    after: dict[str, list[tuple[Any, ...]]]
    after_exact: dict[str, list[tuple[Any, ...]]]
    kept_before: dict[str, pd.DataFrame]  # the unread metrics' kpi rows before the rerun, every column
    kept_after: dict[str, pd.DataFrame]
    status: dict[str, dict[str, Any]]
    unread_metrics: list[str]  # extract.metric_values rows with status unread


def nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as objects with every null as None: a column read whole and the same column read for a few
    rows that are all NULL come back as different dtypes (str with NaN, object with None)."""
    return frame.astype(object).where(frame.notna(), None)


class Day:
    """One demo day in one warehouse: published once through the local server, then rerun under faults."""

    def __init__(self, dataset: Path, url: str, tmp: Path) -> None:
        self.dataset, self.url, self.tmp = dataset, url, tmp
        self.first = self._run("first")
        assert self.first.success and check(self.first, "days_published").passed

    def _run(self, name: str, unread_rate: str | None = None, **faults: Any) -> ExecuteInProcessResult:
        with serve_anthropic(api_key=KEY, **faults) as server:
            env = pipeline_env(
                self.dataset,
                self.url,
                self.tmp / f"cache_{name}",  # a fresh response cache: every metric is asked again
                KPI_LLM_BACKEND="anthropic",
                ANTHROPIC_API_KEY=KEY,
                ANTHROPIC_BASE_URL=server.base_url,
                KPI_LLM_MAX_CONCURRENCY="1",  # requests in order: which one a counted fault hits is fixed
                **({"KPI_MAX_UNREAD_RATE": unread_rate} if unread_rate else {}),
            )
            with definitions_under(env) as defs:
                result = materialize(defs, partition_key=DAY)
            self.requests = server.message_requests
        return result

    def rerun(self, name: str, unread_rate: str | None = None, **faults: Any) -> Rerun:
        wh = open_warehouse(self.url)
        before, before_exact = snapshot(wh, exact=False), snapshot(wh, exact=True)
        kpi = [t.qualified for t in KPI_TABLES if "metric_id" in t.column_names]
        everything = {t: wh.query_df(f"SELECT * FROM {t}") for t in kpi}
        result = self._run(name, unread_rate, **faults)
        values = wh.query_df("SELECT metric_id, status FROM extract.metric_values")
        unread = sorted(values.loc[values["status"] == "unread", "metric_id"])
        return Rerun(
            result=result,
            requests=self.requests,
            before=before,
            before_exact=before_exact,
            after=snapshot(wh, exact=False),
            after_exact=snapshot(wh, exact=True),
            kept_before={t: f[f["metric_id"].isin(unread)].sort_values(list(f.columns[:3]), ignore_index=True)
                         for t, f in everything.items()},
            kept_after={t: rows_of(wh, t, unread).sort_values(list(everything[t].columns[:3]), ignore_index=True)
                        if unread else everything[t].iloc[0:0] for t in kpi},
            status=day_status(wh),
            unread_metrics=unread,
        )  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("demo"), seed=7).out_dir


@pytest.fixture(scope="module")
def day(dataset: Path, engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Day:
    return Day(dataset, engine_url, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def malformed(day: Day) -> Rerun:
    return day.rerun("malformed", malformed=ALL_FAULTS)


@pytest.fixture(scope="module")
def refused(day: Day) -> Rerun:
    return day.rerun("refused", refusals=ALL_FAULTS)


@pytest.fixture(scope="module")
def partial(day: Day, malformed: Rerun, refused: Rerun) -> Rerun:
    """Last: it republishes the metrics it read (same values, new run id and time)."""
    return day.rerun("partial", unread_rate=PARTIAL_UNREAD_RATE, refusals=1)


@pytest.fixture(scope="module", params=["malformed", "refused"])
def unreadable(request: pytest.FixtureRequest, day: Day) -> Rerun:
    """The reruns in which no answer could be read, on each engine."""
    return typing.cast(Rerun, request.getfixturevalue(request.param))


def assert_reported(rerun: Rerun, status: str) -> None:
    """extract.day_status and the run both say the day was not read in full."""
    row = rerun.status[DAY]
    assert row["status"] == status and row["unread"] == len(rerun.unread_metrics) > 0
    assert sorted(json.loads(row["unread_metrics"])) == rerun.unread_metrics
    assert rerun.result.success  # the good work of the run (and later assets) went through...
    days = check(rerun.result, "days_published")  # ...and the run says what it could not do
    assert (days.passed, days.severity) == (False, AssetCheckSeverity.ERROR)
    extracted = rerun.result.asset_materializations_for_node("metric_extraction")
    values = next(m for m in extracted if m.asset_key.path == ["metric_values"])
    assert values.metadata["unread"].value == len(rerun.unread_metrics)
    assert values.metadata[f"{status}_days"].value == DAY


@pytest.mark.slow
def test_a_rerun_that_reads_nothing_leaves_every_raw_and_kpi_table_as_it_was(unreadable: Rerun) -> None:
    rerun = unreadable
    assert rerun.requests > 0  # the answers were really asked for, not served from the response cache
    assert rerun.after_exact == rerun.before_exact  # not one row, not one published_at


@pytest.mark.slow
def test_a_rerun_that_reads_nothing_marks_the_day_failed_held_and_fails_the_check(unreadable: Rerun) -> None:
    rerun = unreadable
    # every metric asked is unread, none of them an abstention; the two that no source of the day names are not
    # asked (plausibility.py), so they abstain as in the first run
    not_named = {"customer_churn_rate", "mrr_usd"}
    assert len(rerun.unread_metrics) == 10 and not not_named & set(rerun.unread_metrics)
    assert_reported(rerun, "failed")
    row = rerun.status[DAY]
    assert row["publish_status"] == "held" and "extraction of 2026-07-31 failed: 10 of 12" in row["publish_reason"]
    assert "2026-07-31 held" in (check(rerun.result, "days_published").description or "")


@pytest.mark.slow
def test_a_partial_fault_keeps_the_unread_metrics_and_republishes_the_others_unchanged(partial: Rerun) -> None:
    assert 0 < len(partial.unread_metrics) < 12
    assert partial.after == partial.before  # every raw and kpi table, but for run ids and times
    for table, kept in partial.kept_before.items():  # the unread metrics' rows: not even re-stamped
        pd.testing.assert_frame_equal(nulls_as_none(partial.kept_after[table]), nulls_as_none(kept), obj=table)
    assert len(partial.kept_before["kpi.fct_metric_daily"]) > 0
    assert_reported(partial, "partial")
    row = partial.status[DAY]
    assert row["publish_status"] == "published" and "kept the previous version of" in row["publish_reason"]


# -- the Message Batches path ---------------------------------------------------------------------------------

BATCH_DAYS = [date(2026, 7, 29) + timedelta(days=i) for i in range(3)]
BATCH_TAGS = {
    "dagster/asset_partition_range_start": BATCH_DAYS[0].isoformat(),
    "dagster/asset_partition_range_end": BATCH_DAYS[-1].isoformat(),
}


def backfill(dataset: Path, url: str, cache: Path, **faults: Any) -> ExecuteInProcessResult:
    """The three days in one run through one Message Batch, failed items not resubmitted."""
    with serve_anthropic(api_key=KEY, **faults) as server:
        env = pipeline_env(
            dataset,
            url,
            cache,
            KPI_LLM_BACKEND="anthropic",
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=server.base_url,
            KPI_LLM_BATCH_MIN_DAYS="3",
            KPI_MAX_UNREAD_RATE="1",  # the lost item's metrics stay partial whatever their share
        )
        with definitions_under(env) as defs:
            configured = (defs.resources or {})["llm"]
            fields = {name: getattr(configured, name) for name in LlmResource.model_fields}
            result = materialize(with_llm(defs, BatchTunedLlm(**fields, batch_max_resubmits=0)), tags=BATCH_TAGS)
        assert server.requests.get("POST /v1/messages/batches") == 1 and "POST /v1/messages" not in server.requests
    return result


@pytest.mark.slow
def test_a_lost_batch_item_keeps_the_published_values_it_would_have_replaced(dataset: Path, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    assert check(backfill(dataset, url, tmp_path / "cache_first"), "days_published").passed
    wh = open_warehouse(url)
    before = snapshot(wh, exact=False)
    facts_before = wh.query_df("SELECT * FROM kpi.fct_metric_daily")

    result = backfill(dataset, url, tmp_path / "cache_second", batch_expired=1)

    assert snapshot(wh, exact=False) == before
    statuses = day_status(wh)
    (lost_day,) = [d for d, row in statuses.items() if row["status"] != "complete"]
    row = statuses[lost_day]
    assert row["status"] == "partial" and row["publish_status"] == "published"
    lost = json.loads(row["unread_metrics"])
    assert lost and row["unread"] == len(lost)
    reasons = wh.query_df(f"SELECT reasoning FROM extract.metric_values WHERE status = 'unread' AND day = '{lost_day}'")
    assert len(reasons) == len(lost) and reasons["reasoning"].str.contains("batch item expired").all()
    kept = facts_before[facts_before["metric_id"].isin(lost) & (facts_before["day"].astype(str) == lost_day)]
    after = wh.query_df("SELECT * FROM kpi.fct_metric_daily")
    still = after[after["metric_id"].isin(lost) & (after["day"].astype(str) == lost_day)]
    assert len(kept) > 0
    pd.testing.assert_frame_equal(
        still.sort_values("metric_id", ignore_index=True), kept.sort_values("metric_id", ignore_index=True)
    )
    days = check(result, "days_published")
    assert (days.passed, days.severity) == (False, AssetCheckSeverity.ERROR) and result.success
    assert f"{lost_day} partial" in (days.description or "")
