"""The weekly digest asset: one ISO week per partition, stored in kpi.weekly_digest and posted to Slack when
`KPI_DIGEST_SLACK_CHANNEL` is set.

Outside the daily job on purpose: it reads what was published and writes only its own table, so a digest or
Slack failure can never hold back publishing. The weekly schedule materializes the week that just ended.
"""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, MetadataValue, asset

from kpi_pipeline.insights.slack_post import SlackPostError
from kpi_pipeline.insights.weekly import run_week
from kpi_pipeline.partitions import weekly_partitions
from kpi_pipeline.resources.slack_post import SlackPoster
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.tables import WEEKLY_DIGEST

READS = ("fct_metric_daily", "fct_metric_evidence", "metric_quarantine", "okr_progress", "dim_metric")


@asset(
    name=WEEKLY_DIGEST.name,
    group_name="report",
    deps=[AssetKey(name) for name in READS],
    partitions_def=weekly_partitions,
    kinds={"sql", "slack"},
    description=WEEKLY_DIGEST.doc,
)
def weekly_digest(
    context: AssetExecutionContext, warehouse: WarehouseResource, slack_poster: SlackPoster
) -> MaterializeResult:
    """Build the week's digest, store it, and post (or update) it in Slack when a channel is configured."""
    week_start = context.partition_time_window.start.date()
    channel = slack_poster.digest_channel
    try:
        client = slack_poster.client("KPI_DIGEST_SLACK_CHANNEL") if channel else None
        done = run_week(warehouse.get_warehouse(), week_start, datetime.now(UTC), context.run_id, client, channel)
    except SlackPostError as exc:
        raise Failure(description=f"the digest of {week_start} is stored but was not posted: {exc}") from None
    d = done.digest
    if done.posted:
        verb = "updated" if done.posted.updated else "posted"
        context.log.info(f"digest of {week_start} {verb} in Slack channel {done.posted.channel} (ts {done.posted.ts})")
    return MaterializeResult(
        metadata={
            "week": f"{d.week_start.isoformat()}...{d.week_end.isoformat()}",
            "objectives": MetadataValue.int(len(d.objectives)),
            "off_track_or_at_risk": MetadataValue.int(
                sum(s.status in ("off_track", "at_risk") for o in d.objectives for s in o.key_results)
            ),
            "conflicts": MetadataValue.int(len(d.conflicts)),
            "quarantined": MetadataValue.int(len(d.quarantined)),
            "restatements": MetadataValue.int(len(d.restatements)),
            "anomalies": MetadataValue.int(len(d.anomalies)),
            "slack": done.posted.ts if done.posted else "not posted (KPI_DIGEST_SLACK_CHANNEL unset)",
            "digest": MetadataValue.md(done.text[:20000]),
        }
    )
