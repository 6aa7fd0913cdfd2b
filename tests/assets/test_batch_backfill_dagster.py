"""Acceptance: a single-run Dagster backfill of the daily job over five demo days goes through the local Anthropic
server's Message Batches endpoint; with errored and expired batch items, every day still ends with each metric
published, quarantined, abstained, or reported as unread with the reason, and the run succeeds."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from dagster import Definitions

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
from kpi_pipeline.extraction.schema import NOT_READ_PREFIX, ExtractionBackend
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import open_warehouse
from tests.assets.test_extract_anthropic import KEY, definitions_under, materialize, pipeline_env

FIRST = date(2026, 7, 27)  # Monday to Friday, the month end included
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
RANGE_TAGS = {
    "dagster/asset_partition_range_start": DAYS[0].isoformat(),
    "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
}
ERRORED, EXPIRED = 3, 2
BATCH_FAILURE = NOT_READ_PREFIX + "batch item"


class BatchTunedLlm(LlmResource):
    """The definitions' llm resource plus two AnthropicBackend options LlmResource does not expose: how often
    failed batch items are resubmitted, and how soon a batch is polled (the local server ends batches at once)."""

    batch_max_resubmits: int = 2
    batch_poll_s: float = 0.01

    def get_backend(self) -> ExtractionBackend:
        backend = super().get_backend()
        assert isinstance(backend, AnthropicBackend)
        backend.batch_max_resubmits = self.batch_max_resubmits
        backend.batch_poll_initial_s = backend.batch_poll_max_s = self.batch_poll_s
        return backend


def with_llm(defs: Definitions, llm: LlmResource) -> Definitions:
    return Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        resources={**(defs.resources or {}), "llm": llm},
        executor=defs.executor,
    )


@dataclass(frozen=True)
class Backfill:
    resubmits: int
    succeeded: bool
    requests: dict[str, int]
    metric_ids: set[str]
    values: pd.DataFrame
    candidates: pd.DataFrame
    calls: pd.DataFrame
    published: set[tuple[str, str]]
    quarantined: set[tuple[str, str]]
    failed_days: set[str]  # extract.day_status: too many unread answers, so nothing of the day was written


def iso_days(frame: pd.DataFrame) -> pd.DataFrame:
    """`day` as YYYY-MM-DD, whatever type the engine returned."""
    return frame.assign(day=frame["day"].astype(str).str[:10])


def keys(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """(metric_id, day) of each row."""
    return set(zip(frame["metric_id"], frame["day"].astype(str).str[:10], strict=True))


def by_key(frame: pd.DataFrame, column: str) -> dict[tuple[str, str], str]:
    return {(m, d): v for m, d, v in zip(frame["metric_id"], frame["day"], frame[column], strict=True)}


def lost_to_failures(candidates: pd.DataFrame) -> set[tuple[str, str]]:
    """Metric-days whose every reading is a batch item that failed."""
    failed = candidates["reasoning"].fillna("").str.startswith(BATCH_FAILURE)
    return keys(candidates[failed]) - keys(candidates[~failed])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("demo"), seed=7).out_dir


def run_backfill(dataset: Path, tmp: Path, resubmits: int) -> Backfill:
    """The range in one run (KPI_LLM_BATCH_MIN_DAYS=3), the server failing five batch items."""
    url = f"duckdb:///{tmp / 'warehouse.duckdb'}"
    with serve_anthropic(api_key=KEY, batch_errored=ERRORED, batch_expired=EXPIRED) as server:
        env = pipeline_env(
            dataset,
            url,
            tmp / "llm_cache",
            KPI_LLM_BACKEND="anthropic",
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=server.base_url,
            KPI_LLM_BATCH_MIN_DAYS="3",
        )
        with definitions_under(env) as defs:
            configured = (defs.resources or {})["llm"]  # its EnvVars are carried over, resolved when the run starts
            fields = {name: getattr(configured, name) for name in LlmResource.model_fields}
            llm = BatchTunedLlm(**fields, batch_max_resubmits=resubmits)
            result = materialize(with_llm(defs, llm), tags=RANGE_TAGS)
        requests = dict(server.requests)
    wh = open_warehouse(url)
    return Backfill(
        resubmits=resubmits,
        succeeded=result.success,
        requests=requests,
        metric_ids={m.id for m in load_catalog(dataset / "metrics.yaml").metrics},
        values=iso_days(wh.query_df("SELECT * FROM extract.metric_values")),
        candidates=iso_days(wh.query_df("SELECT * FROM extract.metric_candidates")),
        calls=iso_days(wh.query_df("SELECT * FROM extract.llm_calls")),
        published=keys(wh.query_df("SELECT metric_id, day FROM kpi.fct_metric_daily")),
        quarantined=keys(wh.query_df("SELECT metric_id, day FROM kpi.metric_quarantine")),
        failed_days=set(iso_days(wh.query_df("SELECT day FROM extract.day_status WHERE status = 'failed'"))["day"]),
    )


@pytest.fixture(scope="module")
def resubmitted(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Backfill:
    return run_backfill(dataset, tmp_path_factory.mktemp("resubmitted"), resubmits=2)


@pytest.fixture(scope="module")
def not_resubmitted(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Backfill:
    return run_backfill(dataset, tmp_path_factory.mktemp("not_resubmitted"), resubmits=0)


@pytest.fixture(params=["resubmitted", "not_resubmitted"])
def backfill(request: pytest.FixtureRequest) -> Backfill:
    """Both backfills: what holds whether failed items are resubmitted or not."""
    return typing.cast(Backfill, request.getfixturevalue(request.param))


@pytest.mark.slow
def test_the_range_runs_as_one_successful_run_through_the_batches_endpoint(backfill: Backfill) -> None:
    assert backfill.succeeded
    assert backfill.requests.get("POST /v1/messages", 0) == 0  # not one call outside the batch
    batches = 1 if backfill.resubmits == 0 else 2  # the second batch resubmits the failed items, which answer
    assert backfill.requests["POST /v1/messages/batches"] == batches
    assert backfill.requests["GET /v1/messages/batches/{id}/results"] == backfill.requests["POST /v1/messages/batches"]
    assert backfill.calls["batch"].all() and not backfill.calls["response_cache_hit"].any()
    assert set(backfill.calls["day"]) == {d.isoformat() for d in DAYS}


@pytest.mark.slow
def test_every_day_has_one_value_per_catalog_metric(backfill: Backfill) -> None:
    per_day = backfill.values.groupby("day")["metric_id"].agg(list)
    assert sorted(per_day.index) == [d.isoformat() for d in DAYS]
    for day, metric_ids in per_day.items():
        assert sorted(metric_ids) == sorted(backfill.metric_ids), day


@pytest.mark.slow
def test_every_metric_day_ends_published_quarantined_or_reported(backfill: Backfill) -> None:
    values = backfill.values
    silent = values[values["status"].isin(["abstained", "unread"])]
    assert silent["value"].isna().all() and (silent["reasoning"].str.len() > 0).all()
    assert not backfill.published & backfill.quarantined
    on_failed_days = keys(values[values["day"].isin(backfill.failed_days)])
    assert not on_failed_days & (backfill.published | backfill.quarantined)
    assert keys(values) == backfill.published | backfill.quarantined | keys(silent) | on_failed_days
    assert len(backfill.published) >= len(DAYS)  # the days are not all held back


@pytest.mark.slow
def test_resubmitted_items_answer_and_nothing_is_lost_to_the_faults(resubmitted: Backfill) -> None:
    assert (resubmitted.calls["output_tokens"] > 0).all() and (resubmitted.calls["cost_usd"] > 0).all()
    assert not resubmitted.candidates["reasoning"].fillna("").str.startswith(BATCH_FAILURE).any()


@pytest.mark.slow
def test_without_resubmits_failed_items_end_unread_naming_the_batch_failure(
    not_resubmitted: Backfill,
) -> None:
    backfill = not_resubmitted
    failed = backfill.calls[backfill.calls["output_tokens"] == 0]  # no message came back: nothing billed
    assert len(failed) == ERRORED + EXPIRED and (failed["cost_usd"] == 0).all()
    failed_readings = {
        (day, source_type, metric_id)
        for day, source_type, metric_ids in zip(failed["day"], failed["source_type"], failed["metric_ids"], strict=True)
        for metric_id in json.loads(metric_ids)
    }
    candidates = backfill.candidates
    reported = candidates[candidates["reasoning"].fillna("").str.startswith(BATCH_FAILURE)]
    assert set(zip(reported["day"], reported["source_type"], reported["metric_id"], strict=True)) == failed_readings
    assert reported["value"].isna().all() and reported["reasoning"].str.endswith("after 1 submissions").all()
    assert reported["reasoning"].str.contains("errored").any() and reported["reasoning"].str.contains("expired").any()

    assert set(reported["status"]) == {"unread"}  # not an abstention: nothing was answered
    # a metric-day with a failed item is unread: neither published nor quarantined
    lost = lost_to_failures(candidates)
    assert lost, "no metric-day depended on failed items alone"
    assert not lost & (backfill.published | backfill.quarantined)
    status = by_key(backfill.values, "status")
    assert {status[key] for key in lost} == {"unread"}


@pytest.mark.slow
def test_a_metric_day_lost_to_failed_items_says_so_in_its_value(not_resubmitted: Backfill) -> None:
    reasoning = by_key(not_resubmitted.values, "reasoning")
    reasons = [reasoning[key] for key in lost_to_failures(not_resubmitted.candidates)]
    assert reasons and all("batch item" in reason for reason in reasons), reasons[:3]
