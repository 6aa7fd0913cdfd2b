"""Resume asks the warehouse being written: a day is done only when `extract.day_status` says every answer was
read with this catalog and prompt, and a later publish published it. Runs on both engines."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.orchestration.resume import UnfinishedDay, done_days, unfinished_days
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.tables import DAY_STATUS

CATALOG, PROMPT = "cat-now", "prompt-now"
EXTRACTED = datetime(2026, 7, 20, 6, 0, tzinfo=UTC)
PUBLISHED = EXTRACTED + timedelta(minutes=5)


def status_row(day: date, **changes: Any) -> dict[str, Any]:
    row = {
        "day": day,
        "status": "complete",
        "metrics": 12,
        "unread": 0,
        "unread_metrics": "[]",
        "catalog_version": CATALOG,
        "prompt_version": PROMPT,
        "backend": "offline",
        "model": "offline",
        "extract_run_id": "run-e",
        "extracted_at": EXTRACTED,
        "publish_status": "published",
        "publish_reason": None,
        "publish_run_id": "run-p",
        "published_at": PUBLISHED,
    }
    return row | changes


def write_status(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    with wh.transaction() as tx:
        tx.insert_df(DAY_STATUS, pd.DataFrame(rows))


def days_from(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def test_a_warehouse_that_was_never_written_has_no_day_done(warehouse: Warehouse) -> None:
    assert done_days(warehouse, days_from(date(2026, 7, 1), 14), CATALOG, PROMPT) == set()


def test_only_complete_days_published_after_their_extraction_with_this_catalog_and_prompt_are_done(
    warehouse: Warehouse,
) -> None:
    d = days_from(date(2026, 7, 1), 8)
    write_status(
        warehouse,
        [
            status_row(d[0]),  # done
            status_row(d[1], status="partial", unread=2, unread_metrics='["a", "b"]'),
            status_row(d[2], status="failed", unread=12),
            status_row(d[3], publish_status="held", publish_reason="quarantine rate 0.8 above 0.5"),
            status_row(d[4], catalog_version="cat-before"),
            status_row(d[5], prompt_version="prompt-before"),
            status_row(d[6], publish_status=None, publish_run_id=None, published_at=None),
            status_row(d[7], published_at=EXTRACTED - timedelta(hours=1)),  # published before a re-extraction
        ],
    )
    assert done_days(warehouse, d, CATALOG, PROMPT) == {d[0]}
    assert done_days(warehouse, d[1:], CATALOG, PROMPT) == set()


def test_the_days_a_run_left_partial_failed_or_held_are_reported_with_their_reason(warehouse: Warehouse) -> None:
    d = days_from(date(2026, 7, 1), 5)
    since = EXTRACTED.timestamp() - 60
    write_status(
        warehouse,
        [
            status_row(d[0]),
            status_row(d[1], status="partial", unread=2, unread_metrics='["api_error_rate", "nps"]'),
            status_row(d[2], status="failed", unread=12, unread_metrics=None, publish_status=None, published_at=None),
            status_row(d[3], publish_status="held", publish_reason="quarantine rate 0.8 above 0.5"),
        ],
    )
    assert unfinished_days(warehouse, d, since) == [
        UnfinishedDay(d[1], "partial", "2 of 12 answers unread (api_error_rate, nps)"),
        UnfinishedDay(d[2], "failed", "12 of 12 answers unread"),
        UnfinishedDay(d[3], "held", "quarantine rate 0.8 above 0.5"),
    ]
    # decisions older than the run being reported are not this run's
    assert unfinished_days(warehouse, d, PUBLISHED.timestamp() + 60) == []


def test_resume_and_report_answer_for_600_days_at_once(warehouse: Warehouse) -> None:
    days = days_from(date(2025, 1, 1), 600)
    rows = [status_row(day) for day in days[::2]]
    rows += [status_row(day, publish_status="held", publish_reason="gate") for day in days[1::2]]
    write_status(warehouse, rows)
    started = time.monotonic()
    assert done_days(warehouse, days, CATALOG, PROMPT) == set(days[::2])
    assert [u.day for u in unfinished_days(warehouse, days, 0.0)] == days[1::2]
    assert time.monotonic() - started < 10
