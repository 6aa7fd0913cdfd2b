"""Where configuration comes from: environment variables, with defaults for the embedded demo.

A variable that is set is passed to resources as a Dagster `EnvVar`, so its value is read at run time
and secrets never land in run config. `KPI_DATASET` names a dataset folder (slack/, jira/, docs/,
metrics.yaml) and supplies every source default at once; explicit variables win over it.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import EnvVar


class SettingError(ValueError):
    """An environment variable holds a value the pipeline cannot use; the message names it and the fix."""


DEMO_DATASET = "data/demo"
DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"


def env_or(name: str, default: str) -> str:
    """`EnvVar(name)` when the variable is set, else the default (resolved when definitions load)."""
    return EnvVar(name) if os.environ.get(name) else default


def env_int(name: str, default: int) -> int:
    """`EnvVar.int(name)` when the variable is set, else the default."""
    return EnvVar.int(name) if os.environ.get(name) else default


def optional_env(name: str) -> str | None:
    return EnvVar(name) if os.environ.get(name) else None


def dataset_dir() -> Path:
    return Path(os.environ.get("KPI_DATASET") or DEMO_DATASET)


def catalog_path() -> Path:
    """`KPI_CATALOG`, else the dataset's metrics.yaml, else the demo catalog at the repo root."""
    explicit = os.environ.get("KPI_CATALOG")
    if explicit:
        return Path(explicit)
    in_dataset = dataset_dir() / "metrics.yaml"
    return in_dataset if os.environ.get("KPI_DATASET") or in_dataset.exists() else Path("metrics.yaml")
