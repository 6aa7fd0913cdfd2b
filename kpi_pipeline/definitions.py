"""The one Definitions object: assets, checks, resources, schedules.

Configuration comes from environment variables (see README "Configuration"); unset ones fall back to
the embedded demo: DuckDB under data/, the demo company's dataset, the offline extractor.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor, load_assets_from_modules

from kpi_pipeline import checks, settings
from kpi_pipeline.assets import dashboard, extract, ingest, publish
from kpi_pipeline.orchestration.schedules import build_daily_schedule, daily_kpi_job

resources = settings.resource_defs()

defs = Definitions(
    assets=load_assets_from_modules([ingest, extract, publish, dashboard]),
    asset_checks=[checks.metric_values_quality_gate, checks.fct_metric_daily_anomaly_triage],
    resources=resources,
    jobs=[daily_kpi_job],
    schedules=[build_daily_schedule()],
    # one process per run: steps are short and sequential anyway (DuckDB has one writer), while a process
    # per step would pay several seconds of imports each on a small machine
    executor=in_process_executor,
)
