"""Reading raw days for extraction: a day's Jira issue states are every issue so far, so only the ones extraction
uses are read (created that day, or with an event that day), on both engines, and the sources built from them
are the ones all the states give."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from kpi_pipeline.extraction.source_docs import jira_docs
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.extract_io import read_raw_days
from kpi_pipeline.warehouse.tables import RAW_JIRA_EVENTS, RAW_JIRA_ISSUES

DAY = date(2026, 7, 14)
NOW = datetime(2026, 7, 15, 1, tzinfo=UTC)


def issue(key: str, created: datetime) -> dict[str, object]:
    return {
        "issue_key": key,
        "project_key": key.split("-")[0],
        "summary": f"summary of {key}",
        "description": f"p95 latency is 300ms for {key}",
        "created_at": created,
        "url": f"https://jira.example/browse/{key}",
        "day": DAY,
        "ingested_at": NOW,
    }


def test_only_the_issues_extraction_reads_are_read_and_they_make_the_same_sources(warehouse: Warehouse) -> None:
    states = pd.DataFrame(
        [
            issue("PLAT-1", datetime(2026, 7, 14, 23, 59, tzinfo=UTC)),  # created late on the day (UTC)
            issue("PLAT-2", datetime(2026, 5, 2, 9, tzinfo=UTC)),  # old, commented on the day
            issue("PLAT-3", datetime(2026, 5, 3, 9, tzinfo=UTC)),  # old, nothing happened to it
            issue("PLAT-4", datetime(2026, 7, 13, 23, 59, tzinfo=UTC)),  # the day before, nothing since
            issue("PLAT-5", datetime(2026, 7, 15, 0, 0, tzinfo=UTC)),  # created after the day's end
        ],
        columns=RAW_JIRA_ISSUES.column_names,
    )
    events = pd.DataFrame(
        [
            {
                "event_id": "PLAT-2:comment:10020",
                "issue_key": "PLAT-2",
                "event_type": "comment",
                "body": "error rate is 2% after the fix",
                "occurred_at": datetime(2026, 7, 14, 10, tzinfo=UTC),
                "day": DAY,
                "ingested_at": NOW,
            }
        ],
        columns=RAW_JIRA_EVENTS.column_names,
    )
    warehouse.replace_days(RAW_JIRA_ISSUES, [DAY], states)
    warehouse.replace_days(RAW_JIRA_EVENTS, [DAY], events)

    raw = read_raw_days(warehouse, [DAY])[DAY]

    read = set(raw.jira_issues["issue_key"])
    assert {"PLAT-1", "PLAT-2"} <= read and "PLAT-3" not in read
    everything = warehouse.query_df(f"SELECT * FROM {RAW_JIRA_ISSUES.qualified}")
    built = jira_docs(raw.jira_issues, raw.jira_events, DAY)
    assert [d.source_id for d in built] == ["jira:PLAT-2#comment-10020", "jira:PLAT-1"]
    assert built == jira_docs(everything, raw.jira_events, DAY)
