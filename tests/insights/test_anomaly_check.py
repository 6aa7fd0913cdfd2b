"""The anomaly triage runs as a WARN asset check on kpi.fct_metric_daily and lists what it flagged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from dagster import AssetCheckSeverity, AssetKey, BackfillPolicy, asset, materialize

from kpi_pipeline.checks import fct_metric_daily_anomaly_triage
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema
from kpi_pipeline.warehouse.tables import FCT_METRIC_DAILY, FCT_METRIC_EVIDENCE

START = date(2026, 7, 1)
JUMP = START + timedelta(days=20)


def plant(wh: Warehouse) -> None:
    """Two quiet metrics over 20 days, then a jump each: one backed by Slack and Jira, one read by a new prompt."""
    facts, evidence = [], []
    for metric_id in ("signups", "error_rate"):
        for i in range(21):
            day = START + timedelta(days=i)
            jumped = day == JUMP
            facts.append(
                {
                    "metric_id": metric_id,
                    "day": day,
                    "value": 30.0 if jumped else 10.0 + (0.2 if i % 2 else -0.2),
                    "confidence": 0.9,
                    "status": "ok",
                    "n_sources": 2,
                    "model": "offline-1",
                    "prompt_version": "v4" if jumped and metric_id == "error_rate" else "v3",
                    "run_id": "r1",
                    "published_at": datetime(2026, 8, 1, tzinfo=UTC),
                }
            )
            for n, source_type in enumerate(("slack", "jira"), start=1):
                evidence.append(
                    {
                        "metric_id": metric_id,
                        "day": day,
                        "evidence_no": n,
                        "source_type": source_type,
                        "source_id": f"{source_type}-{i}",
                        "url": f"https://example.com/{source_type}/{i}",
                        "quote": f"{metric_id} is {facts[-1]['value']:g}",
                    }
                )
    ensure_kpi_schema(wh)
    with wh.transaction() as tx:
        tx.insert_df(FCT_METRIC_DAILY, pd.DataFrame(facts))
        tx.insert_df(FCT_METRIC_EVIDENCE, pd.DataFrame(evidence))


@asset(key=AssetKey("fct_metric_daily"), partitions_def=daily_partitions, backfill_policy=BackfillPolicy.single_run())
def fct_metric_daily() -> None:
    """Stands in for publishing: the rows were planted before the run."""


def test_the_check_warns_with_each_flagged_jump_and_its_label(duckdb_url: str) -> None:
    plant(open_warehouse(duckdb_url))
    result = materialize(
        [fct_metric_daily, fct_metric_daily_anomaly_triage],
        resources={"warehouse": WarehouseResource(url=duckdb_url)},
        partition_key=JUMP.isoformat(),
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed, evaluation.severity) == (
        "anomaly_triage",
        False,
        AssetCheckSeverity.WARN,
    )
    assert evaluation.metadata["likely_real"].value == evaluation.metadata["likely_extraction"].value == 1
    table = str(evaluation.metadata["anomalies"].value)
    assert "| signups | 2026-07-21 | 30 | " in table and "| likely real | 2 independent source types" in table
    assert "| error_rate | 2026-07-21 | 30 | " in table and "prompt version v3 -> v4" in table

    quiet = materialize(
        [fct_metric_daily, fct_metric_daily_anomaly_triage],
        resources={"warehouse": WarehouseResource(url=duckdb_url)},
        partition_key=(JUMP - timedelta(days=1)).isoformat(),
    )
    (calm,) = quiet.get_asset_check_evaluations()
    assert calm.passed and calm.metadata["flagged"].value == 0
