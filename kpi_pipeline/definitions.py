"""The one Definitions object: assets, checks, resources, schedules.

Configuration comes from environment variables (see README "Configuration"); unset ones fall back to
the embedded demo: DuckDB under data/, the demo company's dataset, the offline extractor.
"""

from __future__ import annotations

import os

from dagster import Definitions, in_process_executor, load_assets_from_modules

from kpi_pipeline import checks, settings
from kpi_pipeline.assets import dashboard, extract, ingest, publish
from kpi_pipeline.orchestration.schedules import build_daily_schedule, daily_kpi_job
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource

dataset = settings.dataset_dir()


resources = {
    "warehouse": WarehouseResource(url=settings.env_or("KPI_WAREHOUSE_URL", settings.DEFAULT_WAREHOUSE_URL)),
    "catalog": CatalogResource(path=settings.env_or("KPI_CATALOG", str(settings.catalog_path()))),
    "slack": SlackSource(
        source=settings.env_or("KPI_SLACK_SOURCE", str(dataset / "slack")),
        from_dataset=not os.environ.get("KPI_SLACK_SOURCE"),
        token=settings.optional_env("SLACK_BOT_TOKEN"),
        api_url=settings.optional_env("SLACK_API_URL"),
        max_file_mb=settings.env_int("KPI_MAX_SOURCE_FILE_MB", 100),
    ),
    "jira": JiraSource(
        source=settings.env_or("KPI_JIRA_SOURCE", str(dataset / "jira")),
        from_dataset=not os.environ.get("KPI_JIRA_SOURCE"),
        url=settings.optional_env("JIRA_URL"),
        email=settings.optional_env("JIRA_EMAIL"),
        api_token=settings.optional_env("JIRA_API_TOKEN"),
        jql=settings.optional_env("JIRA_JQL"),
        state_dir=settings.env_or("KPI_JIRA_STATE_DIR", "data/jira_state"),
    ),
    "docs": DocsSource(
        source=settings.env_or("KPI_DOCS_SOURCE", str(dataset / "docs")),
        from_dataset=not os.environ.get("KPI_DOCS_SOURCE"),
    ),
    "llm": LlmResource(
        backend=settings.optional_env("KPI_LLM_BACKEND"),
        api_key=settings.optional_env("ANTHROPIC_API_KEY"),
        base_url=settings.optional_env("ANTHROPIC_BASE_URL"),
        model=settings.optional_env("KPI_LLM_MODEL"),
        batch_min_days=settings.env_int("KPI_LLM_BATCH_MIN_DAYS", 14),
        max_concurrency=settings.env_int("KPI_LLM_MAX_CONCURRENCY", 4),
        requests_per_minute=settings.env_int("KPI_LLM_REQUESTS_PER_MINUTE", 50),
        input_tokens_per_minute=settings.env_int("KPI_LLM_INPUT_TOKENS_PER_MINUTE", 30_000),
        budget_usd=settings.optional_env("KPI_LLM_BUDGET_USD"),
        response_cache_dir=settings.env_or("KPI_LLM_RESPONSE_CACHE_DIR", "data/llm_cache"),
    ),
}

defs = Definitions(
    assets=load_assets_from_modules([ingest, extract, publish, dashboard]),
    asset_checks=[checks.metric_values_quality_gate],
    resources=resources,
    jobs=[daily_kpi_job],
    schedules=[build_daily_schedule()],
    # one process per run: steps are short and sequential anyway (DuckDB has one writer), while a process
    # per step would pay several seconds of imports each on a small machine
    executor=in_process_executor,
)
