"""The LLM as a Dagster resource: which extraction backend runs, and how Claude is called.

Without an API key the pipeline still runs end to end on the offline extractor, and says so once, so a
missing key is visible rather than a silent downgrade. The key is only handed to the SDK, never logged.
"""

from __future__ import annotations

from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field

from kpi_pipeline.extraction.cost import parse_budget
from kpi_pipeline.extraction.llm_config import DEFAULT_BATCH_MIN_DAYS, DEFAULT_MODEL, LlmConfigError
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.response_cache import DEFAULT_CACHE_DIR
from kpi_pipeline.extraction.schema import ExtractionBackend

BACKENDS = ("anthropic", "offline")


class LlmResource(ConfigurableResource):
    """`KPI_LLM_BACKEND` (anthropic | offline; default anthropic when `ANTHROPIC_API_KEY` is set),
    `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (e.g. the local test server), `KPI_LLM_MODEL`,
    `KPI_LLM_BATCH_MIN_DAYS`, `KPI_LLM_BUDGET_USD`."""

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

        client = anthropic.Anthropic(api_key=self.api_key, base_url=self.base_url or None, max_retries=0)
        return AnthropicBackend(
            client,
            self.model or DEFAULT_MODEL,
            load_prices(),
            ResponseCache(self.response_cache_dir),
            RateLimiter(self.requests_per_minute, self.input_tokens_per_minute),
            max_concurrency=self.max_concurrency,
            batch_min_days=self.batch_min_days or None,
            budget_usd=parse_budget(self.budget_usd),
        )
