"""Every question `ask` answered, recorded in `extract.ask_log` with its tool calls, tokens and cost."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pandas as pd

from kpi_pipeline.ask.answer import Answer
from kpi_pipeline.ask.claude import Conversation
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.duckdb_engine import DuckDBWarehouse
from kpi_pipeline.warehouse.tables import ASK_LOG

# how long a question waits for a DuckDB writer (a running backfill) before giving up on recording it
RECORD_LOCK_TIMEOUT_S = 10.0


def record_answer(
    url: str,
    question: str,
    backend: str,
    answer: Answer,
    conversation: Conversation,
    asked_at: datetime,
    *,
    lock_timeout_s: float = RECORD_LOCK_TIMEOUT_S,
) -> str:
    """Append one row to extract.ask_log on the warehouse `url` names; returns its ask_id. Raises
    WarehouseError when the warehouse cannot be written (a DuckDB writer holding it past `lock_timeout_s`)."""
    ask_id = uuid.uuid4().hex
    usage = conversation.usage
    row = {
        "ask_id": ask_id,
        "day": asked_at.date(),
        "asked_at": asked_at,
        "question": question,
        "backend": backend,
        "model": conversation.model,
        "answer": answer.text,
        "answered": answer.answered,
        "shape": answer.shape,
        "tool_calls": json.dumps(conversation.tool_calls, default=str),
        "turns": conversation.turns,
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": conversation.cost_usd,
        "stop_reason": conversation.stop_reason,
    }
    warehouse = open_warehouse(url)
    if isinstance(warehouse, DuckDBWarehouse):
        warehouse.lock_timeout_s = lock_timeout_s
    warehouse.ensure_tables([ASK_LOG])
    with warehouse.transaction() as tx:
        tx.insert_df(ASK_LOG, pd.DataFrame([row], columns=ASK_LOG.column_names))
    return ask_id
