"""AnthropicBackend against the local Anthropic server through the real SDK (strict response validation).

Waits are injected (`sleep` records instead of sleeping), so retry and polling tests run in milliseconds
and can assert exactly how long the backend chose to wait.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from kpi_pipeline.catalog import Catalog, Metric, parse_catalog
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend, LlmUnavailableError, validate_answers
from kpi_pipeline.extraction.cost import PRICES_PATH, BudgetExceeded, PriceTable, load_prices
from kpi_pipeline.extraction.llm_config import DEFAULT_BATCH_MIN_DAYS, LlmConfigError, uses_batch
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.prompts import parse_request, request_hash, split_metrics
from kpi_pipeline.extraction.ratelimit import RateLimiter
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.extraction.schema import (
    NOT_READ_PREFIX,
    PROMPT_VERSION,
    Evidence,
    ExtractionRequest,
    ExtractionResponse,
    ExtractionResult,
    MetricAnswer,
    SourceDoc,
    UnreadAnswer,
)
from kpi_pipeline.testing.anthropic_server import AnthropicServer, serve_anthropic

KEY = "sk-ant-test-key"
MODEL = "claude-sonnet-5-5"
DAY = date(2026, 7, 1)

CATALOG: Catalog = parse_catalog(
    {
        "metrics": [
            {
                "id": "api_error_rate",
                "description": "Share of production API requests that failed, in percent",
                "unit": "percent",
                "aliases": ["error rate"],
                "validation": {"min": 0, "max": 100},
            },
            {"id": "p95_latency_ms", "description": "95th percentile API latency", "unit": "ms", "aliases": ["p95"]},
            {"id": "signups", "description": "New accounts created that day", "unit": "count"},
        ]
    }
)


def source(n: int, text: str, day: date = DAY) -> SourceDoc:
    return SourceDoc("slack", f"slack:C1:{n}.0", text, datetime(day.year, day.month, day.day, 9 + n, tzinfo=UTC))


SOURCES = (
    source(1, "After the hotfix the API error rate dropped to 3.2% today."),
    source(2, "p95 latency is 420 ms, the target is 300 ms."),
    source(3, "Lunch is at noon."),
)


def request(
    metric_ids: tuple[str, ...] = ("api_error_rate", "p95_latency_ms", "signups"), day: date = DAY
) -> ExtractionRequest:
    return ExtractionRequest(day, "slack", metric_ids, SOURCES)


def values(result: ExtractionResult) -> dict[str, float | None]:
    return {a.metric_id: a.value for a in result.answers}


def hash_of(req: ExtractionRequest) -> str:
    return request_hash(MODEL, PROMPT_VERSION, req, split_metrics(req, CATALOG.metrics)[0])


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with serve_anthropic(api_key=KEY) as running:
        yield running


def asked_on_the_wire(log: list[tuple[str, ...]]) -> httpx2.Client:
    """An HTTP client for the SDK that appends the metric ids each message (or batch item) it sends asks."""

    def record(sent: httpx2.Request) -> None:
        if sent.method != "POST" or sent.url.path not in ("/v1/messages", "/v1/messages/batches"):
            return
        body = json.loads(sent.content)
        for params in [item["params"] for item in body["requests"]] if "requests" in body else [body]:
            log.append(parse_request(params["messages"])[0].metric_ids)

    return anthropic.DefaultHttpxClient(event_hooks={"request": [record]})


class Backend:
    """A backend wired to the server, recording every wait it asks for and the metrics each call asks."""

    def __init__(self, server: AnthropicServer, *, key: str = KEY, model: str = MODEL, **options: Any) -> None:
        self.sleeps: list[float] = []
        self.asked: list[tuple[str, ...]] = []
        client = anthropic.Anthropic(
            api_key=key,
            base_url=server.base_url,
            max_retries=0,
            _strict_response_validation=True,
            http_client=asked_on_the_wire(self.asked),
        )
        options.setdefault("prices", load_prices())
        options.setdefault("cache", None)
        options.setdefault("limiter", None)
        self.backend = AnthropicBackend(
            client,
            model,
            options.pop("prices"),
            options.pop("cache"),
            options.pop("limiter"),
            sleep=self.sleeps.append,
            jitter=lambda: 1.0,
            **options,
        )

    def extract(
        self, requests: list[ExtractionRequest], catalog: Catalog = CATALOG, **kwargs: Any
    ) -> list[ExtractionResult]:
        return self.backend.extract(requests, catalog, **kwargs)


# -- answers, usage and cost ----------------------------------------------------------------------------------


def test_claude_through_the_local_server_gives_the_offline_extractors_values(server: AnthropicServer) -> None:
    (result,) = Backend(server).extract([request()])
    (offline,) = OfflineBackend().extract([request()], CATALOG)
    assert values(result) == values(offline) == {"api_error_rate": 3.2, "p95_latency_ms": 420.0, "signups": None}
    assert [a.evidence for a in result.answers] == [a.evidence for a in offline.answers]
    assert (result.backend, result.model, result.stop_reason, result.batch) == ("anthropic", MODEL, "end_turn", False)


def test_usage_and_cost_are_recorded_from_the_response(server: AnthropicServer) -> None:
    (result,) = Backend(server).extract([request()])
    usage = result.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.cache_creation_input_tokens > 0 and usage.cache_read_input_tokens == 0
    assert result.cost_usd == pytest.approx(load_prices().cost_usd(MODEL, usage)) and result.cost_usd > 0
    assert result.latency_ms > 0 and not result.response_cache_hit


def test_the_second_call_of_a_day_reads_the_sources_from_the_prompt_cache(server: AnthropicServer) -> None:
    backend = Backend(server)
    (first,) = backend.extract([request(("api_error_rate",))])
    (second,) = backend.extract([request(("p95_latency_ms", "signups"))])
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens > 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.cost_usd < first.cost_usd


def test_an_identical_request_is_answered_from_the_response_cache_without_a_call(
    server: AnthropicServer, tmp_path: Path
) -> None:
    backend = Backend(server, cache=ResponseCache(tmp_path))
    (first,) = backend.extract([request()])
    calls = server.message_requests
    (again,) = Backend(server, cache=ResponseCache(tmp_path)).extract([request()])
    assert server.message_requests == calls == 1
    assert again.response_cache_hit and again.cost_usd == 0 and again.usage.input_tokens == 0
    assert again.answers == first.answers and again.request_hash == first.request_hash


def test_a_request_asks_only_the_metrics_the_cache_cannot_answer(server: AnthropicServer, tmp_path: Path) -> None:
    Backend(server, cache=ResponseCache(tmp_path)).extract([request(("api_error_rate",))])
    backend = Backend(server, cache=ResponseCache(tmp_path))
    (merged,) = backend.extract([request()])
    assert backend.asked == [("p95_latency_ms", "signups")]
    assert values(merged) == {"api_error_rate": 3.2, "p95_latency_ms": 420.0, "signups": None}
    assert not merged.response_cache_hit and merged.cost_usd > 0
    assert merged.usage.cache_read_input_tokens > 0  # the same sources prefix as the first call


def test_answers_stay_cached_when_the_catalog_grows(server: AnthropicServer, tmp_path: Path) -> None:
    (first,) = Backend(server, cache=ResponseCache(tmp_path)).extract([request()])
    grown = CATALOG.model_copy(
        update={"metrics": (*CATALOG.metrics, Metric(id="churn", description="Customers lost", unit="percent"))}
    )
    backend = Backend(server, cache=ResponseCache(tmp_path))
    (again,) = backend.extract([request()], grown)
    assert again.response_cache_hit and again.cost_usd == 0 and backend.asked == []
    assert again.answers == first.answers


def test_concurrent_requests_overlap_and_come_back_in_order(server: AnthropicServer) -> None:
    server.faults.latency_s = 1.0  # long enough that calls overlap even on a loaded machine
    requests = [request(day=date(2026, 7, d)) for d in range(1, 5)]
    results = Backend(server, max_concurrency=4).extract(requests)
    assert server.max_in_flight >= 2
    expected = [hash_of(r) for r in requests]
    assert [r.request_hash for r in results] == expected


def test_the_rate_limiter_is_consulted_before_each_call(server: AnthropicServer) -> None:
    waits: list[float] = []
    limiter = RateLimiter(1, None, sleep=waits.append)
    Backend(server, limiter=limiter, max_concurrency=1).extract([request(day=date(2026, 7, d)) for d in (1, 2)])
    assert len(waits) == 1 and waits[0] > 50  # one request a minute: the second waits about a minute


class RecordingLimiter(RateLimiter):
    """The real limiter, frozen in time, recording what each call reserved and what it settled."""

    def __init__(self) -> None:
        super().__init__(None, None, clock=lambda: 0.0, sleep=lambda s: None)
        self.reserved: list[int] = []
        self.settled: list[tuple[int, int]] = []

    def acquire(self, input_tokens: int) -> float:
        self.reserved.append(input_tokens)
        return super().acquire(input_tokens)

    def settle(self, reserved_tokens: int, counted_tokens: int) -> None:
        self.settled.append((reserved_tokens, counted_tokens))
        super().settle(reserved_tokens, counted_tokens)


def test_the_limiter_reserves_what_the_api_counts_cache_writes_but_not_cache_reads(server: AnthropicServer) -> None:
    limiter = RecordingLimiter()
    first, second = Backend(server, limiter=limiter, max_concurrency=1).extract(
        [request(("api_error_rate",)), request(("p95_latency_ms",))]  # same sources: one cached prefix
    )
    assert first.usage.cache_creation_input_tokens > 0 and second.usage.cache_read_input_tokens > 0
    assert limiter.reserved == [
        first.usage.input_tokens + first.usage.cache_creation_input_tokens,
        second.usage.input_tokens,  # the prefix it reads from the cache does not count
    ]
    assert limiter.settled == [(n, n) for n in limiter.reserved]  # the estimate was what the server counted


def test_a_request_refused_with_429_gives_its_tokens_back_before_the_retry(server: AnthropicServer) -> None:
    server.faults.rate_limited = 1
    limiter = RecordingLimiter()
    (result,) = Backend(server, limiter=limiter).extract([request()])
    counted = result.usage.input_tokens + result.usage.cache_creation_input_tokens
    assert limiter.reserved == [counted, counted]  # the refused attempt, then the retry
    assert limiter.settled == [(counted, 0), (counted, counted)]


def test_an_exhausted_request_limit_holds_the_next_call_until_the_reset_capped(server: AnthropicServer) -> None:
    server.faults.rpm = 1
    limiter = RateLimiter(None, None, clock=lambda: 0.0, sleep=lambda s: None)
    Backend(server, limiter=limiter, retry_after_cap_s=20).extract([request()])
    assert limiter.acquire(0) == 20.0  # the answer said 0 left, replenished in a minute: wait, at most the cap


# -- transient errors -----------------------------------------------------------------------------------------


def test_a_huge_retry_after_is_capped(server: AnthropicServer) -> None:
    server.faults.rate_limited, server.faults.retry_after_s = 2, 3600
    backend = Backend(server, retry_after_cap_s=30)
    (result,) = backend.extract([request()])
    assert backend.sleeps == [30.0, 30.0]
    assert values(result)["api_error_rate"] == 3.2 and server.message_requests == 3


def test_a_burst_of_529_overloaded_is_retried_with_exponential_backoff(server: AnthropicServer) -> None:
    server.faults.overloaded = 3
    backend = Backend(server, backoff_base_s=1.0)
    (result,) = backend.extract([request()])
    assert backend.sleeps == [1.0, 2.0, 4.0]
    assert values(result)["api_error_rate"] == 3.2


def test_backoff_jitter_spreads_waits_below_the_exponential_step(server: AnthropicServer) -> None:
    server.faults.overloaded = 1
    backend = Backend(server, backoff_base_s=2.0)
    backend.backend._jitter = lambda: 0.0
    backend.extract([request()])
    assert backend.sleeps == [1.0]  # half of the 2 s step at zero jitter


def test_transient_errors_past_the_attempt_budget_raise(server: AnthropicServer) -> None:
    server.faults.overloaded = 10
    with pytest.raises(LlmUnavailableError, match="after 3 attempts"):
        Backend(server, max_attempts=3).extract([request()])
    assert server.message_requests == 3


def test_sdk_retries_are_disabled_even_when_the_client_allows_them(server: AnthropicServer) -> None:
    server.faults.overloaded = 10
    client = anthropic.Anthropic(api_key=KEY, base_url=server.base_url, max_retries=5)
    backend = AnthropicBackend(client, MODEL, load_prices(), None, None, max_attempts=2, sleep=lambda s: None)
    with pytest.raises(LlmUnavailableError):
        backend.extract([request()], CATALOG)
    assert server.message_requests == 2


# -- fatal errors ---------------------------------------------------------------------------------------------


def test_a_wrong_key_fails_at_once_pointing_at_the_key(server: AnthropicServer) -> None:
    with pytest.raises(LlmConfigError, match=r"401.*check ANTHROPIC_API_KEY"):
        Backend(server, key="sk-ant-wrong").extract([request()])
    assert server.message_requests == 1


def test_a_fatal_error_stops_the_calls_not_yet_started(server: AnthropicServer) -> None:
    requests = [request(day=date(2026, 7, d)) for d in range(1, 11)]
    with pytest.raises(LlmConfigError):
        Backend(server, key="sk-ant-wrong", max_concurrency=2).extract(requests)
    assert server.message_requests < len(requests)


def test_an_unknown_model_fails_at_once_pointing_at_the_model_setting(server: AnthropicServer, tmp_path: Path) -> None:
    prices_file = tmp_path / "prices.yaml"
    prices_file.write_text(PRICES_PATH.read_text() + "  claude-3-5-sonnet-20240620: {input: 3, output: 15}\n")
    prices: PriceTable = load_prices(prices_file)
    with pytest.raises(LlmConfigError, match=r"404.*check KPI_LLM_MODEL"):
        Backend(server, model="claude-3-5-sonnet-20240620", prices=prices).extract([request()])
    assert server.message_requests == 1


def test_a_bad_request_fails_at_once_with_the_apis_message(server: AnthropicServer) -> None:
    server.faults.context_window_tokens = 50
    with pytest.raises(LlmConfigError, match=r"400\): prompt is too long"):
        Backend(server).extract([request()])
    assert server.message_requests == 1


def test_an_unpriced_model_is_refused_before_any_call(server: AnthropicServer) -> None:
    with pytest.raises(ValueError, match=r"prices\.yaml"):
        Backend(server, model="claude-mythos-5-2")
    assert server.message_requests == 0


# -- outputs that are not answers -----------------------------------------------------------------------------


def abstained(result: ExtractionResult) -> list[str]:
    """The reasons of the answers that were not read: marked by their class (unread, not a model's null)."""
    assert all(a.value is None and a.confidence == 0 for a in result.answers)
    unread = [a for a in result.answers if isinstance(a, UnreadAnswer)]
    assert all(a.reasoning.startswith(NOT_READ_PREFIX) for a in unread)
    return [a.reasoning for a in unread]


def test_malformed_json_is_retried_once(server: AnthropicServer) -> None:
    server.faults.malformed = 1
    (result,) = Backend(server).extract([request()])
    assert values(result)["api_error_rate"] == 3.2 and server.message_requests == 2


def test_malformed_json_twice_abstains_with_the_reason_and_is_not_cached(
    server: AnthropicServer, tmp_path: Path
) -> None:
    server.faults.malformed = 2
    (result,) = Backend(server, cache=ResponseCache(tmp_path)).extract([request()])
    reasons = abstained(result)
    assert len(reasons) == 3 and "did not match the answer schema" in reasons[0]
    assert result.usage.output_tokens > 0  # both paid attempts are accounted for
    (retry,) = Backend(server, cache=ResponseCache(tmp_path)).extract([request()])
    assert not retry.response_cache_hit and values(retry)["api_error_rate"] == 3.2


def test_truncated_output_is_retried_with_more_max_tokens(server: AnthropicServer) -> None:
    server.faults.truncated = 1
    (result,) = Backend(server).extract([request()])
    assert values(result)["p95_latency_ms"] == 420.0 and server.message_requests == 2


def test_output_truncated_twice_is_never_read_as_a_value(server: AnthropicServer) -> None:
    (result,) = Backend(server, max_tokens=10).extract([request()])  # too small even when doubled
    reasons = abstained(result)
    assert len(reasons) == 3 and "truncated at max_tokens=20" in reasons[0]
    assert result.stop_reason == "max_tokens" and server.message_requests == 2


def test_a_refusal_abstains_with_the_reason_without_retrying(server: AnthropicServer) -> None:
    server.faults.refusals = 1
    (result,) = Backend(server).extract([request()])
    reasons = abstained(result)
    assert len(reasons) == 3 and "refused" in reasons[0] and "told to refuse" in reasons[0]
    assert result.stop_reason == "refusal" and server.message_requests == 1


# -- checks the API does not enforce --------------------------------------------------------------------------


def answer(metric_id: str, value: float | None, *source_ids: str) -> MetricAnswer:
    evidence = [Evidence(source_id=s, quote="3.2%") for s in source_ids]
    return MetricAnswer(metric_id=metric_id, value=value, confidence=0.9, evidence=evidence)


def test_evidence_citing_a_source_outside_the_request_is_dropped_and_noted() -> None:
    req = request(("api_error_rate",))
    response = ExtractionResponse(answers=[answer("api_error_rate", 3.2, "slack:C1:1.0", "slack:C9:invented")])
    (checked,) = validate_answers(response, req, [CATALOG.metric("api_error_rate")])
    assert [e.source_id for e in checked.evidence] == ["slack:C1:1.0"]
    assert "slack:C9:invented" in checked.reasoning and checked.value == 3.2


def test_every_requested_metric_gets_exactly_one_answer_in_order() -> None:
    req = request(("api_error_rate", "signups"))
    response = ExtractionResponse(
        answers=[answer("signups", 10), answer("signups", 99), answer("churn", 1.0), answer("unrelated", 2.0)]
    )
    checked = validate_answers(response, req, [CATALOG.metric("api_error_rate"), CATALOG.metric("signups")])
    assert [(a.metric_id, a.value) for a in checked] == [("api_error_rate", None), ("signups", 10)]
    assert isinstance(checked[0], UnreadAnswer) and checked[0].reasoning.startswith(NOT_READ_PREFIX)


def test_a_non_finite_value_is_not_an_answer() -> None:
    response = ExtractionResponse(answers=[answer("signups", float("inf"))])
    (checked,) = validate_answers(response, request(("signups",)), [CATALOG.metric("signups")])
    assert checked.value is None and "non-finite" in checked.reasoning


# -- Message Batches ------------------------------------------------------------------------------------------


def batch_requests(n: int) -> list[ExtractionRequest]:
    return [request(day=date(2026, 7, d)) for d in range(1, n + 1)]


def test_a_batch_answers_like_single_calls_at_half_the_price(server: AnthropicServer) -> None:
    (single,) = Backend(server).extract([request(day=date(2026, 8, 1))])
    with serve_anthropic(api_key=KEY) as fresh:  # a cold prompt cache, as for the single call
        (batched,) = Backend(fresh).extract([request(day=date(2026, 8, 1))], batch=True)
    assert batched.batch and values(batched) == values(single)
    assert batched.usage == single.usage
    assert batched.cost_usd == pytest.approx(single.cost_usd / 2)


def test_a_run_over_batch_min_days_distinct_days_uses_one_message_batch(server: AnthropicServer) -> None:
    results = Backend(server, batch_min_days=3).extract(batch_requests(3))
    assert all(r.batch for r in results) and server.message_requests == 0
    assert server.requests["POST /v1/messages/batches"] == 1
    assert [values(r)["api_error_rate"] for r in results] == [3.2, 3.2, 3.2]


def test_many_requests_on_fewer_days_than_batch_min_days_are_sent_one_by_one(server: AnthropicServer) -> None:
    same_days = [request((metric_id,), day=date(2026, 7, d)) for d in (1, 2) for metric_id in CATALOG.metric_ids]
    results = Backend(server, batch_min_days=3).extract(same_days)
    assert not any(r.batch for r in results) and server.message_requests == len(same_days) == 6
    assert server.requests["POST /v1/messages/batches"] == 0


def test_the_default_batches_a_quarter_but_not_a_week() -> None:
    quarter = [date(2026, 7, 1) + timedelta(days=i) for i in range(92)]
    assert DEFAULT_BATCH_MIN_DAYS == 14
    assert uses_batch(quarter, DEFAULT_BATCH_MIN_DAYS) and not uses_batch(quarter[:7] * 3, DEFAULT_BATCH_MIN_DAYS)
    assert not uses_batch(quarter, None) and not uses_batch(quarter, 0)


def test_batch_polling_backs_off(server: AnthropicServer) -> None:
    server.faults.batch_polls_in_progress = 2  # the create answer and two polls say in_progress
    backend = Backend(server, batch_poll_initial_s=5, batch_poll_max_s=15)
    backend.extract(batch_requests(1), batch=True)
    assert backend.sleeps == [5, 10, 15]


def test_errored_and_expired_batch_items_are_resubmitted(server: AnthropicServer) -> None:
    server.faults.batch_errored, server.faults.batch_expired = 1, 1
    results = Backend(server).extract(batch_requests(4), batch=True)
    assert [values(r)["api_error_rate"] for r in results] == [3.2] * 4
    assert server.requests["POST /v1/messages/batches"] == 2
    expected = [hash_of(r) for r in batch_requests(4)]
    assert [r.request_hash for r in results] == expected  # joined on custom_id, in request order


def test_batch_items_that_keep_failing_are_reported_not_dropped(server: AnthropicServer) -> None:
    server.faults.batch_errored, server.faults.batch_expired = 2, 10
    results = Backend(server, batch_max_resubmits=1).extract(batch_requests(3), batch=True)
    assert len(results) == 3 and server.requests["POST /v1/messages/batches"] == 2
    reasons = [abstained(r)[0] for r in results]
    assert all("after 2 submissions" in r for r in reasons)
    assert any("expired" in r for r in reasons)


def test_a_truncated_batch_item_is_resubmitted_with_more_max_tokens(server: AnthropicServer) -> None:
    server.faults.truncated = 1
    (result,) = Backend(server).extract(batch_requests(1), batch=True)
    assert values(result)["api_error_rate"] == 3.2 and server.requests["POST /v1/messages/batches"] == 2


def test_batch_results_fill_the_response_cache(server: AnthropicServer, tmp_path: Path) -> None:
    Backend(server, cache=ResponseCache(tmp_path)).extract(batch_requests(2), batch=True)
    again = Backend(server, cache=ResponseCache(tmp_path)).extract(batch_requests(2), batch=True)
    assert all(r.response_cache_hit for r in again) and server.requests["POST /v1/messages/batches"] == 1


# -- budget -----------------------------------------------------------------------------------------------


def cost_of_one_call() -> float:
    with serve_anthropic(api_key=KEY) as fresh:
        (result,) = Backend(fresh).extract([request()])
    return result.cost_usd


def test_the_run_stops_before_the_call_that_would_exceed_the_budget(server: AnthropicServer, tmp_path: Path) -> None:
    with serve_anthropic(api_key=KEY) as fresh:  # the first call writes the catalog prefix, later days read it
        first, later = Backend(fresh, max_concurrency=1).extract(batch_requests(2))
    budget = first.cost_usd + 1.5 * later.cost_usd
    backend = Backend(server, cache=ResponseCache(tmp_path), budget_usd=budget, max_concurrency=1)
    with pytest.raises(BudgetExceeded, match=r"past KPI_LLM_BUDGET_USD=\$0\.\d\d.*raise the budget"):
        backend.extract(batch_requests(5))
    assert server.message_requests == backend.backend.spend.calls == 2
    assert 0 < backend.backend.spend.spent_usd <= budget
    rerun = Backend(server, cache=ResponseCache(tmp_path), budget_usd=10 * budget)
    results = rerun.extract(batch_requests(5))
    assert [r.response_cache_hit for r in results] == [True, True, False, False, False]  # paid answers kept


def test_a_batch_over_the_budget_is_never_submitted(server: AnthropicServer) -> None:
    backend = Backend(server, budget_usd=cost_of_one_call())  # five requests at half price cost more than one
    with pytest.raises(BudgetExceeded, match="a message batch of 5 requests"):
        backend.extract(batch_requests(5), batch=True)
    assert server.requests["POST /v1/messages/batches"] == 0 and backend.backend.spend.spent_usd == 0


def test_a_run_within_the_budget_records_what_it_spent(server: AnthropicServer) -> None:
    backend = Backend(server, budget_usd=1.0)
    results = backend.extract(batch_requests(3))
    assert backend.backend.spend.spent_usd == pytest.approx(sum(r.cost_usd for r in results))
    assert backend.backend.spend.calls == 3
