"""The LLM as a Dagster resource: which extraction backend runs, and how Claude is called.

Without an API key the pipeline still runs end to end on the offline extractor, and says so once, so a
missing key is visible rather than a silent downgrade. The key is only handed to the SDK, never logged.

Paid-for answers are cached per endpoint, under `<response_cache_dir>/<endpoint>/` (`api.anthropic.com`,
`127.0.0.1_8765`, ...): the cache key names the model, prompt and sources but not the server, so without
this an answer from one server (a local test server, a proxy) would be served as another server's answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field

from kpi_pipeline.extraction.cost import parse_budget
from kpi_pipeline.extraction.llm_config import DEFAULT_BATCH_MIN_DAYS, DEFAULT_MODEL, LlmConfigError
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.response_cache import DEFAULT_CACHE_DIR
from kpi_pipeline.extraction.schema import ExtractionBackend

BACKENDS = ("anthropic", "offline")
DEFAULT_BASE_URL = "https://api.anthropic.com"


def endpoint_dir_name(base_url: str) -> str:
    """A folder name for the server a base URL names: its host, port and path (`127.0.0.1_8765`)."""
    parts = urlsplit(base_url.strip())
    return re.sub(r"[^a-z0-9.-]+", "_", f"{parts.netloc}{parts.path}".lower()).strip("_") or "default"


class LlmResource(ConfigurableResource):
    """`KPI_LLM_BACKEND` (anthropic | offline; default anthropic when `ANTHROPIC_API_KEY` is set),
    `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (e.g. the local test server), `KPI_LLM_MODEL`,
    `KPI_LLM_BATCH_MIN_DAYS`, `KPI_LLM_BUDGET_USD`, `KPI_LLM_RESPONSE_CACHE_DIR` (built by
    `settings.llm_resource`)."""

    backend: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    model: str | None = None
    max_concurrency: int = 4
    requests_per_minute: int = 50
    input_tokens_per_minute: int = 30_000
    response_cache_dir: str = DEFAULT_CACHE_DIR
    # a run whose uncached requests span this many distinct days goes through one Message Batch; 0: never
    batch_min_days: int = DEFAULT_BATCH_MIN_DAYS
    # dollars one run may spend (unset: no limit). A string because Dagster resolves an EnvVar only into str
    # (and, through EnvVar.int, int) fields; it is parsed with an error naming the setting.
    budget_usd: str | None = None

    def backend_name(self) -> str:
        """The backend that will run: the explicit choice, else anthropic with a key, else offline."""
        if self.backend:
            choice = self.backend.strip().lower()
            if choice not in BACKENDS:
                raise LlmConfigError(f"KPI_LLM_BACKEND={self.backend!r} is not a backend: use anthropic or offline")
            return choice
        return "anthropic" if self.api_key else "offline"

    def endpoint(self) -> str:
        """The base URL the SDK is pointed at (the public API unless `ANTHROPIC_BASE_URL` says otherwise)."""
        return self.base_url or DEFAULT_BASE_URL

    def cache_dir(self) -> Path:
        """Where this endpoint's paid-for answers are kept: one folder per server under `response_cache_dir`."""
        return Path(self.response_cache_dir) / endpoint_dir_name(self.endpoint())

    def get_backend(self) -> ExtractionBackend:
        name = self.backend_name()
        if name == "offline":
            if not self.backend:
                get_dagster_logger().info(
                    "LLM backend: offline extractor, because ANTHROPIC_API_KEY is not set "
                    "(set it, or KPI_LLM_BACKEND=anthropic with a key, to extract with Claude)"
                )
            return OfflineBackend()
        if not self.api_key:
            raise LlmConfigError("KPI_LLM_BACKEND=anthropic needs ANTHROPIC_API_KEY: set it, or use offline")
        import anthropic  # here, not at the top: the offline path never pays for importing the SDK

        from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
        from kpi_pipeline.extraction.cost import load_prices
        from kpi_pipeline.extraction.ratelimit import RateLimiter
        from kpi_pipeline.extraction.response_cache import ResponseCache

        client = anthropic.Anthropic(api_key=self.api_key, base_url=self.endpoint(), max_retries=0)
        return AnthropicBackend(
            client,
            self.model or DEFAULT_MODEL,
            load_prices(),
            ResponseCache(self.cache_dir()),
            RateLimiter(self.requests_per_minute, self.input_tokens_per_minute),
            max_concurrency=self.max_concurrency,
            batch_min_days=self.batch_min_days or None,
            budget_usd=parse_budget(self.budget_usd),
        )
