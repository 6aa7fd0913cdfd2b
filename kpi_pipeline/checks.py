"""The quality gate as a blocking, daily-partitioned asset check on metric_values.

Partitioned so the Dagster UI records a result per day for daily runs (one partition per run). A
single-run backfill over a range checks the whole range at once and records one result for it: a
failure anywhere in the range blocks publishing of the range, because one op cannot block per day.

The check only reads. Publishing (kpi_daily) re-applies the same gate and writes published rows and
quarantine in one transaction per day, so the quarantine table always matches what was published.

Outcome: ERROR (blocks kpi_daily in the same run) on a structural problem or a day whose quarantine
rate exceeds `KPI_MAX_QUARANTINE_RATE`; WARN (does not block) when rows were held back; passed otherwise.
"""

from datetime import date, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.quality.gate import GateResult, held_back_markdown, run_gate
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.publish import read_metric_values

METRIC_VALUES_KEY = AssetKey("metric_values")


def check_days(context: AssetCheckExecutionContext) -> list[date]:
    """The days a check run covers: one for a daily run, the whole range for a single-run backfill."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((end - first).days)]


def gate_metadata(gate: GateResult) -> dict[str, MetadataValue]:
    """Counts per rule, totals, and the held-back rows as a markdown table."""
    metadata: dict[str, MetadataValue] = {
        "rows": MetadataValue.int(sum(d.rows for d in gate.days)),
        "published": MetadataValue.int(sum(d.published for d in gate.days)),
        "quarantined": MetadataValue.int(sum(d.quarantined for d in gate.days)),
        "abstained": MetadataValue.int(sum(d.abstained for d in gate.days)),
        "max_day_quarantine_rate": MetadataValue.float(max((d.quarantine_rate for d in gate.days), default=0.0)),
        "quarantine_rate_ceiling": MetadataValue.float(gate.max_quarantine_rate),
        "held_back": MetadataValue.md(held_back_markdown(gate)),
    }
    for rule, count in gate.rule_counts.items():
        metadata[f"rule:{rule}"] = MetadataValue.int(count)
    if gate.problems:
        metadata["problems"] = MetadataValue.md("\n".join(f"- {p}" for p in gate.problems))
    return metadata


@asset_check(
    asset=METRIC_VALUES_KEY,
    name="quality_gate",
    blocking=True,
    partitions_def=daily_partitions,
    description="GX suite expectations/metric_values.json: structure, confidence, range, evidence, grounding.",
)
def metric_values_quality_gate(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, catalog: CatalogResource
) -> AssetCheckResult:
    days = check_days(context)
    gate = run_gate(read_metric_values(warehouse.get_warehouse(), days), catalog.load(), days)
    held = sum(d.quarantined for d in gate.days)
    if not gate.passed:
        description = "blocked publishing: " + "; ".join(gate.problems)
        severity = AssetCheckSeverity.ERROR
    elif held:
        description = f"{held} row(s) held back in kpi.metric_quarantine; the rest may publish"
        severity = AssetCheckSeverity.WARN
    else:
        description = "every row passed"
        severity = AssetCheckSeverity.WARN
    return AssetCheckResult(
        passed=gate.passed and not held,
        severity=severity,
        description=description[:2000],
        metadata=gate_metadata(gate),
    )
