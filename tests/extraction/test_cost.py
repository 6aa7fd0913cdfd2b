"""Cost accounting: prices come from prices.yaml; cache and batch multipliers apply as Anthropic bills them;
a run's spend is held to its budget."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from anthropic.types import ModelParam

from kpi_pipeline.extraction.cost import (
    EXPECTED_OUTPUT_TOKENS_PER_METRIC,
    OUTPUT_TOKENS_PER_CALL,
    PRICES_PATH,
    BudgetExceeded,
    PricingError,
    SpendGuard,
    expected_usage,
    load_prices,
    parse_budget,
)
from kpi_pipeline.extraction.llm_config import DEFAULT_MODEL
from kpi_pipeline.extraction.schema import LlmUsage

MILLION = 1_000_000
SDK_MODELS = set(typing.get_args(typing.get_args(ModelParam)[0]))


def test_input_and_output_tokens_cost_the_listed_price_per_million() -> None:
    prices = load_prices()
    assert prices.cost_usd("claude-sonnet-5-5", LlmUsage(input_tokens=MILLION)) == pytest.approx(2.0)
    assert prices.cost_usd("claude-sonnet-5-5", LlmUsage(output_tokens=MILLION)) == pytest.approx(10.0)
    assert prices.cost_usd("claude-haiku-5-5", LlmUsage(input_tokens=MILLION, output_tokens=MILLION)) == pytest.approx(
        0.6
    )
    assert prices.cost_usd("claude-opus-5-5", LlmUsage(output_tokens=MILLION)) == pytest.approx(20.0)


def test_cache_writes_cost_more_and_cache_reads_a_tenth() -> None:
    prices = load_prices()
    assert prices.cost_usd("claude-sonnet-5-5", LlmUsage(cache_creation_input_tokens=MILLION)) == pytest.approx(2.5)
    assert prices.cost_usd("claude-sonnet-5-5", LlmUsage(cache_read_input_tokens=MILLION)) == pytest.approx(0.2)


def test_batch_halves_every_token_kind() -> None:
    prices = load_prices()
    usage = LlmUsage(
        input_tokens=1000, cache_creation_input_tokens=2000, cache_read_input_tokens=3000, output_tokens=4000
    )
    assert prices.cost_usd("claude-opus-5-5", usage, batch=True) == pytest.approx(
        prices.cost_usd("claude-opus-5-5", usage) / 2
    )


def test_a_dated_snapshot_is_priced_as_its_model_but_a_different_model_is_not() -> None:
    prices = load_prices()
    assert prices.price("claude-haiku-5-5-20261101") == prices.price("claude-haiku-5-5")
    with pytest.raises(PricingError):
        prices.price("claude-haiku-5-5-fast")


def test_an_unpriced_model_fails_naming_prices_yaml() -> None:
    with pytest.raises(PricingError, match=r"prices\.yaml.*claude-mythos-5-2"):
        load_prices().price("claude-mythos-5-2")


def test_every_priced_model_and_the_default_model_are_names_the_sdk_lists() -> None:
    priced = set(load_prices().models)
    assert priced <= SDK_MODELS
    assert DEFAULT_MODEL in SDK_MODELS and DEFAULT_MODEL in priced


def test_a_bad_price_entry_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text(
        PRICES_PATH.read_text().replace("claude-opus-5-5: {input: 4.00", "claude-opus-5-5: {input: -4"), "utf-8"
    )
    with pytest.raises(PricingError, match=r"prices\.yaml: models\.claude-opus-5-5\.input"):
        load_prices(bad)


# -- budget -----------------------------------------------------------------------------------------------


def test_the_budget_setting_is_dollars_or_unset() -> None:
    assert parse_budget("25") == 25.0 and parse_budget(" 2.50 ") == 2.5 and parse_budget(0) == 0.0
    assert parse_budget(None) is None and parse_budget("") is None
    with pytest.raises(PricingError, match=r"KPI_LLM_BUDGET_USD='\$25' is not a number"):
        parse_budget("$25")
    with pytest.raises(PricingError, match="KPI_LLM_BUDGET_USD='-1' must be zero or more"):
        parse_budget("-1")


def test_the_guard_refuses_a_call_that_would_pass_the_budget_counting_calls_in_flight() -> None:
    guard = SpendGuard(1.0)
    first = guard.reserve(0.4)
    second = guard.reserve(0.4)
    with pytest.raises(BudgetExceeded, match=r"estimated \$0\.3000.*KPI_LLM_BUDGET_USD=\$1\.00.*\$0\.8000"):
        guard.reserve(0.3)  # 0.8 is in flight
    guard.settle(first, 0.1)
    guard.settle(second, 0.0, calls=0)  # failed before any answer: nothing billed
    assert guard.reserve(0.3) == 0.3 and guard.spent_usd == pytest.approx(0.1) and guard.calls == 1


def test_without_a_budget_the_guard_only_counts() -> None:
    guard = SpendGuard(None)
    guard.settle(guard.reserve(1e9), 5.0)
    assert guard.spent_usd == 5.0 and guard.calls == 1


def test_a_calls_expected_usage_bills_the_cache_split_it_is_given_and_output_by_asked_metric() -> None:
    first = expected_usage(200, 3, cache_read=0, cache_write=1000)
    later = expected_usage(200, 3, cache_read=600, cache_write=400)  # the catalog read, the day's sources written
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens, first.input_tokens) == (1000, 0, 200)
    assert (later.cache_creation_input_tokens, later.cache_read_input_tokens, later.input_tokens) == (400, 600, 200)
    assert first.output_tokens == later.output_tokens == OUTPUT_TOKENS_PER_CALL + 3 * EXPECTED_OUTPUT_TOKENS_PER_METRIC
