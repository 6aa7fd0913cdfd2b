"""The one Definitions object: assets, checks, resources, schedules, sensors.

Configuration comes from environment variables (see README "Configuration"); unset ones fall back to
the embedded demo: DuckDB under data/, the demo company's dataset, the offline extractor.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    Definitions,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
    load_assets_from_modules,
)

from kpi_pipeline import checks, settings
from kpi_pipeline.assets import dashboard, digest, extract, ingest, publish
from kpi_pipeline.orchestration.alerts import kpi_alerts
from kpi_pipeline.orchestration.schedules import build_daily_schedule, daily_kpi_job

resources = settings.resource_defs()

# the digest has its own job: a digest or Slack failure never touches the daily job's publishing
weekly_digest_job = define_asset_job(
    "weekly_digest_job",
    selection=AssetSelection.assets(digest.weekly_digest),
    description="The weekly digest of the week that ended: stored in kpi.weekly_digest, posted to Slack if set.",
)

defs = Definitions(
    assets=load_assets_from_modules([ingest, extract, publish, dashboard, digest]),
    asset_checks=[checks.metric_values_quality_gate, checks.fct_metric_daily_anomaly_triage],
    resources=resources,
    jobs=[daily_kpi_job, weekly_digest_job],
    schedules=[build_daily_schedule(), build_schedule_from_partitioned_job(weekly_digest_job, hour_of_day=6)],
    sensors=[kpi_alerts],
    # one process per run: steps are short and sequential anyway (DuckDB has one writer), while a process
    # per step would pay several seconds of imports each on a small machine
    executor=in_process_executor,
)
