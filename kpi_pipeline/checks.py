"""Asset checks: the quality gate (blocking) on metric_values, and the anomaly triage (WARN) on fct_metric_daily.

The quality gate is a blocking, daily-partitioned asset check on metric_values.

Partitioned so the Dagster UI records a result per day for daily runs (one partition per run). A
single-run backfill over a range runs the check once for the whole range, and Dagster records that one
result on every day of the range (an op cannot emit one check result per partition). So the check blocks
only on what makes the whole range untrustworthy (the table's schema, duplicate rows, rows without a
day): ERROR, and kpi_daily does not run. A problem confined to some days (a quarantine rate above
`KPI_MAX_QUARANTINE_RATE`, too many unread answers, a structural problem in that day's rows) must not
hold back the good days, so it is WARN (does not block): the days held back and why are listed one row
per day in the `per_day` metadata table, and kpi_daily holds exactly those days back. The range is read and
validated a month of days at a time, as kpi_daily publishes it (warehouse.publish.gate_range), so the check's
memory does not grow with the range.

The check only reads. Publishing (kpi_daily) re-applies the same gate and writes published rows and
quarantine in one transaction per day, so the quarantine table always matches what was published.
kpi_daily then reports its per-day outcome in its own check `days_published` (ERROR severity, not
blocking, so later assets still get the good days): it fails when any day was held back or kept
previous versions of unread values.

Outcome: ERROR on a range-wide problem; WARN when days or rows were held back; passed otherwise.

The anomaly triage only warns: a jump is a question for a person (see kpi_pipeline.insights.anomaly), never a
reason to hold a value back, so it runs after publishing and blocks nothing.
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

from kpi_pipeline.insights.anomaly import (
    LIKELY_EXTRACTION,
    WINDOW_DAYS,
    Z_THRESHOLD,
    anomalies_markdown,
    find_anomalies,
)
from kpi_pipeline.insights.reads import read_series
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.quality.gate import GateResult, days_markdown, held_back_markdown
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.publish import gate_range

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
    gate = gate_range(warehouse.get_warehouse(), catalog.load(), days)
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


FCT_METRIC_DAILY_KEY = AssetKey("fct_metric_daily")


@asset_check(
    asset=FCT_METRIC_DAILY_KEY,
    name="anomaly_triage",
    blocking=False,
    partitions_def=daily_partitions,
    description="Robust z over each metric's previous 28 days flags jumps (WARN, never blocks) and labels each "
    "likely real (independent sources agree) or likely extraction (one source, a conflict, or a change of model, "
    "prompt or catalog). See docs/insights.md.",
)
def fct_metric_daily_anomaly_triage(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    days = check_days(context)
    flagged = find_anomalies(read_series(warehouse.get_warehouse(), days[0], days[-1]), days)
    extraction = sum(a.label == LIKELY_EXTRACTION for a in flagged)
    return AssetCheckResult(
        passed=not flagged,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{len(flagged)} value(s) jump out of their series: {extraction} likely extraction, "
            f"{len(flagged) - extraction} likely real"
            if flagged
            else "no published value jumps out of its series"
        ),
        metadata={
            "flagged": MetadataValue.int(len(flagged)),
            "likely_extraction": MetadataValue.int(extraction),
            "likely_real": MetadataValue.int(len(flagged) - extraction),
            "anomalies": MetadataValue.md(anomalies_markdown(flagged)),
            "z_threshold": MetadataValue.float(Z_THRESHOLD),
            "window_days": MetadataValue.int(WINDOW_DAYS),
        },
    )
