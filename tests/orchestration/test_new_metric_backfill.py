"""Adding a metric to the catalog and backfilling costs only the new metric's tokens: every answer of the
metrics that were already there comes from the response cache, and each call asks for the new metric alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import anthropic
import httpx2
import pandas as pd
import pytest

from kpi_pipeline.catalog import Catalog, load_catalog
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
from kpi_pipeline.extraction.cost import load_prices
from kpi_pipeline.extraction.pipeline import DayExtraction, extract_days
from kpi_pipeline.extraction.prompts import parse_request
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.orchestration.estimate import raw_days_from_sources
from kpi_pipeline.testing.anthropic_server import AnthropicServer, serve_anthropic
from tests.orchestration.test_estimate import KEY, MODEL, TOKEN_KINDS, demo_days, demo_sources

NEW_METRIC = "support_first_response_minutes"  # the last metric of the demo catalog: "appended" for the backfill
DAYS = demo_days(6, date(2026, 7, 9))  # it is stated on four of them


class WireCall:
    """One POST /v1/messages as sent and billed: the metrics it asked and the tokens of its usage."""

    def __init__(self, response: httpx2.Response) -> None:
        response.read()
        self.asked = parse_request(json.loads(response.request.content)["messages"])[0].metric_ids
        usage = response.json()["usage"]
        self.billed_tokens = sum(int(usage[kind]) for kind in TOKEN_KINDS)


def claude_on_the_wire(server: AnthropicServer, cache: ResponseCache, wire: list[WireCall]) -> AnthropicBackend:
    def record(response: httpx2.Response) -> None:
        if response.request.url.path == "/v1/messages" and response.status_code == 200:
            wire.append(WireCall(response))

    client = anthropic.Anthropic(
        api_key=KEY,
        base_url=server.base_url,
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(event_hooks={"response": [record]}),
    )
    return AnthropicBackend(client, MODEL, load_prices(), cache, None, batch_min_days=None)


def calls(results: dict[date, DayExtraction]) -> pd.DataFrame:
    frame = pd.concat([r.calls for r in results.values()], ignore_index=True)
    return frame.assign(metric_ids=frame["metric_ids"].map(json.loads))


def values(results: dict[date, DayExtraction], metric_ids: list[str]) -> pd.DataFrame:
    frame = pd.concat([r.values for r in results.values()], ignore_index=True).astype({"value": float})
    return frame[frame["metric_id"].isin(metric_ids)].sort_values(["day", "metric_id"]).reset_index(drop=True)


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with serve_anthropic(api_key=KEY) as running:
        yield running


def test_backfilling_a_new_metric_bills_no_token_for_the_metrics_already_there(
    dataset: Path, server: AnthropicServer, tmp_path: Path
) -> None:
    full: Catalog = load_catalog(dataset / "metrics.yaml")
    before = full.model_copy(update={"metrics": tuple(m for m in full.metrics if m.id != NEW_METRIC)})
    unchanged = before.metric_ids
    raw = raw_days_from_sources(*demo_sources(dataset), DAYS)
    cache = ResponseCache(tmp_path / "llm_cache")

    first_wire: list[WireCall] = []
    first = extract_days(raw, before, claude_on_the_wire(server, cache, first_wire))
    second_wire: list[WireCall] = []
    second = extract_days(raw, full, claude_on_the_wire(server, cache, second_wire))

    assert first_wire and second_wire
    assert {call.asked for call in second_wire} == {(NEW_METRIC,)}  # every call asks the new metric alone
    assert sum(c.billed_tokens for c in second_wire if set(c.asked) & set(unchanged)) == 0
    # fewer calls and dollars than the first run; not half: the catalog prefix changed with the new metric, so
    # each prefix is written to the prompt cache again (as it would be anyway after the cache's 5 minutes)
    assert len(second_wire) < len(first_wire) and calls(second)["cost_usd"].sum() < calls(first)["cost_usd"].sum()

    # the run's own call records agree: requests without the new metric were answered by the cache
    recorded = calls(second)
    without_new = recorded[~recorded["metric_ids"].map(lambda ids: NEW_METRIC in ids)]
    assert len(without_new) and without_new["response_cache_hit"].all()
    assert int(without_new[list(TOKEN_KINDS)].to_numpy().sum()) == 0 and without_new["cost_usd"].sum() == 0
    assert int(recorded[list(TOKEN_KINDS)].to_numpy().sum()) == sum(c.billed_tokens for c in second_wire)
    # and rows that billed anything name only the new metric: no unchanged metric was asked
    billed = recorded[recorded[list(TOKEN_KINDS)].sum(axis=1) > 0]
    assert len(billed) and billed["metric_ids"].map(lambda ids: list(ids) == [NEW_METRIC]).all()

    # the metrics already there keep their values; the new one is read where the demo states it
    pd.testing.assert_frame_equal(values(second, unchanged), values(first, unchanged))
    new_values = values(second, [NEW_METRIC])
    assert new_values["value"].notna().sum() >= 3
