"""Acceptance: a demo day materialized by Dagster from `kpi_pipeline.definitions` with the anthropic backend,
against the local Anthropic server, gives the offline backend's values; every call after the first over the
same sources reads them from the prompt cache; an identical rerun is answered from the response cache."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

import kpi_pipeline.definitions
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.prompts import parse_request, wanted_value
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import open_warehouse

DAY = "2026-07-31"  # a month end: the demo day with the most readings in truth.csv (status doc, Slack, Jira)
KEY = "sk-ant-dagster-acceptance"
CONFIG_PREFIXES = ("KPI_", "ANTHROPIC_", "SLACK_", "JIRA_")
VALUES_SQL = "SELECT metric_id, status, value FROM extract.metric_values ORDER BY metric_id"
# the raw confidence: the backends give the same answers, but each has its own calibration map (or none)
FACTS_SQL = (
    "SELECT metric_id, day, value, confidence_raw, status, n_sources, period_start, period_end, reported_at "
    "FROM kpi.fct_metric_daily ORDER BY metric_id"
)


@contextmanager
def definitions_under(env: Mapping[str, str]) -> Iterator[Definitions]:
    """`kpi_pipeline.definitions` as `dagster dev` loads it with only `env` configured. The module reads the
    environment when imported (and its EnvVars at run time), so it is reloaded, and reloaded again afterwards."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in os.environ:
                if name.startswith(CONFIG_PREFIXES) and name not in env:
                    patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            yield importlib.reload(kpi_pipeline.definitions).defs
    finally:
        importlib.reload(kpi_pipeline.definitions)


def pipeline_env(dataset: Path, warehouse_url: str, cache_dir: Path, **llm: str) -> dict[str, str]:
    """The demo dataset into `warehouse_url`, with `llm` choosing and configuring the backend. The client-side
    rate limits are lifted unless `llm` sets them: the local server has none, and tests/extraction/test_ratelimit.py
    covers the limiter (at the defaults, a day's calls would wait on the token limit for a minute or more)."""
    return {
        "KPI_DATASET": str(dataset),
        "KPI_WAREHOUSE_URL": warehouse_url,
        "KPI_LLM_RESPONSE_CACHE_DIR": str(cache_dir),
        "KPI_LLM_REQUESTS_PER_MINUTE": "100000",
        "KPI_LLM_INPUT_TOKENS_PER_MINUTE": "1000000000",
        **llm,
    }


def materialize(
    defs: Definitions, tags: Mapping[str, str] | None = None, partition_key: str | None = None
) -> ExecuteInProcessResult:
    """The daily job (every daily asset and its blocking check) for one partition or a tagged range, in one run."""
    job = defs.resolve_job_def("daily_kpi_job")
    return job.execute_in_process(partition_key=partition_key, tags=tags, instance=DagsterInstance.ephemeral())


def call_order(calls: pd.DataFrame) -> pd.DataFrame:
    """llm_calls in the order the day's requests were made: the index inside `day:source_type:index:hash`."""
    index = calls["call_id"].str.split(":").str[2].astype(int)
    return calls.assign(index=index).sort_values("index", ignore_index=True)


@dataclass(frozen=True)
class Runs:
    offline_values: pd.DataFrame
    offline_facts: pd.DataFrame
    values: pd.DataFrame
    facts: pd.DataFrame
    calls: pd.DataFrame
    requests: dict[str, int]
    rerun_values: pd.DataFrame
    rerun_calls: pd.DataFrame  # the rerun's own llm_calls rows
    every_call: pd.DataFrame  # both runs': the table keeps every call ever billed
    rerun_requests: dict[str, int]
    bodies: list[bytes]  # what the local server received, request by request


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The day offline into warehouse A; through the local server into warehouse B, twice."""
    tmp = tmp_path_factory.mktemp("extract_anthropic")
    dataset = generate_dataset(tmp / "demo", seed=7).out_dir
    offline_url, claude_url = f"duckdb:///{tmp / 'a.duckdb'}", f"duckdb:///{tmp / 'b.duckdb'}"

    with definitions_under(pipeline_env(dataset, offline_url, tmp / "cache_a", KPI_LLM_BACKEND="offline")) as defs:
        assert materialize(defs, partition_key=DAY).success
    offline = open_warehouse(offline_url)

    with serve_anthropic(api_key=KEY) as server:
        env = pipeline_env(
            dataset,
            claude_url,
            tmp / "cache_b",
            KPI_LLM_BACKEND="anthropic",
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=server.base_url,
        )
        with definitions_under(env) as defs:
            assert materialize(defs, partition_key=DAY).success
            claude = open_warehouse(claude_url)
            values, facts = claude.query_df(VALUES_SQL), claude.query_df(FACTS_SQL)
            calls = claude.query_df("SELECT * FROM extract.llm_calls")
            requests = dict(server.requests)
            bodies = list(server.bodies)
            assert materialize(defs, partition_key=DAY).success
            rerun_requests = dict(server.requests)
    every_call = claude.query_df("SELECT * FROM extract.llm_calls")
    return Runs(
        offline_values=offline.query_df(VALUES_SQL),
        offline_facts=offline.query_df(FACTS_SQL),
        values=values,
        facts=facts,
        calls=call_order(calls),
        requests=requests,
        rerun_values=claude.query_df(VALUES_SQL),
        rerun_calls=every_call[~every_call["run_id"].isin(set(calls["run_id"]))],
        every_call=every_call,
        rerun_requests=rerun_requests,
        bodies=bodies,
    )


@pytest.mark.slow
def test_the_anthropic_backend_gives_the_offline_backends_values_and_facts(runs: Runs) -> None:
    pd.testing.assert_frame_equal(runs.values, runs.offline_values)
    pd.testing.assert_frame_equal(runs.facts, runs.offline_facts)
    assert len(runs.values) == 12  # one row per catalog metric
    assert len(runs.facts) >= 8  # the day is rich: most metrics are published, not abstained


@pytest.mark.slow
def test_every_call_is_a_real_http_request_billed_by_the_anthropic_backend(runs: Runs) -> None:
    calls = runs.calls
    assert runs.requests == {"POST /v1/messages": len(calls)}  # one day is below batch_min_days: no batch
    assert (calls["backend"] == "anthropic").all() and (calls["cost_usd"] > 0).all()
    assert not calls["response_cache_hit"].any() and not calls["batch"].any()
    assert set(calls["source_type"]) == {"slack", "jira", "docs"}


@pytest.mark.slow
def test_calls_after_the_first_read_the_catalog_and_later_calls_over_the_same_sources_read_them_too(
    runs: Runs,
) -> None:
    calls = runs.calls
    assert (calls["cache_read_input_tokens"] == 0).sum() == 1  # one call writes the catalog; every other reads it
    groups = [group for _, group in calls.groupby(["day", "source_type"]) if len(group) > 1]
    assert groups, "no source group was asked in more than one call"
    for group in groups:
        first, later = group.iloc[0], group.iloc[1:]
        assert first["cache_creation_input_tokens"] > 0, first["call_id"]  # its day's sources
        whole_prefix = first["cache_creation_input_tokens"] + first["cache_read_input_tokens"]
        assert (later["cache_read_input_tokens"] == whole_prefix).all(), list(later["call_id"])
        assert (later["cache_creation_input_tokens"] == 0).all(), list(later["call_id"])


@pytest.mark.slow
def test_an_identical_rerun_is_answered_from_the_response_cache_without_a_request(runs: Runs) -> None:
    assert runs.rerun_requests == runs.requests
    assert len(runs.rerun_calls) == len(runs.calls)
    assert runs.rerun_calls["response_cache_hit"].all() and (runs.rerun_calls["cost_usd"] == 0).all()
    assert len(runs.every_call) == 2 * len(runs.calls)  # the first run's billed calls stay
    assert runs.every_call["cost_usd"].sum() == pytest.approx(runs.calls["cost_usd"].sum())
    pd.testing.assert_frame_equal(runs.rerun_values, runs.values)


@pytest.mark.slow
def test_each_request_states_every_asked_metrics_wanted_value_and_the_facts_carry_their_periods(runs: Runs) -> None:
    for body in runs.bodies:
        messages = json.loads(body)["messages"]
        request, metrics = parse_request(messages)
        catalog_block, question = messages[0]["content"][0]["text"], messages[0]["content"][-1]["text"]
        for metric in metrics:  # the cached catalog states every metric's, the asked ones' among them
            assert f"- {metric.id}: {wanted_value(metric)}" in catalog_block, metric.id
        assert f"the day asked is {request.day.isoformat()}" in question
    facts = runs.facts
    assert len(facts) and facts[["period_start", "period_end", "reported_at"]].notna().all().all()
    day = pd.Timestamp(DAY).date()
    assert all(
        pd.Timestamp(s).date() <= pd.Timestamp(e).date() <= day
        for s, e in zip(facts["period_start"], facts["period_end"], strict=True)
    )
    assert all(pd.Timestamp(r).tz_convert("UTC").date() == day for r in facts["reported_at"])
