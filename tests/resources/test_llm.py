"""LlmResource: picks the backend from the environment and wires Claude to prices, cache and limits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dagster import EnvVar, build_resources

from kpi_pipeline import settings
from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
from kpi_pipeline.extraction.cost import PricingError
from kpi_pipeline.extraction.llm_config import DEFAULT_MODEL, LlmConfigError
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.schema import ExtractionRequest, SourceDoc
from kpi_pipeline.resources.llm import LlmResource, endpoint_dir_name
from kpi_pipeline.testing.anthropic_server import AnthropicServer, serve_anthropic

KEY = "sk-ant-resource-test"
CATALOG = parse_catalog({"metrics": [{"id": "signups", "description": "New accounts that day", "unit": "count"}]})
REQUEST = ExtractionRequest(
    date(2026, 7, 1),
    "docs",
    ("signups",),
    (SourceDoc("docs", "docs:status.md@1", "Signups: 120 new accounts today.", datetime(2026, 7, 1, tzinfo=UTC)),),
)


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with serve_anthropic(api_key=KEY) as running:
        yield running


def test_without_a_key_it_runs_offline_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        backend = LlmResource().get_backend()
    assert isinstance(backend, OfflineBackend)
    lines = [r.getMessage() for r in caplog.records if "LLM backend" in r.getMessage()]
    assert len(lines) == 1 and "ANTHROPIC_API_KEY is not set" in lines[0]


def test_with_a_key_it_extracts_with_claude_through_the_base_url(server: AnthropicServer, tmp_path: Path) -> None:
    resource = LlmResource(api_key=KEY, base_url=server.base_url, response_cache_dir=str(tmp_path))
    backend = resource.get_backend()
    assert isinstance(backend, AnthropicBackend) and backend.model == DEFAULT_MODEL
    (result,) = backend.extract([REQUEST], CATALOG)
    assert result.answers[0].value == 120 and server.message_requests == 1
    assert list(tmp_path.rglob("*.json")), "the response was not cached under response_cache_dir"


def test_the_key_is_never_logged(server: AnthropicServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        backend = LlmResource(api_key=KEY, base_url=server.base_url, response_cache_dir=str(tmp_path)).get_backend()
        backend.extract([REQUEST], CATALOG)
    assert KEY not in caplog.text


def test_settings_come_from_environment_variables(
    server: AnthropicServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("KPI_LLM_MODEL", "claude-haiku-5-5")
    llm = LlmResource(
        api_key=EnvVar("ANTHROPIC_API_KEY"),
        base_url=EnvVar("ANTHROPIC_BASE_URL"),
        model=EnvVar("KPI_LLM_MODEL"),
        response_cache_dir=str(tmp_path),
    )
    with build_resources({"llm": llm}) as resources:
        backend = resources.llm.get_backend()
    assert isinstance(backend, AnthropicBackend) and backend.model == "claude-haiku-5-5"
    assert backend.extract([REQUEST], CATALOG)[0].answers[0].value == 120


def test_an_explicit_offline_choice_wins_over_a_key() -> None:
    assert isinstance(LlmResource(backend="offline", api_key=KEY).get_backend(), OfflineBackend)


def test_an_unknown_backend_names_the_setting() -> None:
    with pytest.raises(LlmConfigError, match="KPI_LLM_BACKEND='claude'"):
        LlmResource(backend="claude").get_backend()


def test_anthropic_without_a_key_says_which_variable_to_set() -> None:
    with pytest.raises(LlmConfigError, match="needs ANTHROPIC_API_KEY"):
        LlmResource(backend="anthropic").get_backend()


def test_a_model_without_a_price_names_prices_yaml() -> None:
    with pytest.raises(PricingError, match=r"prices\.yaml"):
        LlmResource(api_key=KEY, model="claude-fable-5-2").get_backend()


def test_batch_min_days_and_budget_come_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_LLM_BATCH_MIN_DAYS", "30")
    monkeypatch.setenv("KPI_LLM_BUDGET_USD", "12.5")
    llm = LlmResource(
        api_key=KEY,
        batch_min_days=EnvVar.int("KPI_LLM_BATCH_MIN_DAYS"),
        budget_usd=EnvVar("KPI_LLM_BUDGET_USD"),
    )
    with build_resources({"llm": llm}) as resources:
        backend = resources.llm.get_backend()
    assert isinstance(backend, AnthropicBackend)
    assert (backend.batch_min_days, backend.budget_usd) == (30, 12.5)


def test_by_default_a_run_batches_from_14_days_with_no_budget() -> None:
    backend = LlmResource(api_key=KEY).get_backend()
    assert isinstance(backend, AnthropicBackend)
    assert (backend.batch_min_days, backend.budget_usd) == (14, None)
    never = LlmResource(api_key=KEY, batch_min_days=0).get_backend()
    assert isinstance(never, AnthropicBackend) and never.batch_min_days is None


def test_a_budget_that_is_not_dollars_names_the_setting() -> None:
    with pytest.raises(PricingError, match="KPI_LLM_BUDGET_USD='ten'"):
        LlmResource(api_key=KEY, budget_usd="ten").get_backend()


def test_answers_from_one_server_are_never_served_as_another_servers(tmp_path: Path) -> None:
    """The cache key names model, prompt and sources, not the server: each endpoint has its own folder."""
    with serve_anthropic(api_key=KEY) as first, serve_anthropic(api_key=KEY) as second:
        for server in (first, first, second):
            llm = LlmResource(api_key=KEY, base_url=server.base_url, response_cache_dir=str(tmp_path))
            assert llm.get_backend().extract([REQUEST], CATALOG)[0].answers[0].value == 120
        assert (first.message_requests, second.message_requests) == (1, 1)  # the rerun on `first` was cached
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == sorted(endpoint_dir_name(s.base_url) for s in (first, second))


def test_the_public_api_has_its_own_cache_folder_too() -> None:
    llm = LlmResource(api_key=KEY, response_cache_dir="cache")
    assert llm.endpoint() == "https://api.anthropic.com"
    assert llm.cache_dir() == Path("cache/api.anthropic.com")
    assert endpoint_dir_name("http://127.0.0.1:8765/") == "127.0.0.1_8765"
    assert endpoint_dir_name("https://Proxy.example.com/anthropic/v1") == "proxy.example.com_anthropic_v1"


def test_settings_build_the_llm_from_every_documented_variable(
    server: AnthropicServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": server.base_url,
        "KPI_LLM_MODEL": "claude-haiku-5-5",
        "KPI_LLM_BATCH_MIN_DAYS": "3",
        "KPI_LLM_MAX_CONCURRENCY": "2",
        "KPI_LLM_REQUESTS_PER_MINUTE": "7",
        "KPI_LLM_INPUT_TOKENS_PER_MINUTE": "9000",
        "KPI_LLM_BUDGET_USD": "1.5",
        "KPI_LLM_RESPONSE_CACHE_DIR": str(tmp_path / "answers"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KPI_LLM_BACKEND", raising=False)
    with build_resources({"llm": settings.llm_resource()}) as resources:
        llm = resources.llm
        backend = llm.get_backend()
    assert (llm.max_concurrency, llm.requests_per_minute, llm.input_tokens_per_minute) == (2, 7, 9000)
    assert isinstance(backend, AnthropicBackend)
    assert (backend.model, backend.batch_min_days, backend.budget_usd, backend.max_concurrency) == (
        "claude-haiku-5-5",
        3,
        1.5,
        2,
    )
    assert backend.cache.directory == tmp_path / "answers" / endpoint_dir_name(server.base_url)
    assert isinstance(settings.llm_resource(backend="offline").get_backend(), OfflineBackend)
