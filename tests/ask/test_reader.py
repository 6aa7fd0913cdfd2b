"""The ask reader on both engines: checked SELECTs only, read-only, row and time limits; and the ask log."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.ask.answer import Answer
from kpi_pipeline.ask.claude import Conversation
from kpi_pipeline.ask.log import record_answer
from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.ask.run import ask_question
from kpi_pipeline.ask.sql_guard import SqlRefused
from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.extraction.schema import LlmUsage
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog
from kpi_pipeline.warehouse.tables import ASK_LOG, FCT_METRIC_DAILY

REPO = Path(__file__).resolve().parents[2]
PORTABLE = {"varchar": "TEXT", "text": "TEXT", "double": "DOUBLE PRECISION", "double precision": "DOUBLE PRECISION"}
PORTABLE |= {"integer": "INTEGER", "bigint": "BIGINT", "date": "DATE", "boolean": "BOOLEAN"}
PORTABLE |= {"timestamp with time zone": "TIMESTAMPTZ"}
# the ask log's columns: changing them is a change for whoever reads the log (docs/raw_tables.md)
ASK_LOG_SNAPSHOT = (
    "ask_id TEXT, day DATE, asked_at TIMESTAMPTZ, question TEXT, backend TEXT, model TEXT, answer TEXT, "
    "answered BOOLEAN, shape TEXT, tool_calls TEXT, turns INTEGER, input_tokens BIGINT, "
    "cache_creation_input_tokens BIGINT, cache_read_input_tokens BIGINT, output_tokens BIGINT, "
    "cost_usd DOUBLE PRECISION, stop_reason TEXT"
)
# a cross product of 12^9 rows: minutes of work on either engine, and no memory to speak of
LONG_QUERY = "SELECT count(*) FROM " + ", ".join(f"kpi.fct_metric_daily t{i}" for i in range(9))
ATTACKS = [
    "CREATE TABLE kpi.evil AS SELECT 1 AS x",
    "DROP TABLE kpi.fct_metric_daily",
    "DELETE FROM kpi.fct_metric_daily",
    "UPDATE kpi.fct_metric_daily SET value = 0",
    "SELECT 1 FROM kpi.dim_metric; DELETE FROM kpi.fct_metric_daily",
    "COMMIT; DELETE FROM kpi.fct_metric_daily",
    "SELECT * FROM raw.slack_messages",
    "SELECT * FROM extract.llm_calls",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "ATTACH '/tmp/ask-attack.duckdb' AS other",
    "COPY kpi.fct_metric_daily TO '/tmp/ask-attack.csv'",
    "PRAGMA database_list",
    "SET statement_timeout = 0",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT query_to_xml('SELECT * FROM raw.slack_messages', true, false, '')",
]


def publish_days(wh: Warehouse, n: int = 12) -> None:
    """n published values of one metric, as a run leaves them."""
    ensure_kpi_schema(wh)
    rows = pd.DataFrame(
        {
            "metric_id": ["api_error_rate"] * n,
            "day": [date(2026, 7, i + 1) for i in range(n)],
            "value": [3.0 + i / 10 for i in range(n)],
            "confidence": [0.9] * n,
            "status": ["ok"] * n,
            "n_sources": [1] * n,
            "model": ["offline"] * n,
            "prompt_version": ["v1"] * n,
            "run_id": ["r1"] * n,
            "published_at": [datetime(2026, 7, 20, tzinfo=UTC)] * n,
        }
    )
    with wh.transaction() as tx:
        tx.insert_df(FCT_METRIC_DAILY, rows)


def facts(wh: Warehouse) -> list[tuple[object, ...]]:
    return list(wh.query_df("SELECT day, value FROM kpi.fct_metric_daily ORDER BY day").itertuples(index=False))


def test_a_select_returns_rows_up_to_the_row_limit(warehouse: Warehouse, warehouse_url: str) -> None:
    publish_days(warehouse)
    reader = KpiReader(warehouse_url, max_rows=5)
    rows = reader.select("SELECT day, value FROM kpi.fct_metric_daily ORDER BY day")
    assert rows.columns == ["day", "value"]
    assert [(d, float(v)) for d, v in rows.rows] == [(date(2026, 7, i + 1), 3.0 + i / 10) for i in range(5)]
    assert rows.truncated
    assert not reader.select("SELECT count(*) FROM kpi.fct_metric_daily").truncated


@pytest.mark.parametrize("attack", ATTACKS)
def test_statements_that_write_configure_or_leave_kpi_are_refused(
    warehouse: Warehouse, warehouse_url: str, attack: str
) -> None:
    publish_days(warehouse)
    before = facts(warehouse)
    with pytest.raises(SqlRefused):
        KpiReader(warehouse_url).select(attack)
    assert facts(warehouse) == before and len(before) == 12


def test_a_long_running_query_is_stopped_at_the_time_limit(warehouse: Warehouse, warehouse_url: str) -> None:
    publish_days(warehouse)
    reader = KpiReader(warehouse_url, timeout_s=0.5)
    with pytest.raises(SqlRefused, match=r"longer than the 0.5 s limit"):
        reader.select(LONG_QUERY)
    assert reader.select("SELECT count(*) FROM kpi.fct_metric_daily").rows == [(12,)]  # the next query runs


def test_every_question_is_recorded_in_the_ask_log(warehouse: Warehouse, warehouse_url: str) -> None:
    conversation = Conversation("claude-sonnet-5-5", [{"name": "run_sql", "input": {"query": "SELECT 1"}}], 2)
    conversation.usage = LlmUsage(100, 20, 30, 40)
    conversation.cost_usd = 0.0123
    conversation.stop_reason = "end_turn"
    answer = Answer("not in the data: no such metric", False)
    asked_at = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    ask_id = record_answer(warehouse_url, "what is our stock price?", "anthropic", answer, conversation, asked_at)
    row = warehouse.query_df("SELECT * FROM extract.ask_log").to_dict("records")
    assert len(row) == 1
    (logged,) = row
    assert logged["ask_id"] == ask_id and logged["question"] == "what is our stock price?"
    assert (logged["backend"], logged["model"], logged["answered"], logged["turns"]) == (
        "anthropic", "claude-sonnet-5-5", False, 2
    )  # fmt: skip
    assert pd.Timestamp(logged["day"]).date() == date(2026, 10, 1)
    assert json.loads(logged["tool_calls"]) == [{"name": "run_sql", "input": {"query": "SELECT 1"}}]
    tokens = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"]
    assert [int(logged[k]) for k in tokens] == [100, 20, 30, 40]
    assert logged["cost_usd"] == pytest.approx(0.0123)


def test_the_ask_log_has_the_declared_columns_and_types(warehouse: Warehouse) -> None:
    df = warehouse.query_df(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'extract' AND table_name = 'ask_log' ORDER BY ordinal_position"""
    )
    created = ", ".join(f"{c} {PORTABLE.get(str(t).lower(), t)}" for c, t in df.itertuples(index=False))
    assert created == ASK_LOG_SNAPSHOT
    assert ", ".join(f"{c.name} {c.type}" for c in ASK_LOG.columns) == ASK_LOG_SNAPSHOT
    assert ASK_LOG.key == ("ask_id",)


def test_a_question_is_answered_from_the_published_tables_and_recorded_on_both_engines(
    warehouse: Warehouse, warehouse_url: str
) -> None:
    publish_days(warehouse)
    publish_catalog(warehouse, load_catalog(REPO / "metrics.yaml"))
    asked = ask_question("What was the error rate on July 5?", warehouse_url, today=date(2026, 10, 1))
    assert asked.answer.shape == "value_on"
    assert asked.answer.text.startswith("api_error_rate on 2026-07-05: 3.4 percent")
    assert asked.not_recorded is None
    logged = warehouse.query_df("SELECT ask_id, backend, model, shape, answered, turns, cost_usd FROM extract.ask_log")
    assert logged.to_dict("records") == [
        {"ask_id": asked.ask_id, "backend": "offline", "model": "ask-offline-v1", "shape": "value_on",
         "answered": True, "turns": 0, "cost_usd": 0.0}
    ]  # fmt: skip


def test_a_question_is_answered_while_a_pipeline_step_holds_the_duckdb_file(duckdb_url: str) -> None:
    """Reading goes to the reader copy, so it never waits; recording waits for the writer, then says it gave up."""
    wh = open_warehouse(duckdb_url)
    wh.ensure_tables()
    publish_days(wh)
    publish_catalog(wh, load_catalog(REPO / "metrics.yaml"))
    with wh.session():  # a step in progress: the file is open for writing and locked
        asked = ask_question("api_error_rate on 2026-07-03", duckdb_url, today=date(2026, 10, 1), lock_timeout_s=0.2)
    assert asked.answer.answered and asked.answer.text.startswith("api_error_rate on 2026-07-03: 3.2 percent")
    assert asked.ask_id is None and asked.not_recorded and "stayed locked by another process" in asked.not_recorded
    assert wh.scalar("SELECT count(*) FROM extract.ask_log") == 0
