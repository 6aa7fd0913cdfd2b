"""The quality gate as a blocking, daily-partitioned asset check on metric_values.

Partitioned so the Dagster UI records a result per day for daily runs (one partition per run). A
single-run backfill over a range runs the check once for the whole range, and Dagster records that one
result on every day of the range (an op cannot emit one check result per partition). So the check blocks
only on what makes the whole range untrustworthy (the table's schema, duplicate rows, rows without a
day): ERROR, and kpi_daily does not run. A problem confined to some days (a quarantine rate above
`KPI_MAX_QUARANTINE_RATE`, too many unread answers, a structural problem in that day's rows) must not
hold back the good days, so it is WARN (does not block): the days held back and why are listed one row
per day in the `per_day` metadata table, and kpi_daily holds exactly those days back.

The check only reads. Publishing (kpi_daily) re-applies the same gate and writes published rows and
quarantine in one transaction per day, so the quarantine table always matches what was published.
kpi_daily then reports its per-day outcome in its own check `days_published` (ERROR severity, not
blocking, so later assets still get the good days): it fails when any day was held back or kept
previous versions of unread values.

Outcome: ERROR on a range-wide problem; WARN when days or rows were held back; passed otherwise.
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
from kpi_pipeline.quality.gate import GateResult, days_markdown, held_back_markdown, run_gate
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
        "unread": MetadataValue.int(sum(d.unread for d in gate.days)),
        "held_days": MetadataValue.int(len(gate.held_days)),
        "per_day": MetadataValue.md(days_markdown(gate)),
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
    if gate.blocked:
        description = "blocked publishing of the range: " + "; ".join(gate.structural)
        severity = AssetCheckSeverity.ERROR
    elif gate.held_days:
        reasons = "; ".join(f"{d.isoformat()}: {why}" for d, why in gate.held_days.items())
        description = f"{len(gate.held_days)} of {len(gate.days)} day(s) held back, the others may publish: {reasons}"
        severity = AssetCheckSeverity.WARN
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
