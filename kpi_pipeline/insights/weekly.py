"""A week's digest end to end without Dagster: read, build, store in kpi.weekly_digest, post or update in Slack.

The row is written before Slack is called, so a Slack failure loses nothing: the digest is in the warehouse and
on the dashboard, and the next run posts it. The message's channel and ts are kept in the row, so computing the
week again edits the same message (chat.update) instead of posting a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from slack_sdk import WebClient

from kpi_pipeline.insights.digest import Digest, build_digest
from kpi_pipeline.insights.digest_text import digest_blocks, digest_markdown, title
from kpi_pipeline.insights.reads import read_digest_inputs
from kpi_pipeline.insights.slack_post import Posted, post_or_update
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema
from kpi_pipeline.warehouse.tables import WEEKLY_DIGEST


@dataclass(frozen=True)
class WeekDone:
    digest: Digest
    text: str
    posted: Posted | None


def previous_message(wh: Warehouse, week_start: date) -> tuple[str, str] | None:
    """(channel id, ts) of the Slack message the week was posted as, if it was."""
    df = wh.query_df(
        f"SELECT slack_channel, slack_ts FROM {WEEKLY_DIGEST.qualified} WHERE week_start = ?", [week_start]
    )
    if df.empty or not df.iat[0, 0] or not df.iat[0, 1]:
        return None
    return str(df.iat[0, 0]), str(df.iat[0, 1])


def _store(
    wh: Warehouse,
    digest: Digest,
    text: str,
    message: tuple[str, str] | None,
    posted_at: datetime | None,
    run_id: str | None,
    now: datetime,
) -> None:
    row = {
        "week_start": digest.week_start,
        "week_end": digest.week_end,
        "digest": digest.to_json(),
        "text": text,
        "slack_channel": message[0] if message else None,
        "slack_ts": message[1] if message else None,
        "posted_at": posted_at,
        "run_id": run_id,
        "computed_at": now,
    }
    wh.replace_days(WEEKLY_DIGEST, [digest.week_start], pd.DataFrame([row]))


def run_week(
    wh: Warehouse,
    week_start: date,
    now: datetime,
    run_id: str | None = None,
    slack: WebClient | None = None,
    channel: str | None = None,
) -> WeekDone:
    """Build and store the week's digest; post it to `channel` (or update its earlier message) when given."""
    ensure_kpi_schema(wh)
    inputs, notes = read_digest_inputs(wh, week_start)
    digest = build_digest(inputs, week_start, notes)
    text = digest_markdown(digest)
    previous = previous_message(wh, week_start)
    stored_at = wh.scalar(f"SELECT posted_at FROM {WEEKLY_DIGEST.qualified} WHERE week_start = ?", [week_start])
    _store(wh, digest, text, previous, stored_at, run_id, now)
    if slack is None or not channel:
        return WeekDone(digest, text, None)
    posted = post_or_update(slack, channel, title(digest), digest_blocks(digest), previous)
    _store(wh, digest, text, (posted.channel, posted.ts), now, run_id, now)
    return WeekDone(digest, text, posted)
