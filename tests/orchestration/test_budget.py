"""KPI_LLM_BUDGET_USD stops a run twice over: before any call when the estimate is over it, and while running
before the call that would take the actual spend past it. Either way no day's extraction comes back to write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.cost import load_prices
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import RawDay, extract_days
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.extraction.schema import LlmUsage
from kpi_pipeline.orchestration.budget import BudgetExceeded, check_budget, check_range_budget, check_run_budget
from kpi_pipeline.orchestration.estimate import Estimate, estimate, raw_days_from_sources
from kpi_pipeline.testing.anthropic_server import AnthropicServer, serve_anthropic
from tests.orchestration.test_estimate import KEY, MODEL, claude, demo_days, demo_sources


def planned(cost_usd_sync: float, *, batch: bool = False) -> Estimate:
    return Estimate(MODEL, 92, 470, 463, LlmUsage(input_tokens=1), batch, cost_usd_sync, cost_usd_sync / 2)


@pytest.fixture(scope="module")
def week(dataset: Path) -> dict[date, RawDay]:
    return raw_days_from_sources(*demo_sources(dataset), demo_days(7))


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with serve_anthropic(api_key=KEY) as running:
        yield running


# -- the check ------------------------------------------------------------------------------------------------


def test_an_estimate_over_the_budget_is_refused_with_what_to_do() -> None:
    with pytest.raises(BudgetExceeded) as refused:
        check_budget(planned(2.75), 1.5)
    assert str(refused.value).startswith(
        "estimated $2.75 for 92 days (463 calls to claude-sonnet-5-5) exceeds KPI_LLM_BUDGET_USD=$1.50: "
        "raise the budget, narrow the range, or enable batch mode ($1.38 in batch mode: lower KPI_LLM_BATCH_MIN_DAYS)"
    )
    with pytest.raises(BudgetExceeded, match=r"estimated \$1\.38 .*: raise the budget or narrow the range\."):
        check_budget(planned(2.75, batch=True), 1.0)


def test_an_estimate_within_the_budget_or_without_one_passes() -> None:
    check_budget(planned(2.75), 2.75)
    check_budget(planned(2.75, batch=True), 1.5)
    check_budget(planned(1e6), None)


# -- before the run -------------------------------------------------------------------------------------------


def test_a_run_estimated_over_the_budget_stops_before_any_call(
    week: dict[date, RawDay], catalog: Catalog, server: AnthropicServer
) -> None:
    cost = estimate(week, catalog, MODEL, load_prices()).cost_usd
    backend = claude(server, budget_usd=cost * 0.9)
    with pytest.raises(BudgetExceeded, match=r"for 7 days .* exceeds KPI_LLM_BUDGET_USD"):
        check_run_budget(week, catalog, backend)
    assert sum(server.requests.values()) == 0


def test_a_run_within_the_budget_is_checked_then_runs_within_it(
    week: dict[date, RawDay], catalog: Catalog, server: AnthropicServer, tmp_path: Path
) -> None:
    backend = claude(server, ResponseCache(tmp_path), budget_usd=1.0)
    checked = check_run_budget(week, catalog, backend)
    assert checked is not None and 0 < checked.cost_usd < 1.0
    extract_days(week, catalog, backend)
    assert backend.spend.spent_usd == pytest.approx(checked.cost_usd, rel=0.2)
    again = check_run_budget(week, catalog, claude(server, ResponseCache(tmp_path), budget_usd=0.0))
    assert again is not None and again.calls == 0  # a rerun answered by the response cache fits any budget


def test_there_is_nothing_to_check_offline_or_without_a_budget(
    week: dict[date, RawDay], catalog: Catalog, server: AnthropicServer
) -> None:
    assert check_run_budget(week, catalog, OfflineBackend()) is None
    assert check_run_budget(week, catalog, claude(server)) is None


# -- while running --------------------------------------------------------------------------------------------


def test_calls_stop_before_the_actual_spend_would_pass_the_budget(
    week: dict[date, RawDay], catalog: Catalog, server: AnthropicServer
) -> None:
    planned_run = estimate(week, catalog, MODEL, load_prices())
    budget = planned_run.cost_usd * 0.4  # as if the estimate had been far too low
    backend = claude(server, budget_usd=budget, max_concurrency=2)
    with pytest.raises(BudgetExceeded, match=r"would take this run past KPI_LLM_BUDGET_USD"):
        extract_days(week, catalog, backend)  # raises: no day's extraction is returned to be written
    assert 0 < server.message_requests == backend.spend.calls < planned_run.calls
    # it stopped when what was left could not pay for one more call; the calls already in flight may bill a
    # little more than their estimate, so the spend lands close to the budget on either side
    assert budget * 0.85 < backend.spend.spent_usd < budget * 1.05


def test_a_batch_that_would_pass_the_budget_is_never_submitted(
    dataset: Path, catalog: Catalog, server: AnthropicServer
) -> None:
    fortnight = raw_days_from_sources(*demo_sources(dataset), demo_days(14))
    planned_run = estimate(fortnight, catalog, MODEL, load_prices(), batch_min_days=14)
    assert planned_run.batch
    backend = claude(server, budget_usd=planned_run.cost_usd * 0.8, batch_min_days=14)
    with pytest.raises(BudgetExceeded, match=rf"a message batch of {planned_run.calls} requests"):
        extract_days(fortnight, catalog, backend)
    assert sum(server.requests.values()) == 0


def test_a_range_checked_chunk_by_chunk_is_estimated_as_the_sum_of_its_chunks(
    week: dict[date, RawDay], catalog: Catalog, server: AnthropicServer
) -> None:
    days = sorted(week)
    read: list[int] = []

    def chunk(part: list[date]) -> dict[date, RawDay]:
        read.append(len(part))
        return {d: week[d] for d in part}

    whole = check_run_budget(week, catalog, claude(server, budget_usd=100.0))
    chunked = check_range_budget((chunk(p) for p in (days[:3], days[3:])), catalog, claude(server, budget_usd=100.0))
    assert whole is not None and chunked is not None and read == [3, 4]
    assert (chunked.days, chunked.requests, chunked.calls, chunked.usage) == (
        7,
        whole.requests,
        whole.calls,
        whole.usage,
    )
    assert chunked.cost_usd_sync == pytest.approx(whole.cost_usd_sync)
    assert check_range_budget((chunk(p) for p in (days[:3], days[3:])), catalog, OfflineBackend()) is None
    assert read == [3, 4]  # no budget to check: the chunks are not even read
    assert sum(server.requests.values()) == 0
