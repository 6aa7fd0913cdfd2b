"""Where configuration comes from: environment variables, with defaults for the embedded demo.

This is the one module that reads the pipeline's environment. `resource_defs()` turns it into the
resources `definitions.py`, `kpi-pipeline estimate` and `kpi-pipeline eval` all use, so a documented setting
reaches every command. A variable that is set is passed to resources as a Dagster `EnvVar`, so its value is
read at run time and secrets never land in run config. `KPI_DATASET` names a dataset folder (slack/, jira/,
docs/, metrics.yaml) and supplies every source default at once; explicit variables win over it.

Importing this module imports no Dagster (the CLI validates its arguments with it before Dagster loads).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpi_pipeline.resources.llm import LlmResource


class SettingError(ValueError):
    """An environment variable or instance setting a user must fix; the message names it and the fix."""


DEMO_DATASET = "data/demo"
DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"
DEFAULT_START_DATE = "2026-07-01"  # the demo quarter's first day


def env_or(name: str, default: str) -> str:
    """`EnvVar(name)` when the variable is set, else the default (resolved when definitions load)."""
    from dagster import EnvVar

    return EnvVar(name) if os.environ.get(name) else default


def env_int(name: str, default: int) -> int:
    """`EnvVar.int(name)` when the variable is set, else the default."""
    from dagster import EnvVar

    return EnvVar.int(name) if os.environ.get(name) else default


def optional_env(name: str) -> str | None:
    from dagster import EnvVar

    return EnvVar(name) if os.environ.get(name) else None


def warehouse_url() -> str:
    """`KPI_WAREHOUSE_URL`, else the demo's DuckDB file."""
    return os.environ.get("KPI_WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL


def start_date() -> str:
    """First partition day: `KPI_START_DATE`, else the demo quarter's first day."""
    raw = os.environ.get("KPI_START_DATE", "").strip() or DEFAULT_START_DATE
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise SettingError(f"KPI_START_DATE={raw!r} is not a date: write it as YYYY-MM-DD") from None
    return raw


def dataset_dir() -> Path:
    return Path(os.environ.get("KPI_DATASET") or DEMO_DATASET)


def catalog_path() -> Path:
    """`KPI_CATALOG`, else the dataset's metrics.yaml, else the demo catalog at the repo root."""
    explicit = os.environ.get("KPI_CATALOG")
    if explicit:
        return Path(explicit)
    in_dataset = dataset_dir() / "metrics.yaml"
    return in_dataset if os.environ.get("KPI_DATASET") or in_dataset.exists() else Path("metrics.yaml")


def overrides_dir() -> Path:
    """`KPI_OVERRIDES_DIR`, else `overrides/` beside the catalog file (the user's project: metrics.yaml,
    overrides/), where `kpi-pipeline review` writes its decisions and publishing reads them."""
    explicit = os.environ.get("KPI_OVERRIDES_DIR")
    return Path(explicit) if explicit else catalog_path().parent / "overrides"


def llm_resource(backend: str | None = None) -> LlmResource:
    """The LLM resource from `KPI_LLM_*` and `ANTHROPIC_*`; `backend` overrides `KPI_LLM_BACKEND`."""
    from kpi_pipeline.extraction.response_cache import DEFAULT_CACHE_DIR
    from kpi_pipeline.resources.llm import LlmResource

    return LlmResource(
        backend=backend or optional_env("KPI_LLM_BACKEND"),
        api_key=optional_env("ANTHROPIC_API_KEY"),
        base_url=optional_env("ANTHROPIC_BASE_URL"),
        model=optional_env("KPI_LLM_MODEL"),
        batch_min_days=env_int("KPI_LLM_BATCH_MIN_DAYS", 14),
        max_concurrency=env_int("KPI_LLM_MAX_CONCURRENCY", 4),
        requests_per_minute=env_int("KPI_LLM_REQUESTS_PER_MINUTE", 50),
        input_tokens_per_minute=env_int("KPI_LLM_INPUT_TOKENS_PER_MINUTE", 30_000),
        budget_usd=optional_env("KPI_LLM_BUDGET_USD"),
        response_cache_dir=env_or("KPI_LLM_RESPONSE_CACHE_DIR", DEFAULT_CACHE_DIR),
    )


def resource_defs() -> dict[str, Any]:
    """Every resource of the definitions, configured from the environment (see README "Configuration")."""
    from kpi_pipeline.resources.catalog import CatalogResource
    from kpi_pipeline.resources.docs import DocsSource
    from kpi_pipeline.resources.jira import JiraSource
    from kpi_pipeline.resources.slack import SlackSource
    from kpi_pipeline.resources.slack_post import SlackPoster
    from kpi_pipeline.resources.warehouse import DEFAULT_DUCKDB_MEMORY_LIMIT, WarehouseResource

    dataset = dataset_dir()
    return {
        "warehouse": WarehouseResource(
            url=env_or("KPI_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL),
            duckdb_memory_limit=env_or("KPI_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT),
        ),
        "catalog": CatalogResource(
            path=env_or("KPI_CATALOG", str(catalog_path())),
            overrides_dir=env_or("KPI_OVERRIDES_DIR", str(overrides_dir())),
        ),
        "slack": SlackSource(
            source=env_or("KPI_SLACK_SOURCE", str(dataset / "slack")),
            from_dataset=not os.environ.get("KPI_SLACK_SOURCE"),
            token=optional_env("SLACK_BOT_TOKEN"),
            api_url=optional_env("SLACK_API_URL"),
            max_file_mb=env_int("KPI_MAX_SOURCE_FILE_MB", 100),
        ),
        "jira": JiraSource(
            source=env_or("KPI_JIRA_SOURCE", str(dataset / "jira")),
            url=optional_env("JIRA_URL"),
            email=optional_env("JIRA_EMAIL"),
            api_token=optional_env("JIRA_API_TOKEN"),
            jql=optional_env("JIRA_JQL"),
            from_dataset=not os.environ.get("KPI_JIRA_SOURCE"),
            state_dir=env_or("KPI_JIRA_STATE_DIR", "data/jira_state"),
        ),
        "docs": DocsSource(
            source=env_or("KPI_DOCS_SOURCE", str(dataset / "docs")),
            from_dataset=not os.environ.get("KPI_DOCS_SOURCE"),
        ),
        "llm": llm_resource(),
        "slack_poster": SlackPoster(
            token=optional_env("SLACK_BOT_TOKEN"),
            api_url=optional_env("SLACK_API_URL"),
            digest_channel=optional_env("KPI_DIGEST_SLACK_CHANNEL"),
        ),
    }
