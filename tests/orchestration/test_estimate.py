"""The cost estimate: the requests the pipeline would send, counted and priced without calling a model, close
to what a real run through AnthropicBackend and the local Anthropic server then reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pandas as pd
import pytest

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
from kpi_pipeline.extraction.cost import PricingError, load_prices
from kpi_pipeline.extraction.pipeline import DayExtraction, RawDay, extract_days
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.extraction.schema import LlmUsage
from kpi_pipeline.orchestration.estimate import (
    Estimate,
    configured_estimate,
    estimate,
    load_raw_days,
    raw_days_from_sources,
)
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.testing.anthropic_server import AnthropicServer, serve_anthropic
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.tables import RAW_DOCS, RAW_JIRA_EVENTS, RAW_JIRA_ISSUES, RAW_SLACK_MESSAGES

MODEL = "claude-sonnet-5-5"
KEY = "sk-ant-estimate-test"
FIRST = date(2026, 7, 1)
TOKEN_KINDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


# -- demo helpers (also used by the budget and new-metric tests) ----------------------------------------------


def demo_days(n: int, first: date = FIRST) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def demo_sources(dataset: Path) -> tuple[SlackSource, JiraSource, DocsSource]:
    return (
        SlackSource(source=str(dataset / "slack")),
        JiraSource(source=str(dataset / "jira")),
        DocsSource(source=str(dataset / "docs")),
    )


def claude(server: AnthropicServer, cache: ResponseCache | None = None, **options: Any) -> AnthropicBackend:
    """AnthropicBackend through the real SDK against the local server, waits skipped."""
    client = anthropic.Anthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
    options.setdefault("batch_min_days", None)
    return AnthropicBackend(client, MODEL, load_prices(), cache, None, sleep=lambda s: None, **options)


def billed(results: dict[date, DayExtraction]) -> dict[str, int]:
    calls = pd.concat([r.calls for r in results.values()])
    return {kind: int(calls[kind].sum()) for kind in TOKEN_KINDS}


@pytest.fixture(scope="module")
def ten_days(dataset: Path) -> dict[date, RawDay]:
    return raw_days_from_sources(*demo_sources(dataset), demo_days(10))


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with serve_anthropic(api_key=KEY) as running:
        yield running


# -- the estimate against a real run --------------------------------------------------------------------------


def test_the_estimate_is_within_20_percent_of_what_a_real_run_reports(
    ten_days: dict[date, RawDay], catalog: Catalog, server: AnthropicServer
) -> None:
    planned = estimate(ten_days, catalog, MODEL, load_prices())
    assert server.message_requests == 0  # estimating calls nothing
    results = extract_days(ten_days, catalog, claude(server))
    actual = billed(results)
    assert planned.calls == server.message_requests == sum(len(r.calls) for r in results.values())
    expected = {kind: getattr(planned.usage, kind) for kind in TOKEN_KINDS}
    for kind in TOKEN_KINDS:
        assert expected[kind] == pytest.approx(actual[kind], rel=0.2), kind
    # the input side is counted exactly as the server bills it, cache writes and reads included
    assert {k: expected[k] for k in TOKEN_KINDS[:3]} == {k: actual[k] for k in TOKEN_KINDS[:3]}
    spent = sum(float(r.calls["cost_usd"].sum()) for r in results.values())
    assert planned.cost_usd_sync == pytest.approx(spent, rel=0.2)


def test_dollars_come_from_prices_yaml_and_batch_halves_them(ten_days: dict[date, RawDay], catalog: Catalog) -> None:
    prices = load_prices()
    planned = estimate(ten_days, catalog, MODEL, prices)
    assert planned.cost_usd_sync == pytest.approx(prices.cost_usd(MODEL, planned.usage)) and planned.cost_usd_sync > 0
    assert planned.cost_usd_batch == pytest.approx(planned.cost_usd_sync / 2)
    haiku = estimate(ten_days, catalog, "claude-haiku-5-5", prices)
    assert haiku.usage == planned.usage and haiku.cost_usd_sync < planned.cost_usd_sync / 10
    with pytest.raises(PricingError, match=r"prices\.yaml"):
        estimate(ten_days, catalog, "claude-mythos-5-2", prices)


def test_a_run_is_priced_as_a_batch_from_batch_min_days_days(ten_days: dict[date, RawDay], catalog: Catalog) -> None:
    prices = load_prices()
    assert not estimate(ten_days, catalog, MODEL, prices, batch_min_days=14).batch
    batched = estimate(ten_days, catalog, MODEL, prices, batch_min_days=10)
    assert batched.batch and batched.cost_usd == batched.cost_usd_batch
    assert estimate(ten_days, catalog, MODEL, prices, batch=True, batch_min_days=None).batch


def test_requests_the_response_cache_answers_cost_nothing(
    ten_days: dict[date, RawDay], catalog: Catalog, server: AnthropicServer, tmp_path: Path
) -> None:
    cache = ResponseCache(tmp_path)
    first_five = dict(list(ten_days.items())[:5])
    extract_days(first_five, catalog, claude(server, cache))
    cold = estimate(ten_days, catalog, MODEL, load_prices())
    warm = estimate(ten_days, catalog, MODEL, load_prices(), cache=cache)
    half = estimate(dict(list(ten_days.items())[5:]), catalog, MODEL, load_prices())
    assert warm.requests == cold.requests and warm.calls == half.calls < cold.calls
    assert warm.usage == half.usage
    assert estimate(first_five, catalog, MODEL, load_prices(), cache=cache).cost_usd == 0


def test_the_report_shows_calls_tokens_by_kind_and_dollars_with_and_without_batch_beside_the_seed_design() -> None:
    usage = LlmUsage(
        input_tokens=605_141, cache_creation_input_tokens=219_801, cache_read_input_tokens=410_797, output_tokens=91_000
    )
    seed = LlmUsage(input_tokens=16_000_000, output_tokens=100_000)
    planned = Estimate(
        MODEL, 92, 470, 463, usage, True, 2.75, 1.375, seed_calls=1104, seed_usage=seed, cost_usd_seed=33
    )
    text = planned.report()
    for shown in ("92 day(s)", MODEL, "463", "605,141", "219,801", "410,797", "91,000", "$2.7500", "$1.3750"):
        assert shown in text
    assert "would go    batch ($1.3750)" in text
    assert "$33.0000  (1,104 calls" in text and "16,000,000 input tokens" in text
    assert "24.0x cheaper than the seed design" in text


def test_the_seed_design_is_one_uncached_call_per_metric_per_day_over_all_of_its_sources(
    ten_days: dict[date, RawDay], catalog: Catalog
) -> None:
    planned = estimate(ten_days, catalog, MODEL, load_prices())
    assert planned.seed_calls == 10 * len(catalog.metrics)
    assert planned.seed_usage.cache_read_input_tokens == planned.seed_usage.cache_creation_input_tokens == 0
    assert planned.seed_usage.input_tokens > 10 * planned.input_tokens  # every source, every metric, every time
    assert planned.cost_usd_seed == pytest.approx(load_prices().cost_usd(MODEL, planned.seed_usage))
    assert planned.cost_usd_seed > 40 * planned.cost_usd_batch  # the goal of issue #16, on ten demo days


# -- where the raw days come from -----------------------------------------------------------------------------


def test_ingested_days_are_read_from_the_warehouse_and_the_rest_from_the_sources(
    dataset: Path, ten_days: dict[date, RawDay], catalog: Catalog, duckdb_url: str
) -> None:
    wh = open_warehouse(duckdb_url)
    wh.ensure_tables()
    now = datetime.now(UTC)
    ingested = demo_days(3)
    for day in ingested:
        raw = ten_days[day]
        for table, frame in (
            (RAW_SLACK_MESSAGES, raw.slack_messages),
            (RAW_JIRA_ISSUES, raw.jira_issues),
            (RAW_JIRA_EVENTS, raw.jira_events),
            (RAW_DOCS, raw.docs),
        ):
            wh.replace_days(table, [day], frame.assign(ingested_at=now))
    wh.execute(f"UPDATE {RAW_SLACK_MESSAGES.qualified} SET text = text || ' (as ingested)' WHERE day = ?", [FIRST])
    loaded = load_raw_days(demo_days(5), wh, *demo_sources(dataset))
    assert list(loaded) == demo_days(5)
    assert loaded[FIRST].slack_messages["text"].str.endswith(" (as ingested)").all()  # the warehouse's rows
    assert (
        "ingested_at" in loaded[ingested[-1]].slack_messages
        and "ingested_at" not in loaded[demo_days(5)[-1]].slack_messages
    )
    # rows read back from the warehouse build the same prompts as rows read from the sources
    second_and_third = {d: loaded[d] for d in ingested[1:]}
    from_sources = {d: ten_days[d] for d in ingested[1:]}
    prices = load_prices()
    assert estimate(second_and_third, catalog, MODEL, prices) == estimate(from_sources, catalog, MODEL, prices)


def test_without_a_warehouse_every_day_comes_from_the_sources(dataset: Path, ten_days: dict[date, RawDay]) -> None:
    loaded = load_raw_days(demo_days(2), None, *demo_sources(dataset))
    for day, raw in loaded.items():
        pd.testing.assert_frame_equal(raw.slack_messages, ten_days[day].slack_messages)


# -- `kpi-pipeline estimate` ----------------------------------------------------------------------------------


def test_the_command_estimates_a_range_with_the_deployments_resources_and_budget(
    dataset: Path, ten_days: dict[date, RawDay], catalog: Catalog, duckdb_url: str
) -> None:
    slack, jira, docs = demo_sources(dataset)
    text = configured_estimate(
        demo_days(10),
        catalog=CatalogResource(path=str(dataset / "metrics.yaml")),
        warehouse=WarehouseResource(url=duckdb_url),
        slack=slack,
        jira=jira,
        docs=docs,
        llm=LlmResource(backend="offline", budget_usd="0.05", batch_min_days=10),
        model="claude-haiku-5-5",
    )
    expected = estimate(ten_days, catalog, "claude-haiku-5-5", load_prices(), batch_min_days=10)
    assert text.startswith(expected.report())
    assert "configured backend is offline" in text
    assert "KPI_LLM_BUDGET_USD=$0.05: the run fits" in text  # haiku, batched: a few cents
    sonnet = configured_estimate(
        demo_days(10),
        catalog=CatalogResource(path=str(dataset / "metrics.yaml")),
        warehouse=WarehouseResource(url=duckdb_url),
        slack=slack,
        jira=jira,
        docs=docs,
        llm=LlmResource(api_key=KEY, budget_usd="0.05"),
    )
    assert f"with {MODEL}" in sonnet and "the run exceeds it" in sonnet and "offline" not in sonnet
