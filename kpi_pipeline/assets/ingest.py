"""Ingestion assets: Slack, Jira and docs into the raw schema, one transaction per day.

Each day is replaced as a whole, so a re-run or a retry never duplicates rows, and a failure leaves the
day as it was. Backfills run as a single run over the range (process start and imports cost seconds here).

A source that is not configured (`none`, or a dataset without its folder) is skipped: nothing is read,
written or deleted. A source that yields nothing for a day its table already holds has vanished rather
than gone quiet: that day is kept, the days with data are still written, and the step then fails naming
the source and the days, unless `KPI_ALLOW_EMPTY` names the source (sources/vanished.py).
"""

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from kpi_pipeline.assets.partition_days import days_of, span
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.sources.jira_spans import SPAN_COLUMNS, copy_day_sql
from kpi_pipeline.sources.read_ahead import read_ahead
from kpi_pipeline.sources.vanished import allowed_empty, refusal
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.tables import RAW_DOCS, RAW_JIRA_EVENTS, RAW_JIRA_ISSUES, RAW_SLACK_MESSAGES, Table

SINGLE_RUN = BackfillPolicy.single_run()


def _stamp(df: pd.DataFrame, now: datetime) -> pd.DataFrame:
    return df.assign(ingested_at=now)


def _held_days(wh: Warehouse, source: str, tables: list[Table], days: list[date]) -> set[date]:
    """The days of `days` that `tables` already hold rows for, unless KPI_ALLOW_EMPTY lets `source` empty them."""
    if source in allowed_empty(os.environ.get("KPI_ALLOW_EMPTY")):
        return set()
    held: set[date] = set()
    for table in tables:
        found = wh.query_df(
            f"SELECT DISTINCT {table.partition_column} AS day FROM {table.qualified} "
            f"WHERE {table.partition_column} BETWEEN ? AND ?",
            [days[0], days[-1]],
        )
        held.update(pd.to_datetime(found["day"]).dt.date)
    return held


def _skipped(context: AssetExecutionContext, reason: str) -> dict[str, MetadataValue]:
    """Log why a source is skipped; the metadata of its (empty) materialization."""
    context.log.info(reason)
    return {
        "dagster/row_count": MetadataValue.int(0),
        "skipped": MetadataValue.text(reason),
        "days": MetadataValue.text(span(days_of(context))),
    }


def _noted(context: AssetExecutionContext, source: str, notes: dict[str, int]) -> dict[str, MetadataValue]:
    """Log what the source set aside (when anything was); the counts as metadata either way."""
    found = {name: count for name, count in notes.items() if count}
    if found:
        context.log.warning(
            f"{source}: " + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in found.items())
        )
    return {name: MetadataValue.int(count) for name, count in notes.items()}


def _load_days(
    context: AssetExecutionContext,
    wh: Warehouse,
    table: Table,
    fetch: Callable[[date], pd.DataFrame],
    source: str,
    location: str,
) -> tuple[int, list[pd.DataFrame]]:
    """Fetch and replace each day in turn, logging progress; returns rows written and a sample of frames.

    A day the source yields nothing for while the table holds rows is kept, and the step fails at the end.
    """
    days = days_of(context)
    now = datetime.now(UTC)
    total = 0
    samples: list[pd.DataFrame] = []
    refused: list[date] = []
    with wh.session():
        held = _held_days(wh, source, [table], days)
        for i, (day, df) in enumerate(read_ahead(fetch, days), start=1):
            if df.empty and day in held:
                refused.append(day)
                continue
            total += wh.replace_days(table, [day], _stamp(df, now))
            if len(samples) < 3 and not df.empty:
                samples.append(df)
            if len(days) > 1 and (i % 10 == 0 or i == len(days)):
                context.log.info(f"{table.qualified}: {i}/{len(days)} days, {total} rows so far")
    if refused:
        raise refusal(source, location, table.qualified, refused)
    return total, samples


def _preview(frames: list[pd.DataFrame], columns: list[str], rows: int = 5) -> MetadataValue:
    if not frames:
        return MetadataValue.md("_no rows_")
    sample = pd.concat(frames).head(rows)[columns].copy()
    for col in sample.columns:
        sample[col] = sample[col].astype(str).str.slice(0, 80).str.replace("|", "\\|").str.replace("\n", " ")
    return MetadataValue.md(sample.to_markdown(index=False))


@asset(
    kinds={"slack"},
    description="Every Slack message of the day (raw.slack_messages).",
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
)
def raw_slack_messages(
    context: AssetExecutionContext, slack: SlackSource, warehouse: WarehouseResource
) -> MaterializeResult:
    skip = slack.skip_reason()
    if skip is not None:
        return MaterializeResult(metadata=_skipped(context, skip))
    wh = warehouse.get_warehouse()
    subtypes: Counter[str] = Counter()
    channels: set[str] = set()

    def fetch(day: date) -> pd.DataFrame:
        df = slack.messages_for_day(day)
        subtypes.update(df["subtype"].fillna("(message)").astype(str))
        channels.update(df["channel_name"].dropna().astype(str))
        return df

    total, samples = _load_days(context, wh, RAW_SLACK_MESSAGES, fetch, "slack", slack.location())
    return MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "days": span(days_of(context)),
            "channels": len(channels),
            "subtypes": MetadataValue.json(dict(subtypes.most_common())),
            "table": RAW_SLACK_MESSAGES.qualified,
            "warehouse": warehouse.display_url,
            "preview": _preview(samples, ["channel_name", "ts", "subtype", "text"]),
            **_noted(context, "slack", slack.notes()),
        }
    )


@multi_asset(
    specs=[
        AssetSpec("raw_jira_issues", kinds={"jira"}, description="State of every issue at the end of the day."),
        AssetSpec("raw_jira_events", kinds={"jira"}, description="Creations, transitions and comments of the day."),
    ],
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
)
def raw_jira(
    context: AssetExecutionContext, jira: JiraSource, warehouse: WarehouseResource
) -> tuple[MaterializeResult, MaterializeResult]:
    """Issues and events come from one pass over the same search results, so they are one step."""
    skip = jira.skip_reason()
    if skip is not None:
        metadata = _skipped(context, skip)
        return (
            MaterializeResult(asset_key=AssetKey("raw_jira_issues"), metadata=metadata),
            MaterializeResult(asset_key=AssetKey("raw_jira_events"), metadata=metadata),
        )
    wh = warehouse.get_warehouse()
    days = days_of(context)
    now = datetime.now(UTC)
    n_issues = n_events = 0
    event_types: Counter[str] = Counter()
    samples: list[pd.DataFrame] = []
    refused: list[date] = []
    spans = jira.spans(days[-1])
    notes = jira.notes(days[-1])
    with wh.session():
        held = _held_days(wh, "jira", [RAW_JIRA_ISSUES, RAW_JIRA_EVENTS], days)
        # the issue states are loaded into the engine once; each day copies its rows from there
        with wh.transaction() as tx:
            staged = wh.stage_df(tx, "jira_issue_spans", SPAN_COLUMNS, spans.span_frame(days[0], days[-1]))
        copy_day = copy_day_sql(staged.qualified)
        for i, day in enumerate(days, start=1):
            day_issues, events = spans.issue_count_on(day), spans.events_on(day)
            if not day_issues and events.empty and day in held:
                refused.append(day)
                continue
            with wh.transaction() as tx:  # both tables of a day change together
                wh.lock_partition(tx, RAW_JIRA_ISSUES, [day])
                tx.delete_days(RAW_JIRA_ISSUES, [day])
                tx.delete_days(RAW_JIRA_EVENTS, [day])
                tx.execute(copy_day, [day, now, day.toordinal(), day.toordinal()])
                n_issues += day_issues
                n_events += tx.insert_df(RAW_JIRA_EVENTS, _stamp(events, now))
            event_types.update(events["event_type"].astype(str))
            if len(samples) < 3 and not events.empty:
                samples.append(events)
            if len(days) > 1 and (i % 10 == 0 or i == len(days)):
                context.log.info(f"jira: {i}/{len(days)} days, {n_issues} issue states, {n_events} events")
    del spans
    jira.release()  # the rows are in the warehouse: the rest of the run need not hold the spans
    if refused:
        raise refusal("jira", jira.location(), f"{RAW_JIRA_ISSUES.qualified}/{RAW_JIRA_EVENTS.qualified}", refused)
    common: dict[str, MetadataValue] = {
        "days": MetadataValue.text(span(days)),
        "warehouse": MetadataValue.text(warehouse.display_url),
        **_noted(context, "jira", notes),
    }
    return (
        MaterializeResult(
            asset_key=AssetKey("raw_jira_issues"),
            metadata={"dagster/row_count": n_issues, "table": RAW_JIRA_ISSUES.qualified, **common},
        ),
        MaterializeResult(
            asset_key=AssetKey("raw_jira_events"),
            metadata={
                "dagster/row_count": n_events,
                "table": RAW_JIRA_EVENTS.qualified,
                "event_types": MetadataValue.json(dict(event_types.most_common())),
                "preview": _preview(samples, ["issue_key", "event_type", "to_value", "body"]),
                **common,
            },
        ),
    )


@asset(
    kinds={"markdown"},
    description="Document revisions written on the day (raw.docs).",
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
)
def raw_docs(context: AssetExecutionContext, docs: DocsSource, warehouse: WarehouseResource) -> MaterializeResult:
    skip = docs.skip_reason()
    if skip is not None:
        return MaterializeResult(metadata=_skipped(context, skip))
    wh = warehouse.get_warehouse()
    total, samples = _load_days(context, wh, RAW_DOCS, docs.day_reader(), "docs", docs.location())
    return MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "days": span(days_of(context)),
            "table": RAW_DOCS.qualified,
            "warehouse": warehouse.display_url,
            "preview": _preview(samples, ["path", "title", "day"]),
            **_noted(context, "docs", docs.notes()),
        }
    )
