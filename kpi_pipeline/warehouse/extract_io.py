"""Reading a range of raw days and writing a day's extraction: shared by the extract asset and `eval`.

extract.llm_calls is append-only: a rerun adds its calls beside the earlier runs' (money spent stays spent),
while candidates, values and the day's status are replaced.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd

from kpi_pipeline.extraction.pipeline import DayExtraction, RawDay
from kpi_pipeline.quality.gate import max_unread_rate, read_status
from kpi_pipeline.warehouse.engine import Warehouse
from kpi_pipeline.warehouse.tables import (
    DAY_STATUS,
    LLM_CALLS,
    METRIC_CANDIDATES,
    METRIC_VALUES,
    RAW_DOCS,
    RAW_JIRA_EVENTS,
    RAW_JIRA_ISSUES,
    RAW_SLACK_MESSAGES,
    Table,
)

# A day's issue states are every issue open or closed so far, so they grow with the project's age; extraction
# reads only the issues created that day (their text is a source) and those with an event that day (a
# comment's title and link), so only those are read. The day margin around `created_at` keeps every issue
# created on the UTC day whatever the session's time zone; jira_docs picks the exact day.
_ISSUES_EXTRACTION_READS = (
    "(i.created_at >= CAST(i.day AS TIMESTAMP) - INTERVAL '1 day' "
    "AND i.created_at < CAST(i.day AS TIMESTAMP) + INTERVAL '2 days') "
    f"OR i.issue_key IN (SELECT e.issue_key FROM {RAW_JIRA_EVENTS.qualified} e WHERE e.day = i.day)"
)


def read_raw_days(wh: Warehouse, days: list[date]) -> dict[date, RawDay]:
    """The four raw tables' rows for each day that extraction reads, one query per table."""

    def per_day(table: Table) -> dict[date, pd.DataFrame]:
        where = f" AND ({_ISSUES_EXTRACTION_READS})" if table is RAW_JIRA_ISSUES else ""
        sql = f"SELECT * FROM {table.qualified} i WHERE i.day BETWEEN ? AND ?{where} ORDER BY i.day"
        df = wh.query_df(sql, [days[0], days[-1]])
        if df.empty:
            return {}
        df["_day"] = pd.to_datetime(df["day"]).dt.date
        return {d: g.drop(columns="_day").reset_index(drop=True) for d, g in df.groupby("_day")}  # type: ignore[misc]

    slack, issues, events, docs = (per_day(t) for t in (RAW_SLACK_MESSAGES, RAW_JIRA_ISSUES, RAW_JIRA_EVENTS, RAW_DOCS))
    empty = pd.DataFrame()
    return {
        d: RawDay(slack.get(d, empty), issues.get(d, empty), events.get(d, empty), docs.get(d, empty)) for d in days
    }


def day_status_row(day: date, result: DayExtraction, run_id: str, now: datetime, unread_ceiling: float) -> pd.DataFrame:
    """The day's extract.day_status row as extraction leaves it: publish_* are NULL until publish decides."""
    read = result.read
    return pd.DataFrame(
        [
            {
                "day": day,
                "status": read_status(read.metrics, len(read.unread_metrics), unread_ceiling),
                "metrics": read.metrics,
                "unread": len(read.unread_metrics),
                "unread_metrics": json.dumps(list(read.unread_metrics)),
                "catalog_version": read.catalog_version,
                "prompt_version": read.prompt_version,
                "backend": read.backend,
                "model": read.model,
                "extract_run_id": run_id,
                "extracted_at": now,
            }
        ]
    )


def billed_calls(calls: pd.DataFrame, run_id: str, now: datetime) -> pd.DataFrame:
    """The run's calls as extract.llm_calls rows: each call_id is made unique to this write (`@run@time`), so
    rows of earlier runs, and of an earlier attempt of this one, are never replaced."""
    stamp = now.strftime("%Y%m%dT%H%M%S.%f")
    return calls.assign(call_id=[f"{c}@{run_id}@{stamp}" for c in calls["call_id"]], run_id=run_id, called_at=now)


def write_day(
    wh: Warehouse, day: date, result: DayExtraction, run_id: str, now: datetime, unread_ceiling: float | None = None
) -> str:
    """Candidates, values and the day's status replaced, and the run's calls added (extract.llm_calls keeps
    every call ever billed), in one transaction; returns the read status (complete, partial or failed against
    `unread_ceiling`, default `KPI_MAX_UNREAD_RATE`)."""
    status = day_status_row(day, result, run_id, now, max_unread_rate() if unread_ceiling is None else unread_ceiling)
    with wh.transaction() as tx:
        wh.lock_partition(tx, METRIC_VALUES, [day])
        for table, frame, stamp in (
            (METRIC_CANDIDATES, result.candidates, "extracted_at"),
            (METRIC_VALUES, result.values, "computed_at"),
        ):
            tx.delete_days(table, [day])
            tx.insert_df(table, frame.assign(run_id=run_id, **{stamp: now}))
        if not result.calls.empty:
            tx.insert_df(LLM_CALLS, billed_calls(result.calls, run_id, now))
        tx.delete_days(DAY_STATUS, [day])
        tx.insert_df(DAY_STATUS, status)
    return str(status.at[0, "status"])
