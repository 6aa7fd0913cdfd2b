"""Raw rows become citable SourceDocs with stable ids; system messages and silent rows are dropped."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from kpi_pipeline.extraction.source_docs import docs_docs, jira_docs, slack_docs, split_sections
from kpi_pipeline.warehouse.tables import RAW_DOCS, RAW_JIRA_EVENTS, RAW_JIRA_ISSUES, RAW_SLACK_MESSAGES

DAY = date(2026, 7, 3)
NOW = datetime(2026, 7, 4, tzinfo=UTC)


def frame(table_columns: list[str], rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([{c: row.get(c) for c in table_columns} for row in rows], columns=table_columns)


def test_slack_messages_skip_system_subtypes_and_empty_text() -> None:
    rows = frame(
        RAW_SLACK_MESSAGES.column_names,
        [
            {
                "channel_id": "C1",
                "channel_name": "engineering",
                "ts": "1783069200.000100",
                "text": "error rate 3%",
                "permalink": "https://x.slack.com/archives/C1/p1783069200000100",
                "day": DAY,
            },
            {
                "channel_id": "C1",
                "channel_name": "engineering",
                "ts": "1783069100.000200",
                "subtype": "channel_join",
                "text": "<@U1> has joined the channel",
                "day": DAY,
            },
            {
                "channel_id": "C1",
                "channel_name": "engineering",
                "ts": "1783069300.000300",
                "subtype": "bot_message",
                "text": "deploys today: 12",
                "day": DAY,
            },
            {"channel_id": "C1", "channel_name": "engineering", "ts": "1783069400.000400", "text": "", "day": DAY},
        ],
    )
    docs = slack_docs(rows)
    assert [d.source_id for d in docs] == ["slack:C1:1783069200.000100", "slack:C1:1783069300.000300"]
    first = docs[0]
    assert first.source_type == "slack" and first.channel == "engineering"
    assert first.observed_at == datetime.fromtimestamp(1783069200.0001, tz=UTC)
    assert first.url == "https://x.slack.com/archives/C1/p1783069200000100"


def test_jira_comments_and_issues_created_that_day() -> None:
    issues = frame(
        RAW_JIRA_ISSUES.column_names,
        [
            {
                "issue_key": "OPS-1",
                "summary": "Track API reliability",
                "description": "old",
                "created_at": pd.Timestamp("2026-06-01T10:00:00Z"),
                "url": "https://j/browse/OPS-1",
                "day": DAY,
            },
            {
                "issue_key": "PLAT-12",
                "summary": "Error rate spike",
                "description": "error rate hit 7% at noon",
                "created_at": pd.Timestamp("2026-07-03T12:30:00Z"),
                "url": "https://j/browse/PLAT-12",
                "day": DAY,
            },
        ],
    )
    events = frame(
        RAW_JIRA_EVENTS.column_names,
        [
            {
                "event_id": "OPS-1:comment:10020",
                "issue_key": "OPS-1",
                "event_type": "comment",
                "body": "Update: error rate is 3.1% today.",
                "occurred_at": pd.Timestamp("2026-07-03T15:00:00Z"),
                "day": DAY,
            },
            {
                "event_id": "OPS-1:555:0",
                "issue_key": "OPS-1",
                "event_type": "status_change",
                "field": "status",
                "to_value": "Done",
                "occurred_at": pd.Timestamp("2026-07-03T16:00:00Z"),
                "day": DAY,
            },
        ],
    )
    docs = jira_docs(issues, events, DAY)
    assert [d.source_id for d in docs] == ["jira:PLAT-12", "jira:OPS-1#comment-10020"]
    created, comment = docs
    assert created.text == "Error rate spike\n\nerror rate hit 7% at noon"
    assert comment.title == "Track API reliability" and comment.channel == "OPS"
    assert comment.url == "https://j/browse/OPS-1"
    assert comment.observed_at == datetime(2026, 7, 3, 15, tzinfo=UTC)


def test_short_docs_are_one_source_long_docs_are_sections() -> None:
    long_text = "# Status\nintro\n\n## Metrics\n" + "- error rate: 3%\n" * 150 + "\n## Risks\n" + "none\n" * 10
    rows = frame(
        RAW_DOCS.column_names,
        [
            {
                "path": "status/2026-w27.md",
                "revision": "abc123",
                "title": "W27",
                "text": "- error rate: 3%",
                "day": DAY,
            },
            {"path": "review/july.md", "revision": "def456", "title": None, "text": long_text, "day": DAY},
        ],
    )
    docs = docs_docs(rows)
    assert docs[0].source_id == "docs:status/2026-w27.md@abc123"
    assert docs[0].observed_at == datetime(2026, 7, 3, tzinfo=UTC)
    sections = [d for d in docs if d.channel == "review/july.md"]
    assert len(sections) > 1
    assert [d.source_id for d in sections][:2] == ["docs:review/july.md@def456#1", "docs:review/july.md@def456#2"]
    assert all(d.text in long_text for d in sections)
    assert sections[0].title == "review/july.md"


def test_split_sections_keeps_every_line_verbatim() -> None:
    text = "## A\n" + "alpha line\n" * 50 + "## B\n" + "beta line\n" * 50 + "## C\nend\n"
    sections = split_sections(text, max_chars=400)
    assert all(s in text for s in sections)
    assert sum(s.count("line") for s in sections) == 100
    assert all(len(s) <= 400 for s in sections)


def test_no_rows_no_docs() -> None:
    assert slack_docs(pd.DataFrame()) == []
    assert jira_docs(pd.DataFrame(), pd.DataFrame(), DAY) == []
    assert docs_docs(pd.DataFrame()) == []
